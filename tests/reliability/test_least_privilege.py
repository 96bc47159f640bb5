"""Least privilege in template.yaml, beyond tests/integration/test_template.py's per-statement
checks: every policy document of the template (functions' policies, KMS key policies, queue,
topic and IAM policies, SAM policy templates and managed policies), and each function's policy
against what its code actually calls.

"What a function uses" is derived from the code paths, not from its environment (which names
what its settings may read, not what its code calls): the whole pipeline runs on the local
stack (templates announced, an order, a replay, status queried, receipts refused, a large
paged order, generation with a chunk retried, an e-voucher and a bind delivery, a delivery
waiting for stock and woken, every HTTP route: an order made, shipped and listed; the
lifecycle events and the platform notifications of all of it, the audit trail appended to
and read), every AWS call each function's
code makes is recorded with the resource it names, and each function starts cold for every
invocation (the functions share one process locally; a secret cached by one must not hide
another's read). What Lambda itself does with the execution role (reading the streams of the
function's ``DynamoDB`` events, sending to their on-failure queues) is derived from those events
in the template.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.client
import pytest
import requests

from cardmaker import (
    CARD_TEMPLATE_NEW,
    CARDORDER_RECEIPT,
    CARDORDER_STATUS_QUERY,
    PRINT_CLAIM,
    CardTemplateAnnouncement,
    DynamoDBCardRepository,
    DynamoDBLifecycleRepository,
    DynamoDBTemplateRegistry,
    NoticeState,
    OrderKey,
    PlatformNotice,
    Waybill,
    notice_body,
    notice_delivery_id,
    notice_timestamp,
    runtime,
)
from cardmaker.store import cards as cards_store
from cardmaker.top import MaSendRequest, utc_now
from cardmaker_cli.samples import DEMO_NOTICE_SECRET, sample_notice, sample_order
from chaos._dynamodb_faults import DynamoDBFaults
from chaos._store_checks import Sent, bind, create_delivery, eticket, send_order
from local.platform import sign_demo_call
from local.stack import LocalStack
from local.template import load_template, resources_of_type
from local.top_gateway import Fault
from tests.policies import as_list, resource_key, transaction_writes

TEMPLATE = load_template()

# Wildcards that stay, each with why. Keyed by (resource, statement Sid); a statement not in
# here with a "*" fails, and an entry that no longer matches a statement fails too.
WILDCARD_EXCEPTIONS = {
    ("CardDataKey", "AccountAdministers"): (
        "a key policy's Resource must be '*' (it means this key); kms:* for the account root is"
        " AWS's default key policy statement, which hands the key's use to IAM policies in the"
        " account (the functions' own, narrow ones): without it the key could become"
        " unmanageable, and naming the roles here would make a dependency cycle"
    ),
    ("AlarmTopicKey", "AccountAdministers"): "the same default statement, for the alarm key",
    ("OperatorPolicy", "OperatorRoutes"): (
        "'*' stands for a path parameter of the route (GET /orders/{card_order_id}, POST"
        " /orders/{card_order_id}/made and /shipment, GET /deliveries/{delivery_id}): any order"
        " or delivery, which is what the route serves"
    ),
    ("OperatorPolicy", "StackOutputsRead"): (
        "a stack's ARN ends in its id (a UUID), unknown before the stack exists: the '*' is"
        " that id, the stack's name is exact"
    ),
    ("AlarmTopicKey", "CloudWatchPublishesAlarms"): (
        "Resource '*' means this key; kms:GenerateDataKey* is the action AWS documents for"
        " CloudWatch alarms publishing to an encrypted SNS topic, and the statement is bound to"
        " this account by aws:SourceAccount. SNS calls GenerateDataKey only, so"
        " kms:GenerateDataKey would probably do: not verifiable without AWS, left as documented"
    ),
}

# What SAM attaches to every function role on its own (not in the template's text):
# AWSLambdaBasicExecutionRole (logs:CreateLogGroup/CreateLogStream/PutLogEvents on "*"; the log
# groups are the template's own) and, with Tracing: Active, AWSXrayWriteOnlyAccess (X-Ray has
# no resource-level permissions, "*" is the only form). Neither touches data, keys or secrets.
SAM_IMPLICIT_MANAGED_POLICIES = ("AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess")

# SAM policy templates and AWS managed policies grant more than this project needs wherever a
# narrower statement exists; none may appear in Policies (inline statements only).
BROAD_POLICY_TEMPLATES = {
    "DynamoDBCrudPolicy": "Scan, DeleteItem, BatchWriteItem... on the whole table",
    "DynamoDBReadPolicy": "Scan and every read on the table and all its indexes",
    "DynamoDBWritePolicy": "DeleteItem and BatchWriteItem on the whole table",
    "KMSDecryptPolicy": "Decrypt, fine alone, but by key id where GetAtt Arn is exact",
    "AWSSecretsManagerGetSecretValuePolicy": "fine alone, but an inline statement is exact",
    "SQSSendMessagePolicy": "fine alone, but an inline statement is exact",
}

# Granted, but no code path calls it: listed so that the test says so (remove the grant from
# template.yaml, then the entry here; an entry that is no longer granted, or is used, fails).
KNOWN_UNUSED: dict[tuple[str, str, str], str] = {}

STREAM_READ = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
SERVICE_PREFIX = {
    "dynamodb": "dynamodb",
    "events": "events",
    "kms": "kms",
    "secretsmanager": "secretsmanager",
    "sqs": "sqs",
}


# --- every policy document in the template -----------------------------------------------


def policy_statements() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource, where, statement) for every statement of every policy in the template."""

    def walk(value: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(value, dict):
            if "Statement" in value:
                for statement in as_list(value["Statement"]):
                    yield where, statement
                return
            for key, item in value.items():
                yield from walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, f"{where}[{index}]")

    for name, resource in TEMPLATE["Resources"].items():
        for where, statement in walk(resource.get("Properties", {}), name):
            yield name, where, statement


