"""Deliveries under TOP faults, one fault kind per delivery, on an in-process local stack over
real HTTP on 127.0.0.1 (the fake TOP gateway scripted per delivery, ``chaos/_fault_plan.py``).

Each test checks, on the gateway's side, that no card was taken twice and that only the
delivery's own cards were sent under its id; and on the table's side, the delivery's final
status, attempts and card outcomes. ``chaos/top_faults.py`` runs the long randomized mix.
"""

from __future__ import annotations

import io
import itertools
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
import requests
from typer.testing import CliRunner

from cardmaker import (
    CardOutcome,
    Delivery,
    DeliveryStatus,
    DynamoDBDeliveryRepository,
    TopOutcomeUnknown,
)
from cardmaker.top import FixedCredentials, TopClient
from cardmaker_cli.main import app
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET
from chaos._fault_plan import FaultPlan, Step
from chaos._top_figures import cards_in_two_deliveries, duplicate_accepted_sends
from local.platform import sample_delivery
from local.serve import write_state
from local.stack import DEMO_SESSION_KEY, LocalStack
from local.top_gateway import CARD_BIND, FakeTopGateway, Fault, RecordedCall
from tests.conftest import send_accepted_order
from tests.reliability.conftest import dlq_list

ORDER_ID = 18001
OWN_SIGN = "daily"
TEMPLATE = "TF01"
READ_TIMEOUT = 1.0  # the functions' TOP read timeout here (TOP_READ_TIMEOUT_SECONDS)
MAX_ATTEMPTS = 5  # the template's StreamMaxRetries (4) + 1
CLIENT_ATTEMPTS = 4  # TopClient's default
_ids = itertools.count(1)
Kind = Literal["eticket", "bind"]
pytestmark = pytest.mark.stack_owns_environment  # its local stack outlives each test


@dataclass(frozen=True)
class Faulty:
    """The local stack with a generated order, and the plan its gateway takes faults from."""

    stack: LocalStack
    plan: FaultPlan
    state: Path

    @property
    def gateway(self) -> FakeTopGateway:
        assert self.stack.top_gateway is not None
        return self.stack.top_gateway

    def deliveries(self) -> DynamoDBDeliveryRepository:
        table = self.stack.stack.physical["DeliveriesTable"]
        return DynamoDBDeliveryRepository(table, self.stack.client("dynamodb"))

    def deliver(
        self, kind: Kind, *steps: Step, then: Fault | None = None, quantity: int = 2
    ) -> tuple[Delivery, list[RecordedCall]]:
        """Create a delivery whose TOP calls meet ``steps`` (then ``then``), wait until the
        streams are idle; return it as stored and the gateway calls made under its id."""
        key = f"RF{next(_ids):04d}"
        ids = {"outer_id": key} if kind == "eticket" else {"out_biz_id": key}
        self.plan.script(key, *steps, then=then)
        body = sample_delivery(
            kind,
            card_order_id=ORDER_ID,
            own_sign=OWN_SIGN,
            template_no=TEMPLATE,
            quantity=quantity,
            **ids,
        )
        answer = requests.post(f"{self.stack.url}/deliveries", json=body, timeout=10)
        assert answer.status_code == 202, answer.text
        self.stack.wait_idle(90)
        delivery = self.deliveries().get(answer.json()["delivery_id"])
        assert delivery is not None
        return delivery, self.calls_of(key)

    def calls_of(self, key: str) -> list[RecordedCall]:
        return [call for call in self.gateway.calls if call.business_id == key]


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    environment = {
        "TOP_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        # The functions print metric lines to stdout, where the CLI's JSON goes.
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    with LocalStack(port=0, log=io.StringIO(), environment=environment) as stack:
        send_accepted_order(stack, ORDER_ID, [(TEMPLATE, 60, "100")], OWN_SIGN)
        stack.wait_idle(60)
        plan = FaultPlan()
        assert stack.top_gateway is not None
        stack.top_gateway.fail_by(plan)
        state = tmp_path_factory.mktemp("top-faults") / "local-stack.json"
        write_state(state, stack)
        yield Faulty(stack, plan, state)


def delivered_once(delivery: Delivery, calls: list[RecordedCall]) -> None:
    """The delivery is DELIVERED, the platform took each of its cards exactly once, under its
    id, and no call under that id carried another card."""
    assert delivery.status is DeliveryStatus.DELIVERED, delivery.failure_reason
    own = [card.card_no for card in delivery.cards]
    assert [card.position for card in delivery.cards] == list(delivery.positions)
    assert sorted(card for call in calls for card in call.accepted) == sorted(own)
    assert duplicate_accepted_sends(calls) == 0
    assert all(sorted(call.cards) == sorted(own) for call in calls)


# --- the gateway's new faults, seen by the TOP client ---------------------------------------


def client_for(gateway: FakeTopGateway) -> TopClient:
    return TopClient(
        gateway.url,
        DEMO_APP_KEY,
        FixedCredentials(DEMO_SECRET, DEMO_SESSION_KEY),
        timeout=(1.0, 1.0),  # the stall below is 2 s; a busy CI machine needs the rest
        sleep=lambda _: None,
    )


def bind_call(client: TopClient, out_biz_id: str, cards: str) -> None:
    dto = {
        "top_app_key": DEMO_APP_KEY,
        "out_biz_id": out_biz_id,
        "card_no_s": cards,
        "card_bind_user_nick": "n",
    }
    client.call(CARD_BIND, {"card_bind_req_dto": json.dumps(dto)})


@pytest.mark.parametrize(
    ("fault", "reason"), [(Fault.stall(2.0), "read timeout"), (Fault.reset(), "connection dropped")]
)
def test_a_stall_or_a_reset_leaves_the_call_unprocessed_and_its_outcome_unknown(fault, reason):
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, DEMO_SESSION_KEY) as gateway:
        gateway.fail_next(fault)
        with client_for(gateway) as client:
            with pytest.raises(TopOutcomeUnknown) as unknown:
                bind_call(client, "B1", "C1,C2")
            bind_call(client, "B1", "C1,C2")
        assert unknown.value.reason == reason
        assert gateway.pending_faults() == 0
        first, second = gateway.calls
        assert (first.processed, first.accepted, first.answer) == (False, (), None)
        assert (second.processed, second.accepted, second.repeated) == (True, ("C1", "C2"), ())


