"""Stream records decoded into tasks, in one place: what each function is asked to do, from
the sample events (the records the functions receive) and their variations."""

from __future__ import annotations

import copy

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from cardmaker import (
    Chunk,
    GenerateChunk,
    MakeTestOrder,
    NotifyPlatform,
    OrderKey,
    PlanOrder,
    PlatformNotice,
    SendDelivery,
    WakeDeliveries,
    delivery_task,
    generation_task,
    notification_task,
)
from local.events import ETICKET_DELIVERY_ID, stream_events

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
