"""Crashes: the generator and the delivery function die mid-batch and the pipeline recovers.

An injected crash (before or after one of the functions' DynamoDB writes or TOP calls) is
retried by the local stream mapping as Lambda would; a SIGKILLed process is replaced by one
that attaches to the same moto server. After either: exact card counts, no duplicate
numbers, no gaps, every delivery final and delivered, no card in two deliveries.
(`make chaos` runs the whole sweep and several kills: chaos/crashes.py.)
"""

from __future__ import annotations

import itertools
import socket
import subprocess
from collections.abc import Iterator

import boto3
import pytest
import requests

from cardmaker_cli.samples import sample_order
from chaos._crash_world import (
    Checker,
    CrashInjector,
    CrashPoint,
    Kill,
    Workload,
    crashing_functions,
    hard_kill_round,
    quiet_stack,
    reset_moto,
    small_workload,
    start_moto_server,
)
from local.platform import sign_demo_call
from local.stack import FAKE_CREDENTIALS, HOST, LocalStack, LocalStackError

_order_ids = itertools.count(61_000)
pytestmark = pytest.mark.stack_owns_environment  # its local stacks outlive the tests


# --- injected crashes ---------------------------------------------------------------------


@pytest.fixture(scope="class")
def crashing_stack() -> Iterator[tuple[LocalStack, CrashInjector, Checker]]:
    """One local stack for the class whose functions crash where the injector says (one
    stack per process: the hard kills below start theirs after this one has stopped)."""
    with quiet_stack() as stack:
        injector = CrashInjector()
        with crashing_functions(injector):
            yield stack, injector, Checker(stack.client("dynamodb"), stack.stack.physical)


class TestInjectedCrashes:
    def test_a_healthy_run_has_the_writes_and_calls_the_sweep_crashes_at(self, crashing_stack):
        stack, injector, checker = crashing_stack
        injector.arm(None)
        workload = small_workload(next(_order_ids))
        ids = workload.send(stack.url)
        stack.wait_idle(60)

        found = checker.check(workload, ids)
        assert (found.broken, found.deliveries_not_delivered, found.cards_checked) == (0, 0, 67)
        # the plan's chunk items (1 BatchWriteItem), the chunks' cards (3 + 1), the counts,
        # 3 claims, the deliveries' status changes...
        assert injector.writes["batch_write_item"] == 5
        assert injector.writes["transact_write_items"] == 3  # the claims
        assert sum(injector.writes.values()) >= 25
        assert injector.top_calls == 3  # one call per delivery

    @pytest.mark.parametrize(
        "point",
        [
            CrashPoint("store", 1, "before"),  # before anything: the plan's reservation
            CrashPoint("store", 2, "after"),  # the order moved to GENERATING, no chunks yet
            CrashPoint("store", 6, "after"),  # among the chunks' card writes
            CrashPoint("store", 12, "before"),  # around the counts, claims, status changes
            CrashPoint("store", 20, "after"),
            CrashPoint("top", 1, "before"),
            CrashPoint("top", 2, "after"),  # the platform took the call; nothing recorded
        ],
        ids=str,
    )
    def test_a_crash_at_this_point_is_recovered_exactly(self, crashing_stack, point):
        stack, injector, checker = crashing_stack
        # Given one crash armed at the point
        injector.arm(point)

        # When an order and three deliveries go through
        workload = small_workload(next(_order_ids))
        ids = workload.send(stack.url)
        stack.wait_idle(60)

        # Then the crash happened, and the retries left everything exact
        assert injector.fired is not None, f"{point} was never reached"
        found = checker.check(workload, ids)
        assert found.problems == []
        assert (found.broken, found.deliveries_not_delivered) == (0, 0)
        assert (found.cards_checked, found.deliveries_checked) == (67, 3)


