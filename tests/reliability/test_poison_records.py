"""Poison records, end to end on the real template: a stream record that fails on every
attempt is given up to the function's on-failure queue after 1 + StreamMaxRetries (4)
invocations, while the records behind it on the same shard keep flowing; `cardmaker dlq
list` shows the batch, and it points at the very record that failed."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from cardmaker import (
    Card,
    DynamoDBCardRepository,
    DynamoDBDeliveryRepository,
    DynamoDBOrderRepository,
    OrderKey,
)
from cardmaker.store import card_schema
from cardmaker_cli.stream_records import lambda_record
from chaos._crash_world import Workload, quiet_stack
from local.stack import LocalStack
from local.streams import streams_client
from tests.conftest import send_accepted_order
from tests.reliability.conftest import dlq_list

ATTEMPTS = 5  # the template's StreamMaxRetries (4) + the first invocation
_order_ids = itertools.count(62_000)
pytestmark = pytest.mark.stack_owns_environment  # its local stack outlives each test


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """Metrics off (``chaos._crash_world.quiet_stack``): the functions, still retrying in the
    background, would print their metric lines into the JSON of `cardmaker dlq list`."""
    with quiet_stack() as running:
        yield running


@pytest.fixture
def poisoned(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """On every attempt, card writes of the orders in ``orders``, card reads of the templates
    in ``templates`` and data key reads of the orders in ``keys`` fail (an unreachable
    partition, a corrupt item...); ``attempts`` counts the failed ones per poisoned id."""
    state: dict[str, Any] = {"orders": set(), "templates": set(), "keys": set(), "attempts": {}}
    write_cards = DynamoDBCardRepository.write_cards
    read_cards = DynamoDBCardRepository.read_cards
    wrapped_chunk_key = DynamoDBCardRepository.wrapped_chunk_key

    def failing_write(self: DynamoDBCardRepository, batches: Any) -> int:
        batches = list(batches)
        order_id = batches[0].order.card_order_id
        if order_id in state["orders"]:
            state["attempts"][order_id] = state["attempts"].get(order_id, 0) + 1
            raise OSError("this order's cards cannot be written")
        return write_cards(self, batches)

    def failing_read(
        self: DynamoDBCardRepository, order: OrderKey, template_no: str, positions: range
    ) -> list[Card]:
        if template_no in state["templates"]:
            state["attempts"][template_no] = state["attempts"].get(template_no, 0) + 1
            raise OSError("this template's cards cannot be read")
        return read_cards(self, order, template_no, positions)

    def failing_key(self: DynamoDBCardRepository, order: OrderKey, chunk_id: str) -> bytes:
        if order.card_order_id in state["keys"]:
            state["attempts"][order.card_order_id] = (
                state["attempts"].get(order.card_order_id, 0) + 1
            )
            raise OSError("this order's data keys cannot be read")
        return wrapped_chunk_key(self, order, chunk_id)

    monkeypatch.setattr(DynamoDBCardRepository, "write_cards", failing_write)
    monkeypatch.setattr(DynamoDBCardRepository, "read_cards", failing_read)
    monkeypatch.setattr(DynamoDBCardRepository, "wrapped_chunk_key", failing_key)
    return state


def order_status(stack: LocalStack, order_id: int) -> tuple[str, int]:
    orders = DynamoDBOrderRepository(stack.stack.physical["OrdersTable"], stack.client("dynamodb"))
    stored = orders.get(OrderKey("daily", order_id))
    assert stored is not None
    return stored.order.status.value, stored.order.card_count


def failure_messages(stack: LocalStack, queue: str) -> list[dict[str, Any]]:
    """Every message of an on-failure queue, read and made visible again at once."""
    sqs = stack.client("sqs")
    url = stack.outputs()[f"{queue}QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(message["Body"]) for message in found.get("Messages", [])]


def drain(stack: LocalStack, queue: str) -> None:
    """Delete every message of the queue (PurgeQueue works once a minute)."""
    sqs = stack.client("sqs")
    url = stack.outputs()[f"{queue}QueueUrl"]
    while found := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in found:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def record_at(stack: LocalStack, info: dict[str, Any]) -> dict[str, Any]:
    """The stream record a failure message points at (its shard and sequence number)."""
    streams = streams_client(stack.session(), stack.moto_url)
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    (first, *_) = streams.get_records(ShardIterator=iterator, Limit=1)["Records"]
    return lambda_record(first, info["streamArn"]).event


def test_an_order_that_never_generates_is_given_up_and_the_orders_behind_it_flow(
    stack, poisoned, tmp_path
):
    drain(stack, "GeneratorFailures")
    # Given an order whose chunk fails on every attempt, and two orders sent right behind it
    # (their records queue up behind the poison on the orders stream's shard)
    poison, *healthy = next(_order_ids), next(_order_ids), next(_order_ids)
    poisoned["orders"].add(poison)
    send_accepted_order(stack, poison, [("3010030E02", 40, "100")])
    for order_id in healthy:
        send_accepted_order(stack, order_id, [("3010030E02", 30, "100"), ("3010030E05", 3, "5000")])

    # When the stream has been processed
    stack.wait_idle(60)

    # Then the poison chunk was invoked 1 + 4 times, the order is FAILED, and the orders
    # behind it were generated in full
    assert poisoned["attempts"][poison] == ATTEMPTS
    assert order_status(stack, poison)[0] == "FAILED"
    for order_id in healthy:
        assert order_status(stack, order_id) == ("GENERATED", 33)
    # and exactly one batch went to GeneratorFailures: Lambda's record of the poison chunk
    (message,) = failure_messages(stack, "GeneratorFailures")
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == ATTEMPTS
    assert message["requestContext"]["functionArn"].endswith(":function:CardGeneratorFunction")
    info = message["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    image = record_at(stack, info)["dynamodb"]["NewImage"]
    assert (image["entity"]["S"], image["card_order_id"]["N"]) == ("CHUNK", str(poison))
    # and `cardmaker dlq list` shows the operator that batch
    (listed,) = dlq_list(stack, tmp_path / "local-stack.json", "generator")
    assert (listed["function"], listed["condition"], listed["invocations"]) == (
        "CardGeneratorFunction",
        "RetryAttemptsExhausted",
        ATTEMPTS,
    )
    assert listed["start_sequence"] == info["startSequenceNumber"]
    drain(stack, "GeneratorFailures")


@pytest.mark.parametrize(
    "stage",
    [
        "opening the secrets",
        "reading the cards",
    ],
)
def test_a_delivery_that_always_fails_is_given_up_and_keeps_its_cards(
    stack, poisoned, tmp_path, stage
):
    drain(stack, "DeliveryFailures")
    # Given a generated order, and an e-voucher delivery that fails on every attempt at this
    # stage, followed by a bind delivery of another template
    order_id = next(_order_ids)
    send_accepted_order(stack, order_id, [("3010030E02", 30, "100"), ("3010030E05", 5, "5000")])
    stack.wait_idle(60)
    poisoned_id: int | str = order_id if stage == "opening the secrets" else "3010030E05"
    poisoned["keys" if stage == "opening the secrets" else "templates"].add(poisoned_id)
    workload = Workload(
        order_id,
        (("3010030E02", 30, "100"), ("3010030E05", 5, "5000")),
        (("eticket", "3010030E05", 2), ("bind", "3010030E02", 4)),
    )
    stuck, flowing = workload.send(stack.url)

    # When the deliveries stream has been processed
    stack.wait_idle(60)

    # Then the poison delivery gave up after 1 + 4 attempts, FAILED with its reason, and
    # keeps the cards it claimed (nobody else gets them); the one behind it was delivered
    assert poisoned["attempts"][poisoned_id] == ATTEMPTS
    deliveries = DynamoDBDeliveryRepository(
        stack.stack.physical["DeliveriesTable"], stack.client("dynamodb")
    )
    failed, delivered = deliveries.get(stuck), deliveries.get(flowing)
    assert failed is not None
    assert delivered is not None
    assert delivered.status.value == "DELIVERED"
    assert failed.status.value == "FAILED"
    assert failed.failure_reason == f"gave up after {ATTEMPTS} attempts: OSError"
    assert failed.first_position == 0
    cursor, claim = (
        stack.client("dynamodb").get_item(
            TableName=stack.stack.physical["CardsTable"], Key=key, ConsistentRead=True
        )["Item"]
        for key in (
            card_schema.cursor_key(workload.key, "3010030E05"),
            card_schema.claim_key(workload.key, "3010030E05", stuck),
        )
    )
    assert card_schema.claimed_range(claim) == range(0, 2)
    assert cursor["allocated"]["N"] == "2"
    # and its batch is in DeliveryFailures, listed for the operator
    (message,) = failure_messages(stack, "DeliveryFailures")
    assert message["requestContext"]["approximateInvokeCount"] == ATTEMPTS
    image = record_at(stack, message["DDBStreamBatchInfo"])["dynamodb"]["NewImage"]
    assert image["pk"]["S"] == f"DELIVERY#{stuck}"
    (listed,) = dlq_list(stack, tmp_path / "local-stack.json", "delivery")
    assert (listed["function"], listed["invocations"]) == ("CardDeliveryFunction", ATTEMPTS)
    drain(stack, "DeliveryFailures")