def test_the_walk_finds_every_kind_of_policy_document():
    # A walk that found nothing would let every check below pass.
    places = {where.split(".")[1] for _, where, _ in policy_statements()}
    assert {"Policies[0]", "KeyPolicy"} <= places
    assert len(list(policy_statements())) >= 20


def wildcards(statement: dict[str, Any]) -> list[str]:
    found = [f"Action {a}" for a in as_list(statement.get("Action", [])) if "*" in a]
    found += [f"NotAction {a}" for a in as_list(statement.get("NotAction", []))]
    # A resource written out (a string, or an ARN built with Fn::Sub) may hide a "*" too.
    texts = [
        r if isinstance(r, str) else r.get("Fn::Sub")
        for r in as_list(statement.get("Resource", []))
    ]
    found += [f"Resource {text}" for text in texts if isinstance(text, str) and "*" in text]
    principal = statement.get("Principal")
    if principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))):
        found.append("Principal *")
    return found


@pytest.mark.parametrize(
    ("resource", "where", "statement"),
    list(policy_statements()),
    ids=[f"{resource}:{s.get('Sid', where)}" for resource, where, s in policy_statements()],
)
def test_no_wildcard_where_a_narrower_grant_exists(resource, where, statement):
    found = wildcards(statement)
    if (resource, statement.get("Sid")) in WILDCARD_EXCEPTIONS:
        assert found, f"{resource}/{statement.get('Sid')} has no wildcard left: drop its exception"
        assert statement["Effect"] == "Allow"
        assert where.endswith(".KeyPolicy") or resource == "OperatorPolicy", (
            "only key policies and the operator policy may use these exceptions"
        )
    else:
        assert found == [], (resource, where, statement)
    assert statement["Effect"] in {"Allow", "Deny"}


def test_every_exception_names_a_statement_of_the_template():
    present = {(resource, s.get("Sid")) for resource, _, s in policy_statements()}
    assert set(WILDCARD_EXCEPTIONS) <= present


def test_functions_use_inline_statements_only():
    for name, function in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items():
        for policy in function["Properties"].get("Policies", []):
            if isinstance(policy, str):
                pytest.fail(f"{name}: managed policy {policy} (grant inline statements instead)")
            broad = set(policy) & set(BROAD_POLICY_TEMPLATES)
            assert not broad, f"{name}: {broad}: {[BROAD_POLICY_TEMPLATES[b] for b in broad]}"
            assert set(policy) == {"Statement"}, f"{name}: unknown policy form {set(policy)}"
        assert "Role" not in function["Properties"], f"{name}: a role of its own is not checked"
    # Nothing in the template grants through IAM resources of its own either, but for the
    # operators' managed policy (tests/cli/test_operator_policy.py checks it against the
    # commands' calls), which no function is given.
    iam = {
        n: r["Type"] for n, r in TEMPLATE["Resources"].items() if r["Type"].startswith("AWS::IAM::")
    }
    assert iam == {"OperatorPolicy": "AWS::IAM::ManagedPolicy"}
    operator = TEMPLATE["Resources"]["OperatorPolicy"]["Properties"]
    assert set(operator) == {"Description", "PolicyDocument"}, "attached to no role or user here"


