"""Stream records decoded into tasks, in one place: what each function is asked to do, from
the sample events (the records the functions receive) and their variations."""

from __future__ import annotations

import copy

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from cardmaker import (
    Chunk,
    FulfilNotice,
    GenerateChunk,
    MakeTestOrder,
    NotifyPlatform,
    OrderKey,
    PlanOrder,
    PlatformNotice,
    SendDelivery,
    SendFailsend,
    WakeDeliveries,
    delivery_task,
    fulfilment_task,
    generation_task,
    lifecycle_change,
    notification_task,
)
from local.events import ETICKET_DELIVERY_ID, eticket_events, stream_events

KEY = OrderKey("daily", 16002)


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    return {name: event["Records"][0] for name, event in stream_events().items()}


def record(records: dict[str, dict], name: str) -> dict:
    return copy.deepcopy(records[f"stream_{name}.json"])


def test_the_generator_plans_a_received_order_and_generates_a_written_chunk(records):
    # the sample order's one chunk: template 3010030E02's 500 cards, the first block
    chunk = Chunk(
        KEY, 0, "3010030E02", "100", number=0, first_position=0, count=500, first_sequence=0
    )

    assert generation_task(record(records, "order_received")) == PlanOrder(KEY)
    task = generation_task(record(records, "chunk_created"))
    assert task == GenerateChunk(chunk)
    assert isinstance(task, GenerateChunk)
    assert all(type(value) is int for value in (task.chunk.count, task.chunk.first_sequence))


def test_the_generator_leaves_everything_else_alone(records):
    rewritten = record(records, "chunk_created")
    rewritten["eventName"] = "MODIFY"  # a retried plan rewrites its chunks: not new work
    progress = record(records, "order_received")
    progress["eventName"] = "MODIFY"
    progress["dynamodb"]["NewImage"]["status"] = {"S": "GENERATING"}
    removed = record(records, "order_received")
    removed["eventName"] = "REMOVE"
    del removed["dynamodb"]["NewImage"]

    for other in (
        rewritten,
        progress,
        removed,
        record(records, "order_generated"),
        record(records, "delivery_pending"),
    ):
        assert generation_task(other) is None


def test_the_delivery_function_sends_a_pending_delivery_and_wakes_a_generated_order(records):
    pending = record(records, "delivery_pending")
    assert delivery_task(pending) == SendDelivery(ETICKET_DELIVERY_ID)
    assert delivery_task(record(records, "order_generated")) == WakeDeliveries(KEY)


def test_the_delivery_function_leaves_everything_else_alone(records):
    sending = record(records, "delivery_pending")
    sending["eventName"] = "MODIFY"
    sending["dynamodb"]["NewImage"]["status"] = {"S": "SENDING"}
    still_generated = record(records, "order_generated")  # a later change of a GENERATED order
    still_generated["dynamodb"]["OldImage"]["status"] = {"S": "GENERATED"}

    for other in (
        sending,
        still_generated,
        record(records, "order_received"),
        record(records, "chunk_created"),
    ):
        assert delivery_task(other) is None


def test_records_are_taken_as_event_dicts_or_as_powertools_records(records):
    received = record(records, "order_received")
    assert generation_task(DynamoDBRecord(received)) == generation_task(received)
    pending = record(records, "delivery_pending")
    assert delivery_task(DynamoDBRecord(pending)) == delivery_task(pending)


def test_the_notifier_sends_what_a_made_or_shipped_order_left_pending(records):
    made = record(records, "order_made")
    shipped = record(records, "order_shipped")
    assert notification_task(made) == NotifyPlatform(KEY, ((PlatformNotice.MAKE_FINISH, 0),))
    assert notification_task(shipped) == NotifyPlatform(KEY, ((PlatformNotice.STATUS_SENDED, 0),))
    # A confirmed order whose notifications are still pending is notified too
    shipped["dynamodb"]["NewImage"]["status"] = {"S": "CONFIRMED"}
    assert notification_task(shipped) == NotifyPlatform(KEY, ((PlatformNotice.STATUS_SENDED, 0),))
    assert notification_task(DynamoDBRecord(made)) == notification_task(made)