def test_a_reset_is_a_tcp_reset_not_a_clean_close():
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, DEMO_SESSION_KEY) as gateway:
        gateway.fail_next(Fault.reset())
        host, port = gateway.url.split("/")[2].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(
                b"POST /router/rest HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            )
            with pytest.raises(ConnectionResetError):
                connection.recv(1024)
        assert [call.processed for call in gateway.calls] == [False]


def test_the_gateway_recognises_a_repeat_and_counts_what_it_took():
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, DEMO_SESSION_KEY) as gateway:
        gateway.fail_next(Fault.bind_result(invalid=["C3"]))
        with client_for(gateway) as client:
            bind_call(client, "B1", "C1,C2,C3")
            bind_call(client, "B1", "C1,C2")  # a re-send after an unknown outcome
            bind_call(client, "B2", "C2,C4")  # C2 again, under another id: a duplicate
        first, repeat, other = gateway.calls
        assert first.accepted == ("C1", "C2")  # not the invalid C3
        assert (repeat.accepted, repeat.repeated) == ((), ("C1", "C2"))
        assert (other.business_id, other.accepted) == ("B2", ("C2", "C4"))
        assert duplicate_accepted_sends(gateway.calls) == 1


def test_a_schedule_picks_each_calls_fault_from_its_id_and_cards():
    plan = FaultPlan()
    plan.script("B1", Fault.http_status(503), lambda cards: Fault.bind_result(bind_fail=cards[:1]))
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, DEMO_SESSION_KEY) as gateway:
        gateway.fail_by(plan)
        with client_for(gateway) as client:
            bind_call(client, "B2", "C9")
            bind_call(client, "B1", "C1,C2")
        other, unavailable, partial = gateway.calls
        assert (other.fault, other.accepted) == (None, ("C9",))
        assert (unavailable.status, unavailable.processed) == (503, False)
        assert partial.accepted == ("C2",)
        assert plan.calls("B1") == 2


# --- deliveries on the local stack, one fault kind each ---------------------------------------


def test_read_timeout_before_the_platform_processed_the_call(faulty):
    # Given ma.send's first call held past the read timeout, unprocessed
    delivery, calls = faulty.deliver("eticket", Fault.stall(READ_TIMEOUT * 2))
    # Then the stream's second attempt sends the same cards and the platform takes them once
    delivered_once(delivery, calls)
    assert delivery.attempts == 2
    assert [call.processed for call in calls] == [False, True]
    assert calls[1].repeated == ()


def test_read_timeout_after_the_platform_processed_the_call(faulty):
    # Given ma.send's first call taken by the platform but answered after the read timeout
    delivery, calls = faulty.deliver("eticket", Fault.delay(READ_TIMEOUT * 2))
    # Then the re-send carries the same cards under the same outer_id: a recognised repeat
    delivered_once(delivery, calls)
    assert delivery.attempts == 2
    first, second = calls
    assert first.processed
    assert first.accepted
    assert second.repeated == first.accepted
    assert second.accepted == ()
    assert second.params["outer_id"] == first.params["outer_id"]


def test_http_5xx_is_retried_by_the_client_within_one_attempt(faulty):
    delivery, calls = faulty.deliver("bind", Fault.http_status(502), Fault.http_status(503))
    delivered_once(delivery, calls)
    assert delivery.attempts == 1
    assert [call.status for call in calls] == [502, 503, 200]


