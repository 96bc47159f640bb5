"""Reopening what gave up (for `cardmaker dlq redrive --reopen`): conditional updates against
moto, and what the streams' filters see afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cardmaker import (
    BindDeliveryRequest,
    CardOrderMakeRequest,
    CardOutcome,
    CardResult,
    Delivery,
    DeliveryNotFound,
    DeliveryStatus,
    DynamoDBDeliveryRepository,
    DynamoDBGenerationRepository,
    DynamoDBOrderRepository,
    OrderKey,
    OrderNotFound,
    OrderService,
    OrderStatus,
    PlanOrder,
    Requester,
    delivery_task,
    generation_task,
    reopen_delivery,
    reopen_order,
)
from cardmaker.store import delivery_schema, from_item, schema
from cardmaker_cli.samples import sample_order
from local.platform import sample_delivery

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
KEY = OrderKey("daily", 16002)


@pytest.fixture
def generation(dynamodb, orders_table):
    OrderService(DynamoDBOrderRepository(orders_table, dynamodb), clock=lambda: NOW).receive(
        CardOrderMakeRequest.model_validate(sample_order(16002, templates=[("T1", 5, "100")]))
    )
    return DynamoDBGenerationRepository(orders_table, dynamodb)


@pytest.fixture
def deliveries(dynamodb, stack):
    return DynamoDBDeliveryRepository(stack.physical["DeliveriesTable"], dynamodb)


def header(dynamodb, orders_table):
    raw = dynamodb.get_item(TableName=orders_table, Key=schema.header_key(KEY))["Item"]
    return raw, from_item(raw)


def modified(raw):
    """The stream record of an update that left the item as ``raw``."""
    return {"eventName": "MODIFY", "dynamodb": {"NewImage": raw}}


def start_and_fail(generation):
    order = generation.get(KEY).order
    assert generation.start(order, first_sequence=700, chunk_size=5000, chunks_total=1)
    assert generation.fail(KEY, "chunk T1-0 failed 5 times, last with OSError")


def test_failed_order_reopens_to_generating_keeping_its_plan(generation, dynamodb, orders_table):
    # Given an order that failed while generating
    start_and_fail(generation)
    # When it is reopened
    reopened = reopen_order(generation, KEY)
    # Then it is GENERATING again, with the same sequence block and chunking, and no reason
    assert (reopened.before, reopened.after, reopened.changed) == (
        OrderStatus.FAILED,
        OrderStatus.GENERATING,
        True,
    )
    raw, item = header(dynamodb, orders_table)
    assert item["status"] == "GENERATING"
    assert (item["first_sequence"], item["chunk_size"], item["chunks_total"]) == (700, 5000, 1)
    assert "failure_reason" not in item
    # and the generator's filter does not pick the header up by itself (only chunks are work)
    assert generation_task(modified(raw)) is None
    # A second reopen changes nothing
    assert generation.reopen(KEY) is None
    assert reopen_order(generation, KEY).changed is False


def test_failed_order_never_planned_reopens_to_received_and_replans_itself(
    generation, dynamodb, orders_table
):
    # Given an order FAILED before it was planned (no chunking on it)
    dynamodb.update_item(
        TableName=orders_table,
        Key=schema.header_key(KEY),
        UpdateExpression="SET #s = :failed, failure_reason = :why",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":failed": {"S": "FAILED"}, ":why": {"S": "x"}},
    )
    # When it is reopened, it is RECEIVED: the generator's stream filter wants it again
    assert reopen_order(generation, KEY).after is OrderStatus.RECEIVED
    raw, item = header(dynamodb, orders_table)
    assert item["status"] == "RECEIVED"
    assert "failure_reason" not in item
    assert generation_task(modified(raw)) == PlanOrder(KEY)


@pytest.mark.parametrize("status", ["RECEIVED", "GENERATING", "GENERATED"])
def test_only_failed_orders_are_reopened(generation, dynamodb, orders_table, status):
    dynamodb.update_item(
        TableName=orders_table,
        Key=schema.header_key(KEY),
        UpdateExpression="SET #s = :status",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":status": {"S": status}},
    )
    before = header(dynamodb, orders_table)[1]
    reopened = reopen_order(generation, KEY)
    assert (reopened.before.value, reopened.after.value) == (status, status)
    assert header(dynamodb, orders_table)[1] == before


def test_reopening_an_unknown_order_says_so(generation):
    with pytest.raises(OrderNotFound):
        reopen_order(generation, OrderKey("pre", 1))


def new_delivery(deliveries):
    request = BindDeliveryRequest.model_validate(sample_delivery("bind", template_no="T1"))
    delivery = Delivery.new(
        request, NOW.isoformat(), Requester("arn:aws:iam::123456789012:user/operator")
    )
    deliveries.create(delivery, "fingerprint")
    return delivery


def raw_delivery(dynamodb, stack, delivery_id):
    return dynamodb.get_item(
        TableName=stack.physical["DeliveriesTable"],
        Key=delivery_schema.delivery_key(delivery_id),
    )["Item"]


def test_delivery_that_gave_up_reopens_to_sending_with_its_cards(deliveries, dynamodb, stack):
    # Given a delivery that claimed positions 40.. and gave up after two attempts
    delivery = new_delivery(deliveries)
    deliveries.start_sending(delivery.delivery_id, 40)
    deliveries.start_sending(delivery.delivery_id, 99)
    assert deliveries.fail(delivery.delivery_id, "gave up after 2 attempts: TOP 7")
    # When it is reopened
    reopened = reopen_delivery(deliveries, delivery.delivery_id)
    # Then it is SENDING with the same range, request and attempts, and no reason
    assert (reopened.before, reopened.after) == (DeliveryStatus.FAILED, DeliveryStatus.SENDING)
    stored = deliveries.get(delivery.delivery_id)
    assert stored.status is DeliveryStatus.SENDING
    assert stored.positions == range(40, 43)
    assert stored.request == delivery.request
    assert stored.attempts == 2
    assert stored.failure_reason is None
    # and the deliveries stream's filter (PENDING) does not send it again by itself
    raw = raw_delivery(dynamodb, stack, delivery.delivery_id)
    assert delivery_task(modified(raw)) is None
    # Reopening again changes nothing
    assert reopen_delivery(deliveries, delivery.delivery_id).changed is False


def test_delivery_refused_by_the_platform_stays_failed(deliveries):
    delivery = new_delivery(deliveries)
    sending = deliveries.start_sending(delivery.delivery_id, 0)
    refused = [
        CardResult(f"31010000000000000{p:02d}", p, CardOutcome.FAILED, "isv.invalid", "no")
        for p in sending.positions
    ]
    assert deliveries.finish(sending.finished(refused))
    assert not deliveries.reopen(delivery.delivery_id)
    reopened = reopen_delivery(deliveries, delivery.delivery_id)
    assert reopened.after is DeliveryStatus.FAILED
    assert reopened.note == "refused by the platform, not retried"
    assert deliveries.get(delivery.delivery_id).status is DeliveryStatus.FAILED


@pytest.mark.parametrize("steps", [0, 1])
def test_only_failed_deliveries_are_reopened(deliveries, steps):
    delivery = new_delivery(deliveries)
    if steps:
        deliveries.start_sending(delivery.delivery_id, 0)
    before = deliveries.get(delivery.delivery_id)
    reopened = reopen_delivery(deliveries, delivery.delivery_id)
    assert reopened.changed is False
    assert deliveries.get(delivery.delivery_id) == before


def test_reopening_an_unknown_delivery_says_so(deliveries):
    with pytest.raises(DeliveryNotFound):
        reopen_delivery(deliveries, "BD-nope")