def test_the_notifier_looks_at_an_order_that_just_became_generated(records):
    assert notification_task(record(records, "order_generated")) == MakeTestOrder(KEY)
    still_generated = record(records, "order_generated")
    still_generated["dynamodb"]["OldImage"]["status"] = {"S": "GENERATED"}
    assert notification_task(still_generated) is None


def test_the_notifier_leaves_everything_else_alone(records):
    told = record(records, "order_made")  # the notifier's own SENT record
    told["dynamodb"]["NewImage"]["notifications"]["M"]["make_finish"]["M"]["state"] = {"S": "SENT"}
    failed = record(records, "order_made")
    failed["dynamodb"]["NewImage"]["notifications"]["M"]["make_finish"]["M"]["state"] = {
        "S": "FAILED"
    }
    pending_but_generating = record(records, "order_made")
    pending_but_generating["dynamodb"]["NewImage"]["status"] = {"S": "GENERATING"}
    for other in (
        told,
        failed,
        pending_but_generating,
        record(records, "order_received"),
        record(records, "chunk_created"),
        record(records, "delivery_pending"),
    ):
        assert notification_task(other) is None


# --- e-voucher fulfilment ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def eticket_records() -> dict[str, dict]:
    return {
        name: event["Records"][0] for name, event in eticket_events().items() if "Records" in event
    }


def test_a_delivery_is_carried_out_only_as_it_becomes_pending(records):
    # A notice delivery records its product and order while PENDING: a MODIFY that leaves it
    # PENDING is not a second task
    still_pending = record(records, "delivery_pending")
    still_pending["eventName"] = "MODIFY"
    still_pending["dynamodb"]["OldImage"] = copy.deepcopy(still_pending["dynamodb"]["NewImage"])
    assert delivery_task(still_pending) is None
    woken = copy.deepcopy(still_pending)
    woken["dynamodb"]["OldImage"]["status"] = {"S": "WAITING_STOCK"}
    assert delivery_task(woken) == SendDelivery(ETICKET_DELIVERY_ID)


def test_a_failsend_is_sent_only_as_its_delivery_gives_up(eticket_records):
    given_up = copy.deepcopy(eticket_records["stream_delivery_failsend.json"])
    task = delivery_task(given_up)
    assert isinstance(task, SendFailsend)
    # each attempt counted on it streams too: not an attempt of its own
    counted = copy.deepcopy(given_up)
    counted["dynamodb"]["OldImage"] = copy.deepcopy(counted["dynamodb"]["NewImage"])
    counted["dynamodb"]["NewImage"]["failsend"]["M"]["attempts"] = {"N": "1"}
    assert delivery_task(counted) is None
    sent = copy.deepcopy(counted)
    sent["dynamodb"]["NewImage"]["failsend"]["M"]["state"] = {"S": "SENT"}
    assert delivery_task(sent) is None


def test_fulfilment_acts_on_a_notice_as_it_is_recorded_only(eticket_records):
    inserted = copy.deepcopy(eticket_records["stream_notice_send.json"])
    task = fulfilment_task(inserted)
    assert isinstance(task, FulfilNotice)
    assert (task.notice.method, task.notice.order_id, task.notice.num) == (
        "send",
        "1753340805138544",
        2,
    )
    assert "mobile" not in task.notice.parameters
    outcome_written = copy.deepcopy(inserted)
    outcome_written["eventName"] = "MODIFY"
    assert fulfilment_task(outcome_written) is None
    assert fulfilment_task(copy.deepcopy(eticket_records["stream_delivery_failsend.json"])) is None


def test_a_notice_delivery_without_cards_publishes_no_lifecycle_event(eticket_records):
    given_up = copy.deepcopy(eticket_records["stream_delivery_failsend.json"])
    assert lifecycle_change(given_up) is None
    claimed = copy.deepcopy(given_up)
    image = claimed["dynamodb"]["NewImage"]
    image["card_order_id"] = {"N": "16002"}
    image["request"]["M"]["own_sign"] = {"S": "daily"}
    image["request"]["M"]["template_no"] = {"S": "3010030E05"}
    change = lifecycle_change(claimed)
    assert change is not None
    assert (change.kind, change.order, change.template_no) == (
        "notice",
        KEY,
        "3010030E05",
    )