# --- each function's policy against what its code calls ----------------------------------


def granted(function: str) -> set[tuple[str, str]]:
    properties = TEMPLATE["Resources"][function]["Properties"]
    grants = set()
    for policy in properties.get("Policies", []):
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    grants.add((action, resource_key(resource)))
    return grants


def needed_by_lambda(function: str) -> set[tuple[str, str]]:
    """What Lambda does with the role for the function's stream events: read the stream,
    send a batch it gave up on to the on-failure destination."""
    needs = set()
    for event in TEMPLATE["Resources"][function]["Properties"].get("Events", {}).values():
        if event["Type"] != "DynamoDB":
            continue
        stream = resource_key(event["Properties"]["Stream"])
        needs |= {(action, stream) for action in STREAM_READ}
        destination = event["Properties"].get("DestinationConfig", {}).get("OnFailure")
        if destination:
            needs.add(("sqs:SendMessage", resource_key(destination["Destination"])))
    return needs


class CallRecorder:
    """Every AWS call made while a function's handler runs (its worker threads included),
    as (action, resource) per function."""

    def __init__(self, stack: LocalStack) -> None:
        self.calls: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.unattributed: list[str] = []
        self._local = threading.local()
        self._names = self._physical_names(stack)

    @staticmethod
    def _physical_names(stack: LocalStack) -> dict[str, str]:
        names = {}
        for logical, physical in stack.stack.physical.items():
            names[physical] = logical
            for value in stack.stack.attributes.get(logical, {}).values():
                names[value] = logical
        return names

    @property
    def current(self) -> str | None:
        return getattr(self._local, "function", None)

    def running(self, name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(event: Any, context: Any) -> Any:
            runtime.reset()  # a cold start: no client, secret or service cached by another
            self._local.function = name
            try:
                return handler(event, context)
            finally:
                self._local.function = None

        return invoke

    def carried(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` attributed, in a worker thread, to the function that submitted it."""
        name = self.current

        def run(*args: Any, **kwargs: Any) -> Any:
            self._local.function = name
            return fn(*args, **kwargs)

        return run

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        function = self.current
        if function is None:
            return  # the test's own reads, the stream pollers'
        prefix = SERVICE_PREFIX.get(service)
        if prefix is None:
            self.unattributed.append(f"{function}: {service}:{operation}")
            return
        if operation == "TransactWriteItems":
            for action, table in transaction_writes(params):
                self.calls[function].add((action, self._names[table]))
            return
        for resource in self._resources(service, params):
            self.calls[function].add((f"{prefix}:{operation}", resource))

    def _resources(self, service: str, params: dict[str, Any]) -> list[str]:
        if service == "dynamodb":
            tables = (
                [params["TableName"]] if "TableName" in params else list(params["RequestItems"])
            )
            suffix = f"/index/{params['IndexName']}" if "IndexName" in params else ""
            return [self._names[table] + suffix for table in tables]
        if service == "kms":
            return [self._names[params["KeyId"]]]
        if service == "events":  # PutEvents names its bus in each entry
            return [self._names[entry["EventBusName"]] for entry in params["Entries"]]
        if service == "sqs":
            return [self._names[params["QueueUrl"]]]
        return [self._names[params["SecretId"]]]


@pytest.fixture(scope="module")
def recorded() -> Iterator[CallRecorder]:
    """The whole pipeline once, every function's AWS calls recorded."""
    original_call = vars(botocore.client.BaseClient)["_make_api_call"]  # private: not in the stubs
    with LocalStack(port=0, access_log=False) as stack, pytest.MonkeyPatch.context() as patch:
        recorder = CallRecorder(stack)

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            recorder.record(client.meta.service_model.service_name, operation, params)
            return original_call(client, operation, params)

        class CarryingPool(ThreadPoolExecutor):
            def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
                return super().submit(recorder.carried(fn), *args, **kwargs)

        patch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        patch.setattr(cards_store, "ThreadPoolExecutor", CarryingPool)
        for name, function in stack.functions.items():
            function.handler = recorder.running(name, function.handler)
        exercise_every_path(stack)
        yield recorder


def exercise_every_path(stack: LocalStack) -> None:
    sent = Sent()
    templates = [("T1", 30, "100"), ("T2", 4, "5000")]
    # A chunk's first card write conflicts once: the stream's retry unwraps the stored key.
    conflicted = {"done": False}

    def first_card_write(operation: str, params: dict[str, Any]) -> str | None:
        if operation == "BatchWriteItem" and not conflicted["done"] and "CARD#" in repr(params):
            conflicted["done"] = True
            return "conflict"
        return None

    # Every function starts cold here, so the fault goes on every client made from now on.
    boto3.setup_default_session()
    DynamoDBFaults(boto3.DEFAULT_SESSION, first_card_write)
    # The platform announces a template (then again: a replay; then other content: version 2)
    for name in ("T1", "T1", "T1 v2"):
        template = {"template_no": "T1", "card_name": name, "par_value": "100", "own_sign": "daily"}
        assert _platform_call(stack, CARD_TEMPLATE_NEW, {**template, "is_test": False}) == "SUCCESS"
    send_order(stack, 1, templates, sent)
    send_order(stack, 1, templates, sent)  # a replay
    # and asks how it is going, and says the buyer confirmed receipt (refused: not made yet,
    # the conditional write refused with nothing written; of no order at all: not found)
    assert _platform_call(stack, CARDORDER_STATUS_QUERY, {"request": _order(1)}) == "SUCCESS"
    assert _platform_call(stack, CARDORDER_RECEIPT, _order(1)) == "INVALID_ORDER_STATUS"
    assert _platform_call(stack, CARDORDER_RECEIPT, _order(404)) == "ORDER_NOT_FOUND"
    # A delivery asked for before the order is generated waits for stock, then is woken.
    create_delivery(stack, bind(1, "T2", 3, "WAIT1"), sent)
    stack.wait_idle(60)
    delivery_id = create_delivery(stack, eticket(1, "T1", 4, "E1"), sent)
    create_delivery(stack, bind(1, "T1", 3, "B1"), sent)
    stack.wait_idle(60)
    for path in ("/orders/1?own_sign=daily", f"/deliveries/{delivery_id}"):
        assert requests.get(f"{stack.url}{path}", timeout=30).status_code == 200
    # One asking for more than is left waits: shown with why (the template's cursor read),
    # cancelled, and the order's deliveries listed.
    waiting = create_delivery(stack, bind(1, "T2", 3, "WAIT2"), sent)
    stack.wait_idle(60)
    shown = requests.get(f"{stack.url}/deliveries/{waiting}", timeout=30).json()
    assert shown["waiting"]["remaining"] == 1, shown
    cancelled = requests.post(f"{stack.url}/deliveries/{waiting}/cancel", timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    listed = requests.get(f"{stack.url}/deliveries?card_order_id=1&own_sign=daily", timeout=30)
    assert listed.json()["deliveries"][0]["status"] == "CANCELLED", listed.text
    # The operators' steps of the order and the environment's list (filtered: one read path)
    made = requests.post(f"{stack.url}/orders/1/made?own_sign=daily", timeout=30)
    assert made.status_code == 202, made.text
    waybill = {"logistics_company": "顺丰速运", "logistics_order_id": "SF1234567890"}
    shipped = requests.post(
        f"{stack.url}/orders/1/shipment?own_sign=daily", json=waybill, timeout=30
    )
    assert shipped.status_code == 202, shipped.text
    listed = requests.get(f"{stack.url}/orders?own_sign=daily&status=SHIPPED", timeout=30)
    assert [order["card_order_id"] for order in listed.json()["orders"]] == [1]
    read_the_audit_trail(stack)
    look_up_a_card_and_release_a_print_run(stack)
    notify_the_platform(stack, sent)
    serve_evouchers(stack)
    # Last, a large order (paged templates), without generating its 500 chunks.
    for poller in stack.pollers.values():
        poller.stop()
    large = sample_order(2, "daily", [(f"L{n}", 1, "100") for n in range(500)])
    for template in large["card_product_infos"]:
        template["card_name"] = "x" * 128  # 500 x 128: beyond the 64 KB kept inline
    call = sign_demo_call(large)
    answer = requests.post(call.url(stack.url), data=call.body, headers=call.headers, timeout=30)
    assert answer.json()["response"]["result_code"] == "SUCCESS"
    assert conflicted["done"]


def read_the_audit_trail(stack: LocalStack) -> None:
    """What the CLI reports (a print run) put on record, and the trail read back: all of it
    (the table) and one order's (its index)."""
    report = {
        "action": "cards.exported",
        "subject": "CM-daily-1/T1",
        "making_card_no": "CM-daily-1",
    }
    assert requests.post(f"{stack.url}/audit", json=report, timeout=30).status_code == 201
    trail = requests.get(f"{stack.url}/audit", timeout=30).json()["entries"]
    assert [entry["action"] for entry in trail][:3] == [
        "cards.exported",
        "order.shipped",
        "order.made",
    ]
    of_order = requests.get(f"{stack.url}/audit?order=CM-daily-1", timeout=30).json()
    assert of_order["entries"][0]["action"] == "cards.exported"


def look_up_a_card_and_release_a_print_run(stack: LocalStack) -> None:
    """GET /cards/{card_no} of a card a delivery holds (the number inverted, the order found
    by its sequence, the claim read), then a print run of T1 (claimed here, as the operator's
    export would) released."""
    key = OrderKey("daily", 1)
    cards = DynamoDBCardRepository(stack.stack.physical["CardsTable"], stack.client("dynamodb"))
    (card,) = cards.iter_cards(key, "T1", range(1))
    shown = requests.get(f"{stack.url}/cards/{card.card_no}", timeout=30)
    assert shown.status_code == 200, shown.text
    assert shown.json()["state"] in {"ALLOCATED", "ISSUED", "BOUND"}
    assert cards.claim_rest(key, "T1", PRINT_CLAIM, 30) is not None
    released = requests.post(
        f"{stack.url}/orders/1/templates/T1/print-run/release?own_sign=daily", timeout=30
    )
    assert released.status_code == 200, released.text


def serve_evouchers(stack: LocalStack) -> None:
    """Send-code notices end to end: a product mapped, a send served from it; one waiting for
    its code to be mapped (woken by the mapping); one given up with a failsend; a resend, a
    change and a refund of the first; the operator's views."""
    mapped = _map_product(stack, "EV-T1", "T1")
    assert mapped["woken"] == 0
    _notice(stack, sample_notice("send", "81001", token="tk81001", merchant_code="EV-T1"))
    _notice(stack, sample_notice("send", "81002", token="tk81002", merchant_code="EV-LATE"))
    _notice(stack, sample_notice("send", "81003", token="tk81003", merchant_code="EV-NONE"))
    stack.wait_idle(60)
    assert _map_product(stack, "EV-LATE", "T1")["woken"] == 1
    stack.wait_idle(60)
    extras: tuple[tuple[str, dict[str, str]], ...] = (
        ("resend", {}),
        ("modified", {"left_num": "1"}),
        ("cancel", {"cancel_num": "1"}),
    )
    for method, extra in extras:
        notice = sample_notice(method, "81001", token="tk81001", merchant_code="EV-T1")
        _notice(stack, {**notice, **extra})
        stack.wait_idle(60)
    # 81004's ma.send is refused until it gives up (its cards' outcomes unknown); a refund then
    # voids every card it claimed, read from the cards table.
    gateway = stack.top_gateway
    assert gateway is not None
    gateway.fail_always(Fault.ma_ret("isv.eticket-busy"), method=MaSendRequest.METHOD)
    _notice(stack, sample_notice("send", "81004", token="tk81004", merchant_code="EV-T1"))
    stack.wait_idle(120)
    gateway.reset()
    assert _delivery(stack, notice_delivery_id("81004"))["status"] == "FAILED"
    _notice(stack, sample_notice("cancel", "81004", token="tk81004", merchant_code="EV-T1"))
    stack.wait_idle(60)
    # 81003's code is never mapped: its deadline is moved to the past (as if the wait had run
    # out), and the stock deadline's schedule gives it up with a ma.failsend.
    deliveries = stack.stack.physical["DeliveriesTable"]
    stack.client("dynamodb").update_item(
        TableName=deliveries,
        Key={"pk": {"S": f"DELIVERY#{notice_delivery_id('81003')}"}, "sk": {"S": "DELIVERY"}},
        UpdateExpression="SET stock_deadline = :past",
        ExpressionAttributeValues={":past": {"S": "2000-01-01T00:00:00.000+00:00"}},
    )
    deadline = time.monotonic() + 60
    while _delivery(stack, notice_delivery_id("81003")).get("failsend", {}).get("state") != "SENT":
        assert time.monotonic() < deadline, "the stock deadline never gave 81003 up"
        time.sleep(0.5)
    refunded = _delivery(stack, notice_delivery_id("81004"))
    assert [card["outcome"] for card in refunded["cards"]] == ["VOIDED"]
    served = _delivery(stack, notice_delivery_id("81001"))
    assert (served["resend"]["outcome"], served["cards"][0]["outcome"]) == ("RESENT", "VOIDED")
    assert _delivery(stack, notice_delivery_id("81002"))["status"] == "DELIVERED"
    for path in (
        "/eticket/notices/81001",
        "/eticket/products",
        "/eticket/products/EV-T1",
        "/orders/1/stock?own_sign=daily",  # the console's reads
        "/failures",
    ):
        assert requests.get(f"{stack.url}{path}", timeout=30).status_code == 200


def _map_product(stack: LocalStack, code: str, template_no: str) -> dict[str, Any]:
    answer = requests.put(
        f"{stack.url}/eticket/products/{code}",
        json={"own_sign": "daily", "template_no": template_no, "certificate_type": 1},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _notice(stack: LocalStack, parameters: dict[str, str]) -> None:
    body, content_type = notice_body(
        {"timestamp": notice_timestamp(), **parameters}, DEMO_NOTICE_SECRET, "gbk"
    )
    answer = requests.post(
        f"{stack.url}/eticket/notices",
        data=body,
        headers={"content-type": content_type},
        timeout=30,
    )
    assert answer.json() == {"code": 200}, answer.text


def _delivery(stack: LocalStack, delivery_id: str) -> dict[str, Any]:
    answer = requests.get(f"{stack.url}/deliveries/{delivery_id}", timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def notify_the_platform(stack: LocalStack, sent: Sent) -> None:
    """An order of a test template only: the notifier makes it MADE and sends make.finish;
    shipped, it sends status.sended."""
    table, client = stack.stack.physical["OrdersTable"], stack.client("dynamodb")
    DynamoDBTemplateRegistry(table, client).announce(
        CardTemplateAnnouncement(
            template_no="TT", card_name="test", par_value="100", is_test=True, own_sign="daily"
        ),
        utc_now(),
    )
    send_order(stack, 3, [("TT", 2, "100")], sent)
    stack.wait_idle(60)
    lifecycle = DynamoDBLifecycleRepository(table, client)
    key = OrderKey("daily", 3)
    lifecycle.ship(key, Waybill("顺丰速运", "SF1"), utc_now())
    stack.wait_idle(60)
    stored = lifecycle.get(key)
    assert stored is not None
    assert stored.lifecycle.made_by == "test-template"
    states = {notice: n.state for notice, n in stored.lifecycle.notices.items()}
    assert states == {
        PlatformNotice.MAKE_FINISH: NoticeState.SENT,
        PlatformNotice.STATUS_SENDED: NoticeState.SENT,
    }


def _order(card_order_id: int) -> dict[str, Any]:
    return {"card_order_id": card_order_id, "own_sign": "daily"}


def _platform_call(stack: LocalStack, method: str, business: dict[str, Any]) -> str:
    """An SPI call of ``method`` signed as the platform signs it; its result code."""
    call = sign_demo_call(business, method=method)
    answer = requests.post(call.url(stack.url), data=call.body, headers=call.headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["response"]["result_code"])


FUNCTIONS = sorted(resources_of_type(TEMPLATE, "AWS::Serverless::Function"))


def test_the_run_reached_every_function(recorded):
    assert set(recorded.calls) == set(FUNCTIONS)
    assert recorded.unattributed == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_policy_covers_every_call_the_code_makes(recorded, function):
    missing = (recorded.calls[function] | needed_by_lambda(function)) - granted(function)
    assert missing == set(), f"{function} would be denied {sorted(missing)}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_policy_reaches_only_the_tables_keys_secrets_and_queues_the_function_uses(
    recorded, function
):
    used = {resource for _, resource in recorded.calls[function] | needed_by_lambda(function)}
    extra = {resource for _, resource in granted(function)} - used
    assert extra == set(), f"{function} may reach {sorted(extra)}, which it never uses"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_policy_grants_no_action_the_code_never_calls(recorded, function):
    used = recorded.calls[function] | needed_by_lambda(function)
    unused = {
        (action, resource)
        for action, resource in granted(function) - used
        if (function, action, resource) not in KNOWN_UNUSED
    }
    assert unused == set(), f"{function} is granted {sorted(unused)}, which no code path calls"
    for (name, action, resource), why in KNOWN_UNUSED.items():
        if name == function:
            assert (action, resource) in granted(function), f"no longer granted: drop it ({why})"
            assert (action, resource) not in used, f"now used: drop it ({why})"