def test_the_checker_sees_a_gap_a_duplicate_and_a_card_in_two_deliveries():
    """The invariants the crash tests rely on fail when broken."""
    with quiet_stack() as stack:
        workload = small_workload(next(_order_ids))
        ids = workload.send(stack.url)
        stack.wait_idle(60)
        dynamodb = stack.client("dynamodb")
        cards_table = stack.stack.physical["CardsTable"]
        deliveries_table = stack.stack.physical["DeliveriesTable"]
        pk = f"CARD#daily#{workload.card_order_id}#3010030E02#0"
        # a gap: position 7 gone; a duplicate: position 8's number given to position 9
        dynamodb.delete_item(TableName=cards_table, Key={"pk": {"S": pk}, "sk": {"S": "0000007"}})
        eighth = dynamodb.get_item(
            TableName=cards_table, Key={"pk": {"S": pk}, "sk": {"S": "0000008"}}
        )["Item"]
        dynamodb.update_item(
            TableName=cards_table,
            Key={"pk": {"S": pk}, "sk": {"S": "0000009"}},
            UpdateExpression="SET card_no = :no",
            ExpressionAttributeValues={":no": eighth["card_no"]},
        )
        # a card in two deliveries: the first delivery's cards copied onto the third
        first = dynamodb.get_item(
            TableName=deliveries_table,
            Key={"pk": {"S": f"DELIVERY#{ids[0]}"}, "sk": {"S": "DELIVERY"}},
        )["Item"]
        dynamodb.update_item(
            TableName=deliveries_table,
            Key={"pk": {"S": f"DELIVERY#{ids[2]}"}, "sk": {"S": "DELIVERY"}},
            UpdateExpression="SET cards = :cards",
            ExpressionAttributeValues={":cards": first["cards"]},
        )

        found = Checker(dynamodb, stack.stack.physical).check(workload, ids)

    assert (found.gaps, found.count_mismatches, found.duplicates) == (1, 1, 1)
    assert found.cards_in_two_deliveries == 3


# --- hard kills and attaching -------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server in a process of its own (it outlives the stacks that use it)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    server: subprocess.Popen[bytes] = start_moto_server(port)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.kill()
        server.wait()


def test_a_stack_attaches_to_what_a_stopped_one_created(moto_url):
    # Given a stack on the external moto server that received an order, then stopped
    order_id = next(_order_ids)
    with quiet_stack(moto_url=moto_url) as first:
        created = dict(first.stack.physical)
        call = sign_demo_call(sample_order(order_id, "daily", [("3010030E02", 5, "100")]))
        requests.post(call.url(first.url), data=call.body, headers=call.headers, timeout=10)
        first.wait_idle(30)
    try:
        # When another stack attaches to the same server
        with quiet_stack(moto_url=moto_url, attach=True) as second:
            # Then it uses the very same resources, and finds the order generated
            assert second.stack.physical == created
            assert second.moto_url == moto_url
            answer = requests.get(
                f"{second.url}/orders/{order_id}", params={"own_sign": "daily"}, timeout=10
            ).json()
            assert (answer["status"], answer["cards_generated"]) == ("GENERATED", 5)
        # and stopping it left the server's state alone
        still = quiet_stack(moto_url=moto_url, attach=True).start()
        still.stop()
    finally:
        reset_moto(moto_url)


def test_attaching_needs_a_server_with_the_resources(moto_url):
    with pytest.raises(LocalStackError, match="moto_url"):
        LocalStack(attach=True)
    # An empty server: nothing to attach to, and nothing created there either
    with pytest.raises(LocalStackError, match="nothing to attach to"):
        quiet_stack(moto_url=moto_url, attach=True).start()
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    assert dynamodb.list_tables()["TableNames"] == []


def test_a_process_killed_mid_delivery_is_replaced_and_nothing_is_lost(moto_url):
    # Given process 1 (its own local stack) sending an order and three deliveries, with slow
    # TOP answers, SIGKILLed while a delivery is SENDING
    workload = Workload(
        next(_order_ids),
        (("3010030E02", 600, "100"), ("3010030E05", 37, "5000")),
        (("bind", "3010030E02", 150), ("eticket", "3010030E05", 2), ("bind", "3010030E02", 3)),
    )
    result = hard_kill_round(moto_url, workload, Kill("sending", 0.1), top_delay=0.4)

    # Then the kill interrupted the deliveries, and process 2 finished everything exactly
    assert result.phase == "mid-delivery", result.at_kill
    assert result.at_kill.cards == 637
    found = result.findings
    assert found.problems == []
    assert (found.broken, found.deliveries_not_delivered) == (0, 0)
    assert (found.cards_checked, found.deliveries_checked) == (637, 3)
