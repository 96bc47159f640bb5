"""The operator's managed policy (template.yaml ``OperatorPolicy``) against what the
``cardmaker`` commands actually call: every command an operator runs (orders show, made, ship
and list, deliveries create/show/cancel/list, cards export (and its dry run)/show/release, dlq
list/redrive with --reopen on every queue, platform send-order, template-new, status-query,
events, audit) runs against the local stack, every AWS call the command itself makes (not the
functions it reaches) is recorded as (action, resource), every HTTP API route it calls as
execute-api:Invoke, and the policy must grant each of them and nothing else.

The functions run in this process too, but on the local stack's server and poller threads:
only the thread running the command (and the worker threads it starts) is attributed to the
operator.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.client
import pytest
import requests

from cardmaker import (
    PRINT_CLAIM,
    DynamoDBCardRepository,
    DynamoDBDeliveryRepository,
    DynamoDBLifecycleRepository,
    DynamoDBNoticeDeliveryRepository,
    DynamoDBNoticeRepository,
    EticketNotice,
    NoticeState,
    OrderKey,
    PlatformNotice,
)
from cardmaker.store import cards as cards_store
from cardmaker.top import MakeFinishRequest, utc_now
from cardmaker_cli.api import Api
from cardmaker_cli.samples import sample_notice
from local.platform import sample_delivery
from local.stack import LocalStack
from local.template import load_template
from local.top_gateway import CARD_BIND, Fault
from tests.cli.conftest import Cli, json_output
from tests.cli.test_dlq import (  # noqa: F401 (failing_cards, failing_events: fixtures)
    delete_messages,
    failed_events,
    failing_cards,
    failing_events,
    messages,
    send_order,
    stored_order,
)
from tests.policies import as_list, resource_key, transaction_writes

TEMPLATE = load_template()
OPERATOR_ORDER = 17903
POLICY = TEMPLATE["Resources"]["OperatorPolicy"]

# Granted, but no command reaches it on the local stack: each with why (an entry no longer
# granted, or now used, fails).
KNOWN_UNUSED = {
    ("cloudformation:DescribeStacks", "stack"): (
        "`--stack NAME` reads the stack's outputs (cardmaker_cli/target.py _deployed); the"
        " local stack's outputs come from a file, so the test cannot reach it"
    ),
    ("execute-api:Invoke", "HttpApi/$default/GET/failures"): (
        "the console calls it (tests/e2e/test_console.py), no command does"
    ),
}


# API operations whose IAM action has another name (SQS authorises a batch call as the
# single action: there is no sqs:ChangeMessageVisibilityBatch permission).
IAM_ACTIONS = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
}


def iam_routes() -> dict[str, re.Pattern[str]]:
    """The API's IAM routes as execute-api resources ('HttpApi/$default/GET/orders/*'), each
    with the request paths it takes."""
    routes = {}
    for resource in TEMPLATE["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] != "HttpApi" or event["Properties"].get("Auth") is not None:
                continue
            method, path = event["Properties"]["Method"], event["Properties"]["Path"]
            resource_path = re.sub(r"\{\w+\}", "*", path)
            pattern = re.escape(path)
            pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", pattern)
            routes[f"HttpApi/$default/{method}{resource_path}"] = re.compile(f"{method} {pattern}")
    return routes


def granted() -> set[tuple[str, str]]:
    grants = set()
    for statement in POLICY["Properties"]["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                grants.add((action, resource_key(resource)))
    return grants


class OperatorRecorder:
    """The AWS calls and API routes of the commands run under ``recording()``."""

    def __init__(self, stack: LocalStack) -> None:
        self.calls: set[tuple[str, str]] = set()
        self._local = threading.local()
        self._names: dict[str, str] = {}
        for logical, physical in stack.stack.physical.items():
            self._names[physical] = logical
            for attribute, value in stack.stack.attributes.get(logical, {}).items():
                self._names[value] = f"{logical}/stream" if attribute == "StreamArn" else logical
        # A local function's name is its logical id (the stack's CardGeneratorFunctionName...).
        self._names.update({name: name for name in stack.functions})
        self._routes = iam_routes()
        self._iterators: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return getattr(self._local, "active", False)

    def run(self, cli: Cli, *args: str, **kwargs: Any) -> Any:
        self._local.active = True
        try:
            return cli(*args, **kwargs)
        finally:
            self._local.active = False

    def carried(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        active = self.active

        def run(*args: Any, **kwargs: Any) -> Any:
            self._local.active = active
            return fn(*args, **kwargs)

        return run

    def record_route(self, method: str, path: str, iam: bool) -> None:
        if not (self.active and iam):
            return  # the public SPI route: no IAM
        found = [
            name for name, route in self._routes.items() if route.fullmatch(f"{method} {path}")
        ]
        assert len(found) == 1, f"{method} {path}: no IAM route of the template ({found})"
        self.calls.add(("execute-api:Invoke", found[0]))

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if not self.active:
            return
        prefix = {"dynamodbstreams": "dynamodb"}.get(service, service)
        if operation == "TransactWriteItems":
            for action, table in transaction_writes(params):
                self.calls.add((action, self._names[table]))
            return
        action = IAM_ACTIONS.get(f"{prefix}:{operation}", f"{prefix}:{operation}")
        for resource in self._resources(service, params):
            self.calls.add((action, resource))

    def remember_iterators(self, service: str, params: dict[str, Any], answer: Any) -> None:
        """GetRecords names its stream only through the shard iterator: remember whose."""
        if not self.active or service != "dynamodbstreams":
            return
        stream = self._stream_of(params)
        for key in ("ShardIterator", "NextShardIterator"):
            if stream and answer.get(key):
                self._iterators[answer[key]] = stream

    def _stream_of(self, params: dict[str, Any]) -> str | None:
        if "StreamArn" in params:
            return self._names[params["StreamArn"]]
        if "ShardIterator" in params:
            return self._iterators[params["ShardIterator"]]
        if "TableName" in params:
            return self._names[params["TableName"]] + "/stream"
        return None

    def _resources(self, service: str, params: dict[str, Any]) -> list[str]:
        if service == "dynamodb":
            tables = (
                [params["TableName"]] if "TableName" in params else list(params["RequestItems"])
            )
            suffix = f"/index/{params['IndexName']}" if "IndexName" in params else ""
            return [self._names[table] + suffix for table in tables]
        if service == "dynamodbstreams":
            stream = self._stream_of(params)
            assert stream is not None, f"a streams call without a stream: {params}"
            return [stream]
        if service == "kms":
            return [self._names[params["KeyId"]]]
        if service == "sqs":
            return [self._names[params["QueueUrl"]]]
        if service == "lambda":
            return [self._names[params["FunctionName"]]]
        if service == "logs":
            return [self._names[params["logGroupName"]]]
        raise AssertionError(f"the commands call {service}:{params}: add it to the recorder")


@pytest.fixture
def recorder(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> OperatorRecorder:
    recorder = OperatorRecorder(local_stack)
    original_call = vars(botocore.client.BaseClient)["_make_api_call"]  # private: not in the stubs
    original_send = Api.send

    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        recorder.record(service, operation, params)
        answer = original_call(client, operation, params)
        recorder.remember_iterators(service, params, answer)
        return answer

    def send(api: Api, method: str, path: str, **kwargs: Any) -> requests.Response:
        recorder.record_route(method, path, kwargs["iam"])
        return original_send(api, method, path, **kwargs)

    class CarryingPool(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            return super().submit(recorder.carried(fn), *args, **kwargs)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
    monkeypatch.setattr(Api, "send", send)
    monkeypatch.setattr(cards_store, "ThreadPoolExecutor", CarryingPool)
    return recorder


def failed_generation(stack: LocalStack, failing: set[Any], order_id: int) -> str:
    """An order of two chunks whose first fails on every attempt (the order FAILED, the
    second chunk stood down): its batch's message id. The fault is lifted for the redrive,
    which replays the stood-down chunk too (cardmaker_cli/chunk_replay.py)."""
    before = set(messages(stack))
    failing.add((order_id, "T1"))
    send_order(stack, order_id, [("T1", 3, "100"), ("T2", 2, "500")])
    stack.wait_idle(60)
    (message_id,) = set(messages(stack)) - before
    failing.clear()
    return message_id


def failed_delivery(stack: LocalStack) -> tuple[str, str]:
    """A bind delivery that gave up (every card.bind lost its answer): (id, message id)."""
    before = set(messages(stack, "DeliveryFailures"))
    gateway = stack.top_gateway
    assert gateway is not None
    gateway.fail_always(Fault.drop(), method=CARD_BIND)
    body = sample_delivery(
        "bind",
        card_order_id=OPERATOR_ORDER,
        own_sign="daily",
        template_no="T1",
        out_biz_id="OPERATOR-POLICY-1",
    )
    try:
        answer = requests.post(f"{stack.url}/deliveries", json=body, timeout=10)
        assert answer.status_code == 202, answer.text
        stack.wait_idle(60)
    finally:
        gateway.reset()
    (message_id,) = set(messages(stack, "DeliveryFailures")) - before
    return answer.json()["delivery_id"], message_id


def failed_fulfilment(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> str:
    """A send notice the fulfilment function gave up on (making its delivery failed on
    every attempt): its batch's message id. The fault is lifted for the redrive."""
    before = set(messages(stack, "FulfilmentFailures"))
    real = DynamoDBNoticeDeliveryRepository.create_once

    def failing(self: Any, delivery: Any, fingerprint: str) -> Any:
        raise RuntimeError("the deliveries table is unavailable")

    monkeypatch.setattr(DynamoDBNoticeDeliveryRepository, "create_once", failing)
    notices = DynamoDBNoticeRepository(
        stack.stack.physical["EticketTable"], stack.client("dynamodb")
    )
    parameters = sample_notice(order_id="17906", token="tok-17906-policy", num=1)
    notice = EticketNotice.of(
        {"timestamp": "2026-11-30 12:00:00", **parameters},
        utc_now().isoformat(timespec="milliseconds"),
    )
    try:
        assert notices.record(notice)
        stack.wait_idle(60)
    finally:
        monkeypatch.setattr(DynamoDBNoticeDeliveryRepository, "create_once", real)
    (message_id,) = set(messages(stack, "FulfilmentFailures")) - before
    return message_id


def failed_notification(stack: LocalStack, order_id: int) -> set[str]:
    """A made order whose make.finish the platform refused (FAILED, its records in the
    notifier's queue): their message ids."""
    before = set(messages(stack, "NotifierFailures"))
    send_order(stack, order_id)
    stack.wait_idle(60)
    gateway = stack.top_gateway
    assert gateway is not None
    gateway.fail_always(Fault.error(15, "isv.invalid-parameter"), method=MakeFinishRequest.METHOD)
    lifecycle = DynamoDBLifecycleRepository(
        stack.stack.physical["OrdersTable"], stack.client("dynamodb")
    )
    key = OrderKey("daily", order_id)
    try:
        lifecycle.mark_made(key, "operator-policy", utc_now())
        stack.wait_idle(60)
    finally:
        gateway.reset()
    stored = lifecycle.get(key)
    assert stored is not None
    assert stored.lifecycle.notices[PlatformNotice.MAKE_FINISH].state is NoticeState.FAILED
    failed = set(messages(stack, "NotifierFailures")) - before
    assert failed
    return failed


@pytest.fixture
def operator_calls(
    cli: Cli,
    local_stack: LocalStack,
    recorder: OperatorRecorder,
    failing_cards: set[Any],  # noqa: F811 (the fixture of tests/cli/test_dlq.py)
    failing_events: set[int],  # noqa: F811 (the fixture of tests/cli/test_dlq.py)
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[set[tuple[str, str]]]:
    """Every command an operator runs, once, recorded."""
    # An order of its own: the print run takes every card left of its template, which the
    # package's shared order must keep for the other tests.
    send_order(local_stack, OPERATOR_ORDER, [("T1", 5, "100"), ("T2", 3, "500")])
    local_stack.wait_idle(60)
    order = f"CM-daily-{OPERATOR_ORDER}"
    generation_message = failed_generation(local_stack, failing_cards, 17901)
    delivery_id, delivery_message = failed_delivery(local_stack)
    events_messages = failed_events(local_stack, failing_events, 17904)
    notifier_messages = failed_notification(local_stack, 17904)
    fulfilment_message = failed_fulfilment(local_stack, monkeypatch)
    deliveries = DynamoDBDeliveryRepository(
        local_stack.stack.physical["DeliveriesTable"], local_stack.client("dynamodb")
    )
    failed = deliveries.get(delivery_id)
    assert failed is not None
    assert failed.status.value == "FAILED"
    try:
        commands: list[tuple[str, ...]] = [
            ("platform", "send-order", "--card-order-id", "17902", "--template", "T9:2"),
            # The platform's other calls go to the same public route: no grant of their own
            ("platform", "template-new", "--template-no", "T9", "--card-name", "T9 card"),
            ("platform", "status-query", "CM-daily-17902"),
            # The notice route is public too: no grant; reading the notices back is IAM
            ("platform", "notice", "send", "--order-id", "17905"),
            ("eticket", "notices", "17905", "--json"),
            ("orders", "show", order, "--json"),
            ("deliveries", "create", "eticket", "--order", order, "--template", "T2",
             "--quantity", "1", "--outer-id", "OPERATOR-POLICY-2", "--token", "tk", "--wait",
             "--json"),
            ("cards", "export", order, "--template", "T2", "--dry-run"),
            ("cards", "export", order, "--template", "T2",
             "--out", str(tmp_path / "cards.csv")),
            ("orders", "made", order, "--json"),
            ("orders", "ship", order, "--carrier", "顺丰速运", "--waybill", "SF17903",
             "--json"),
            ("orders", "list", "--own-sign", "daily", "--status", "SHIPPED", "--all",
             "--json"),
            ("eticket", "products", "put", "POLICY-CODE", "--template", "T1",
             "--own-sign", "daily", "--json"),
            ("eticket", "products", "show", "POLICY-CODE", "--json"),
            ("eticket", "products", "list", "--json"),
            ("dlq", "list", "--json"),
            ("dlq", "redrive", "--dry-run", "--reopen", "--json"),
            ("dlq", "redrive", "--reopen", "--json"),
            ("events", "--order", "CM-daily-17904", "--json"),
            ("audit", "--json"),
            ("audit", "--order", order, "--json"),
        ]  # fmt: skip
        for command in commands:
            result = recorder.run(cli, *command)
            assert result.exit_code == 0, (command, result.output)
        # A card of the print run just exported, looked up by its number (PRINTED), and a
        # print run of T1 (claimed here, not by the operator's commands) released.
        card_no = (tmp_path / "cards.csv").read_text(encoding="utf-8").splitlines()[1].split(",")[3]
        shown = json_output(recorder.run(cli, "cards", "show", card_no, "--json"))
        assert shown["state"] == "PRINTED"
        cards = DynamoDBCardRepository(
            local_stack.stack.physical["CardsTable"], local_stack.client("dynamodb")
        )
        assert cards.claim_rest(OrderKey("daily", OPERATOR_ORDER), "T1", PRINT_CLAIM, 5)
        released = recorder.run(cli, "cards", "release", order, "--template", "T1", "--json")
        assert released.exit_code == 0, released.output
        # A delivery of T2 after its print run waits for stock: shown with why, cancelled,
        # and the order's deliveries listed.
        waiting = recorder.run(
            cli, "deliveries", "create", "bind", "--order", order, "--template", "T2",
            "--quantity", "1", "--out-biz-id", "OPERATOR-POLICY-WAIT", "--buyer-nick", "nick",
            "--json",
        )  # fmt: skip
        assert waiting.exit_code == 0, waiting.output
        local_stack.wait_idle(60)
        waiting_id = json_output(waiting)["delivery_id"]
        for command in (
            ("deliveries", "show", waiting_id, "--json"),
            ("deliveries", "cancel", waiting_id, "--json"),
            ("deliveries", "list", "--order", order, "--all", "--json"),
        ):
            result = recorder.run(cli, *command)
            assert result.exit_code == 0, (command, result.output)
        assert json_output(result)["deliveries"][0]["status"] == "CANCELLED"
        redriven = json_output(recorder.run(cli, "deliveries", "show", delivery_id, "--json"))
        assert redriven["status"] == "DELIVERED"
        assert generation_message not in messages(local_stack)
        assert stored_order(local_stack, 17901).cards_generated == {"T1": 3, "T2": 2}
        assert delivery_message not in messages(local_stack, "DeliveryFailures")
        assert events_messages.isdisjoint(messages(local_stack, "EventsFailures"))
        assert not notifier_messages & set(messages(local_stack, "NotifierFailures"))
        assert fulfilment_message not in messages(local_stack, "FulfilmentFailures")
        yield recorder.calls
    finally:
        delete_messages(local_stack, {generation_message})
        delete_messages(local_stack, {delivery_message}, "DeliveryFailures")
        delete_messages(local_stack, events_messages, "EventsFailures")
        delete_messages(local_stack, notifier_messages, "NotifierFailures")
        delete_messages(local_stack, {fulfilment_message}, "FulfilmentFailures")


def test_the_operator_policy_grants_every_call_of_the_commands_and_nothing_else(operator_calls):
    grants = granted()
    # Every call granted
    missing = operator_calls - grants
    assert missing == set(), f"an operator would be denied {sorted(missing)}"
    # Every grant used, but for the documented exceptions
    unused = grants - operator_calls - set(KNOWN_UNUSED)
    assert unused == set(), f"the operator is granted {sorted(unused)}, which no command calls"
    for grant, why in KNOWN_UNUSED.items():
        assert grant in grants, f"no longer granted: drop it ({why})"
        assert grant not in operator_calls, f"now used: drop it ({why})"
    # The run reached every kind of thing the commands do
    services = {action.split(":")[0] for action, _ in operator_calls}
    assert services == {"execute-api", "dynamodb", "kms", "sqs", "lambda", "logs"}


def test_the_policy_is_an_output_to_hand_to_operators():
    assert TEMPLATE["Outputs"]["OperatorPolicyArn"]["Value"] == {"Ref": "OperatorPolicy"}
    assert POLICY["Type"] == "AWS::IAM::ManagedPolicy"