def test_connection_reset_is_an_unknown_outcome_sent_again(faulty):
    delivery, calls = faulty.deliver("bind", Fault.reset())
    delivered_once(delivery, calls)
    assert delivery.attempts == 2
    assert [call.processed for call in calls] == [False, True]


def test_isp_errors_are_retried_with_backoff(faulty):
    busy = Fault.error(15, "isp.top-remote-connection-timeout")
    delivery, calls = faulty.deliver("eticket", busy, busy)
    delivered_once(delivery, calls)
    assert delivery.attempts == 1
    assert len(calls) == 3


def test_a_rate_limit_burst_longer_than_the_clients_retries(faulty):
    # Given six code-7 answers in a row: the client's four attempts, then two more
    limited = Fault.error(7, msg="App Call Limited")
    delivery, calls = faulty.deliver("eticket", *[limited] * 6)
    # Then the stream's second attempt gets through after two more backed-off retries
    delivered_once(delivery, calls)
    assert delivery.attempts == 2
    assert len(calls) == 7


def test_a_slow_answer_within_the_timeout_is_just_slow(faulty):
    delivery, calls = faulty.deliver("bind", Fault.delay(READ_TIMEOUT / 5))
    delivered_once(delivery, calls)
    assert (delivery.attempts, len(calls)) == (1, 1)


def test_a_partial_bind_is_recorded_per_card_and_not_sent_again(faulty):
    def partial(cards: tuple[str, ...]) -> Fault:
        return Fault.bind_result(invalid=cards[:1], bind_fail=cards[1:2])

    delivery, calls = faulty.deliver("bind", partial, quantity=3)
    assert delivery.status is DeliveryStatus.PARTIAL
    assert [card.outcome for card in delivery.cards] == [
        CardOutcome.INVALID,
        CardOutcome.BIND_FAILED,
        CardOutcome.BOUND,
    ]
    (call,) = calls
    assert call.accepted == (delivery.cards[2].card_no,)


def test_a_refusal_fails_the_delivery_with_the_platforms_code_at_once(faulty):
    refused = Fault.error(15, "isv.invalid-parameter:token", msg="Remote service error")
    delivery, calls = faulty.deliver("eticket", refused)
    assert delivery.status is DeliveryStatus.FAILED
    assert {card.code for card in delivery.cards} == {"isv.invalid-parameter:token"}
    assert (delivery.attempts, len(calls)) == (1, 1)
    assert all(call.accepted == () for call in calls)


def test_exhausted_retries_keep_the_cards_and_redrive_sends_exactly_them(faulty):
    # Given a delivery whose every call is rate limited (a burst that does not end)
    cli = CliRunner()
    limited = Fault.error(7, msg="App Call Limited")
    before = set(failure_messages(faulty))
    failed, calls = faulty.deliver("eticket", then=limited, quantity=3)
    key = failed.request.idempotency_key
    # Then it ends FAILED with the platform's code after every attempt, its cards claimed
    assert failed.status is DeliveryStatus.FAILED
    assert failed.failure_reason == f"gave up after {MAX_ATTEMPTS} attempts: TOP 7"
    assert failed.attempts == MAX_ATTEMPTS
    assert len(calls) == MAX_ATTEMPTS * CLIENT_ATTEMPTS
    assert all(call.accepted == () for call in calls)
    sent = {tuple(call.cards) for call in calls}
    assert len(sent) == 1  # every attempt carried the same cards
    (message_id,) = set(failure_messages(faulty)) - before

    # And no later delivery gets its cards
    later, later_calls = faulty.deliver("eticket", quantity=3)
    assert later.status is DeliveryStatus.DELIVERED
    assert set(later.positions).isdisjoint(failed.positions)
    (held,) = sent
    assert set(later_calls[0].cards).isdisjoint(held)
    assert cards_in_two_deliveries([failed, later]) == 0

    # When the rate limit lifts and the operator redrives the batch with --reopen
    faulty.plan.lift(key)
    result = cli.invoke(
        app,
        [
            *("--local-state", str(faulty.state), "dlq", "redrive", "--queue", "delivery"),
            *("--message-id", message_id, "--reopen", "--json"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    (outcome,) = json.loads(result.stdout)
    assert outcome["result"] == "redriven"
    # Then exactly the cards it held are sent again, under the same outer_id, and taken once
    redriven = faulty.deliveries().get(failed.delivery_id)
    assert redriven is not None
    delivered_once(redriven, faulty.calls_of(key))
    assert redriven.positions == failed.positions
    (last,) = faulty.calls_of(key)[len(calls) :]
    assert {tuple(last.cards)} == sent
    assert message_id not in failure_messages(faulty)
    assert duplicate_accepted_sends(faulty.gateway.calls) == 0


def failure_messages(faulty: Faulty) -> list[str]:
    return [batch["message_id"] for batch in dlq_list(faulty.stack, faulty.state, "delivery")]
