"""LifecycleEventsFunction with real DynamoDB stream records (moto): each order and delivery
transition becomes one event of the documented envelope (docs/events.md) on the LifecycleBus,
which the archive rule writes to its log group, as on AWS; nothing else becomes an event."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from cardmaker import (
    EVENT_DETAIL_TYPES,
    EVENT_SOURCE,
    CardTemplateAnnouncement,
    DeliveryStatus,
    DynamoDBGenerationRepository,
    DynamoDBLifecycleRepository,
    DynamoDBTemplateRegistry,
    EventBridgeBus,
    Notice,
    NoticeState,
    OrderKey,
    PlatformNotice,
    Waybill,
    lifecycle_change,
    runtime,
)
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, SAMPLE_RECEIVER, sample_order
from local.apigw import LambdaContext
from local.platform import sample_delivery, sign_demo_call
from local.template import functions
from local.top_gateway import CARD_BIND, MA_SEND, FakeTopGateway, Fault
from tests.conftest import SESSION_KEY, delivery_post_event, spi_event, stream_records
from tests.metrics import emitted_metrics

ORDER = OrderKey("daily", 16002)
MADE_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SHIPPED_AT = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
CONFIRMED_AT = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
WAYBILL = Waybill("顺丰速运", "SF1234567890")
TOKEN = "token-of-the-buyer-e-voucher-0042"
BUYER = "tracey_05"


@pytest.fixture
def gateway(stack, monkeypatch):
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as fake:
        monkeypatch.setenv("TOP_GATEWAY_URL", fake.url)
        monkeypatch.setenv("TOP_READ_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("STREAM_MAX_RETRIES", "0")
        runtime.reset()
        yield fake


@pytest.fixture
def handler(stack):
    lambda_handler = functions(stack)["LifecycleEventsFunction"].load_handler()

    def call(records: list[dict[str, Any]]) -> dict[str, Any]:
        return lambda_handler(
            {"Records": records}, LambdaContext(function_name="LifecycleEventsFunction")
        )

    return call


def records_of(stack, table: str) -> list[dict[str, Any]]:
    return stream_records(boto3.client("dynamodb", region_name="us-east-1"), stack.physical[table])


def archived(stack) -> list[dict[str, Any]]:
    """Every event the archive rule wrote to the log group, in the order written."""
    logs = boto3.client("logs", region_name="us-east-1")
    group = stack.physical["LifecycleEventsLog"]
    found = logs.filter_log_events(logGroupName=group, interleaved=True)["events"]
    return [json.loads(event["message"]) for event in found]


def receive(invoke, *, logistics: bool = True, count: int = 4) -> None:
    order = sample_order(16002, "daily", [("T1", count, "100")], logistics=logistics)
    answer = invoke(spi_event(sign_demo_call(order)))
    assert json.loads(answer["body"])["response"]["success"] is True


def generate() -> None:
    generator = runtime.card_generator()
    for chunk in generator.plan(ORDER).chunks:
        generator.generate(chunk)


def lifecycle(stack) -> DynamoDBLifecycleRepository:
    return DynamoDBLifecycleRepository(
        stack.physical["OrdersTable"], boto3.client("dynamodb", region_name="us-east-1")
    )


def deliver(invoke, body: dict[str, Any]) -> str:
    answer = invoke(delivery_post_event(body))
    assert answer["statusCode"] == 202, answer
    delivery_id = json.loads(answer["body"])["delivery_id"]
    runtime.delivery_sender().deliver(delivery_id)
    return str(delivery_id)


def test_an_order_s_whole_life_is_one_event_per_step(stack, invoke, gateway, handler, capsys):
    # Given an order received, generated, made, shipped and confirmed
    receive(invoke)
    generate()
    store = lifecycle(stack)
    store.mark_made(ORDER, "arn:aws:iam::123456789012:user/operator-alice", MADE_AT)
    store.ship(ORDER, WAYBILL, SHIPPED_AT)
    store.confirm(ORDER, CONFIRMED_AT)
    records = records_of(stack, "OrdersTable")
    capsys.readouterr()

    # When the function gets the orders stream (headers, chunks, progress, all of it)
    assert handler(records) == {"batchItemFailures": []}

    # Then each step is one event, in order, in the documented envelope
    events = archived(stack)
    assert [event["detail-type"] for event in events] == [
        "Order Received",
        "Order Generated",
        "Order Made",
        "Order Shipped",
        "Order Confirmed",
    ]
    assert {event["source"] for event in events} == {EVENT_SOURCE}
    key = {"card_order_id": 16002, "own_sign": "daily", "making_card_no": "CM-daily-16002"}
    for event in events:
        detail = event["detail"]
        assert {name: detail[name] for name in key} == key
        assert detail["event_id"] == f"CM-daily-16002:{detail['status']}:{detail['time']}"
        assert (detail["card_count"], detail["template_count"]) == (4, 1)
    received, generated, made, shipped, confirmed = (event["detail"] for event in events)
    assert (received["status"], received["previous_status"]) == ("RECEIVED", None)
    assert (generated["status"], generated["previous_status"]) == ("GENERATED", "GENERATING")
    assert made["time"] == MADE_AT.isoformat(timespec="milliseconds")
    assert "made_by" not in made  # an operator's identity is not the integrators' business
    assert shipped["waybill"] == {
        "logistics_company": "顺丰速运",
        "logistics_order_id": "SF1234567890",
    }
    assert "waybill" not in made
    assert (confirmed["status"], confirmed["previous_status"]) == ("CONFIRMED", "SHIPPED")
    # EventBridge's own time is the change's
    assert events[3]["time"].startswith("2026-11-30T15:00:00")
    assert emitted_metrics(capsys.readouterr().out)["LifecycleEventPublished"] == 5


def test_a_record_handed_over_twice_publishes_the_same_event_id(stack, invoke, handler):
    # Given an order received and its stream record
    receive(invoke)
    (record,) = records_of(stack, "OrdersTable")

    # When the stream hands the record over twice (at least once)
    assert handler([record]) == {"batchItemFailures": []}
    assert handler([record]) == {"batchItemFailures": []}

    # Then both copies carry one event_id: a subscriber drops the second
    first, second = archived(stack)
    assert first["detail"] == second["detail"]
    assert first["id"] != second["id"]  # EventBridge's own id differs: event_id is the one


def test_a_failed_order_says_why(stack, invoke, handler):
    # Given an order that failed while its cards were generated
    receive(invoke)
    generator = runtime.card_generator()
    generator.plan(ORDER)
    orders = DynamoDBGenerationRepository(
        stack.physical["OrdersTable"], boto3.client("dynamodb", region_name="us-east-1")
    )
    assert orders.fail(ORDER, "chunk 0.0 of template T1 failed 5 times, last with OSError")

    # When the function gets the orders stream
    assert handler(records_of(stack, "OrdersTable")) == {"batchItemFailures": []}

    # Then the failure is an event, with our words for it
    *_, failed = archived(stack)
    assert failed["detail-type"] == "Order Failed"
    assert failed["detail"]["previous_status"] == "GENERATING"
    assert failed["detail"]["failure_reason"] == (
        "chunk 0.0 of template T1 failed 5 times, last with OSError"
    )


def test_deliveries_are_events_when_final_with_their_counts(stack, invoke, gateway, handler):
    # Given an e-voucher delivered, a bind partly bound, and an e-voucher the platform refused
    receive(invoke, count=10)
    generate()
    eticket = sample_delivery("eticket", template_no="T1", quantity=2, token=TOKEN)
    delivered = deliver(invoke, {**eticket, "outer_id": "E1"})  # cards 0 and 1
    invalid = cards_at(stack, 2)  # the bind's first card
    gateway.fail_next(Fault.bind_result(invalid=[invalid]), method=CARD_BIND)
    bind = sample_delivery("bind", template_no="T1", quantity=3, buyer_nick=BUYER)
    partial = deliver(invoke, {**bind, "out_biz_id": "B1"})
    gateway.fail_next(Fault.ma_ret("isv.fail-some", "refused"), method=MA_SEND)
    failed = deliver(invoke, {**eticket, "outer_id": "E2", "quantity": 1})

    # When the function gets the deliveries stream (PENDING, SENDING and final records)
    assert handler(records_of(stack, "DeliveriesTable")) == {"batchItemFailures": []}

    # Then each final delivery is one event, with its counts by outcome
    events = {event["detail"]["delivery_id"]: event for event in archived(stack)}
    assert set(events) == {delivered, partial, failed}
    assert events[delivered]["detail-type"] == "Delivery Delivered"
    assert events[partial]["detail-type"] == "Delivery Partial"
    assert events[failed]["detail-type"] == "Delivery Failed"
    assert events[delivered]["detail"] | {"event_id": None, "time": None} == {
        "event_id": None,
        "time": None,
        "delivery_id": delivered,
        "type": "eticket",
        "card_order_id": 16002,
        "own_sign": "daily",
        "making_card_no": "CM-daily-16002",
        "template_no": "T1",
        "quantity": 2,
        "status": "DELIVERED",
        "previous_status": "SENDING",
        "cards": {"ISSUED": 2},
    }
    assert events[partial]["detail"]["cards"] == {"BOUND": 2, "INVALID": 1}
    assert events[failed]["detail"]["cards"] == {"FAILED": 1}
    for delivery_id, event in events.items():
        detail = event["detail"]
        assert detail["event_id"] == f"{delivery_id}:{detail['status']}:{detail['time']}"


def cards_at(stack, position: int) -> str:
    from cardmaker.store import from_item  # noqa: PLC0415 (the public store surface)

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    items = [from_item(i) for i in dynamodb.scan(TableName=stack.physical["CardsTable"])["Items"]]
    (number,) = [item["card_no"] for item in items if item.get("position") == position]
    return str(number)


def test_no_event_carries_a_secret_a_token_a_buyer_or_the_receiver(stack, invoke, gateway, handler):
    # Given an order with a receiver, generated, made and shipped, and deliveries to buyers
    receive(invoke, count=6)
    generate()
    store = lifecycle(stack)
    store.mark_made(ORDER, "arn:aws:iam::123456789012:user/operator-alice", MADE_AT)
    store.ship(ORDER, WAYBILL, SHIPPED_AT)
    deliver(invoke, sample_delivery("eticket", template_no="T1", outer_id="E9", token=TOKEN))
    deliver(invoke, sample_delivery("bind", template_no="T1", out_biz_id="B9", buyer_nick=BUYER))
    assert handler(records_of(stack, "OrdersTable")) == {"batchItemFailures": []}
    assert handler(records_of(stack, "DeliveriesTable")) == {"batchItemFailures": []}
    events = archived(stack)
    assert len(events) == 6  # received, generated, made, shipped; two deliveries

    # Then no event holds a card number or secret, the token, the buyer, the receiver or
    # the operator who made the order
    text = json.dumps(events, ensure_ascii=False)
    secrets_and_numbers = [
        value for number, secret in card_secrets(stack).items() for value in (number, secret)
    ]
    assert len(secrets_and_numbers) == 12  # 6 cards
    forbidden = [
        *secrets_and_numbers,
        TOKEN,
        BUYER,
        "operator-alice",
        *SAMPLE_RECEIVER.values(),
    ]
    assert [value for value in forbidden if value in text] == []


def card_secrets(stack) -> dict[str, str]:
    from tests.integration.test_delivery_sending import card_secrets as opened  # noqa: PLC0415

    return opened(stack)


def test_nothing_is_published_for_what_did_not_change_or_is_no_order(
    stack, invoke, gateway, handler
):
    # Given an order made (its make.finish notification then recorded SENT: the header is
    # written again with the same status), its chunks and progress, and a template announced
    receive(invoke)
    generate()
    store = lifecycle(stack)
    store.mark_made(ORDER, "operator", MADE_AT)
    sent = Notice(NoticeState.SENT, attempts=1, updated_at=MADE_AT, sent_at=MADE_AT)
    assert store.record_notice(
        ORDER, PlatformNotice.MAKE_FINISH, sent, expected={NoticeState.PENDING}
    )
    DynamoDBTemplateRegistry(
        stack.physical["OrdersTable"], boto3.client("dynamodb", region_name="us-east-1")
    ).announce(
        CardTemplateAnnouncement(
            template_no="T1", card_name="猫超储值卡面额100", par_value="100", is_test=False,
            own_sign="daily",
        ),
        MADE_AT,
    )  # fmt: skip
    records = records_of(stack, "OrdersTable")

    # When each record is looked at
    changes = [lifecycle_change(record) for record in records]

    # Then only the three status changes are events: not the chunk, the progress, the
    # notification written on the MADE order, nor the template's items
    entities = [record["dynamodb"]["NewImage"].get("entity", {}).get("S") for record in records]
    assert {"CHUNK", "ORDER"} <= set(entities)
    assert len([e for e in entities if e not in {"CHUNK", "ORDER"}]) >= 2  # template items
    published = [change.status.value for change in changes if change is not None]
    assert published == ["RECEIVED", "GENERATED", "MADE"]
    # and the handler publishes exactly those
    assert handler(records) == {"batchItemFailures": []}
    assert [e["detail-type"] for e in archived(stack)] == [
        "Order Received",
        "Order Generated",
        "Order Made",
    ]


def test_a_refused_entry_fails_its_record_which_is_retried(stack, invoke, handler, monkeypatch):
    # Given EventBridge refusing the next entry: it answers 200, the entry counted in
    # FailedEntryCount (here moto refuses it for real: its detail arrives cut short)
    receive(invoke)
    generate()
    received, *_, generated = records_of(stack, "OrdersTable")
    cutting = CuttingTheNextDetail(boto3.client("events", region_name="us-east-1"))
    bus = EventBridgeBus(cutting, stack.physical["LifecycleBus"])
    # (cached like the wiring's own, so that runtime.reset() still works)
    monkeypatch.setattr(runtime, "lifecycle_bus", functools.cache(lambda: bus))

    # When a batch of the order's RECEIVED and GENERATED is handled, then handed over again
    # from the failed record on (as Lambda retries a stream batch)
    first = handler([received, generated])
    second = handler([received, generated])

    # Then the first attempt reports RECEIVED failed (and GENERATED published); the retry
    # publishes RECEIVED, and GENERATED again under the same event_id
    assert cutting.refused == 1
    assert first == {
        "batchItemFailures": [{"itemIdentifier": received["dynamodb"]["SequenceNumber"]}]
    }
    assert second == {"batchItemFailures": []}
    events = archived(stack)
    assert [event["detail-type"] for event in events] == [
        "Order Generated",
        "Order Received",
        "Order Generated",
    ]
    assert len({event["detail"]["event_id"] for event in events}) == 2


class CuttingTheNextDetail:
    """EventBridge's client, but the next entry's detail is cut short on its way."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.refused = 0
        self._cut = True

    def put_events(self, *, Entries: list[dict[str, Any]]) -> Any:
        if self._cut:
            self._cut = False
            Entries = [{**entry, "Detail": entry["Detail"][:10]} for entry in Entries]
        answer = self._client.put_events(Entries=Entries)
        self.refused += answer["FailedEntryCount"]
        return answer


def test_every_detail_type_is_documented():
    from local.template import REPO  # noqa: PLC0415

    page = (REPO / "docs" / "events.md").read_text(encoding="utf-8")
    for detail_type in EVENT_DETAIL_TYPES:
        assert f"`{detail_type}`" in page, detail_type
    assert DeliveryStatus.PARTIAL.value in page
