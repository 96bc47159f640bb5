"""What a DynamoDB stream record asks of a function, decoded in one place.

The generator, the delivery function and the notifier, the operator CLI (which replays
failed batches) and the local stack all ask here, and get a typed task or None (the event
sources' filters let the same records through; this is the check in code, so that a record a
filter would have dropped does nothing).

Records are read with Powertools' ``DynamoDBRecord``, what ``BatchProcessor`` hands a record
handler: it turns the images' attribute values into Python values with Powertools' own
deserializer and reads only what is asked of it. (Powertools' parser model for stream records
was the other candidate; it rejects a record missing any envelope field, used or not, and types
its images as a union a type checker cannot narrow.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from cardmaker.deliveries.delivery import FINAL, DeliveryStatus, FailsendState
from cardmaker.eticket.notice import Notice
from cardmaker.events.envelope import (
    ORDER_DETAIL_TYPES,
    DeliveryFinished,
    LifecycleChange,
    OrderStatusChanged,
)
from cardmaker.generation.plan import Chunk
from cardmaker.orders.order import NoticeState, OrderKey, OrderStatus, PlatformNotice
from cardmaker.store import delivery_schema, eticket_schema, schema


@dataclass(frozen=True)
class PlanOrder:
    """A newly received order: plan it into chunks."""

    order: OrderKey


@dataclass(frozen=True)
class GenerateChunk:
    """A newly written chunk: generate its cards."""

    chunk: Chunk


@dataclass(frozen=True)
class SendDelivery:
    """A PENDING delivery: carry it out."""

    delivery_id: str


@dataclass(frozen=True)
class SendFailsend:
    """A notice delivery that gave up on stock, its ma.failsend PENDING: send it."""

    delivery_id: str


@dataclass(frozen=True)
class FulfilNotice:
    """A newly recorded send-code notice: act on it."""

    notice: Notice


@dataclass(frozen=True)
class WakeDeliveries:
    """An order that just became GENERATED: its deliveries waiting for stock can go on."""

    order: OrderKey


@dataclass(frozen=True)
class MakeTestOrder:
    """An order that just became GENERATED: MADE by itself if all its templates are test
    templates."""

    order: OrderKey


@dataclass(frozen=True)
class NotifyPlatform:
    """An order with a platform notification PENDING: send it. ``pending``: the
    notifications the record shows PENDING, with the attempts they had then (to tell this
    record's own failed attempt from a later record's look at a FAILED notification)."""

    order: OrderKey
    pending: tuple[tuple[PlatformNotice, int], ...] = ()


StreamRecord = Mapping[str, Any] | DynamoDBRecord

# The statuses whose header may owe the platform a notification.
_NOTIFIED_STATUSES = frozenset(
    {OrderStatus.MADE.value, OrderStatus.SHIPPED.value, OrderStatus.CONFIRMED.value}
)


def generation_task(record: StreamRecord) -> PlanOrder | GenerateChunk | None:
    """What a record of the orders table's stream asks of the generator: plan a newly
    received order, generate a newly written chunk, or nothing."""
    change = _record(record)
    image, _ = _images(change)
    entity = image.get("entity")
    if entity == schema.ORDER_ENTITY and image.get("status") == OrderStatus.RECEIVED.value:
        return PlanOrder(schema.order_key_from_item(image))
    if entity == schema.CHUNK_ENTITY and change.event_name is DynamoDBRecordEventName.INSERT:
        # Only INSERT: a chunk item rewritten by a retried plan streams as MODIFY (on moto;
        # DynamoDB streams nothing for an identical put), and the chunk is already under way.
        return GenerateChunk(schema.chunk_from_item(image))
    return None


def delivery_task(
    record: StreamRecord,
) -> SendDelivery | SendFailsend | WakeDeliveries | None:
    """What a record of the deliveries or the orders table's stream asks of the delivery
    function: carry out a PENDING delivery, send a gave-up notice delivery's PENDING
    ma.failsend, wake the deliveries of an order that just became GENERATED, or nothing."""
    image, before = _images(_record(record))
    entity = image.get("entity")
    pending = DeliveryStatus.PENDING.value
    if (
        entity == delivery_schema.DELIVERY_ENTITY
        and image.get("status") == pending
        # Only as it becomes PENDING (new, or woken): a notice delivery records its product
        # and its order while PENDING, and those writes must not carry it out again.
        and before.get("status") != pending
    ):
        return SendDelivery(str(image["delivery_id"]))
    if (
        entity == delivery_schema.DELIVERY_ENTITY
        and image.get("status") == DeliveryStatus.FAILED.value
        and _failsend_state(image) == FailsendState.PENDING.value
        # Only as it is given up: each attempt counted on it streams too, and must not
        # make an attempt of its own (the stream retries this record, bounded).
        and _failsend_state(before) is None
    ):
        return SendFailsend(str(image["delivery_id"]))
    generated = OrderStatus.GENERATED.value
    if (
        entity == schema.ORDER_ENTITY
        and image.get("status") == generated
        and before.get("status") != generated
    ):
        return WakeDeliveries(schema.order_key_from_item(image))
    return None


def _failsend_state(image: Mapping[str, Any]) -> str | None:
    failsend = image.get(delivery_schema.FAILSEND)
    return str(failsend.get("state")) if isinstance(failsend, Mapping) else None


def fulfilment_task(record: StreamRecord) -> FulfilNotice | None:
    """What a record of the e-voucher table's stream asks of the fulfilment function: act on
    a notice just recorded (its INSERT; the outcome written on it afterwards streams as
    MODIFY and is nothing), or nothing (a product)."""
    change = _record(record)
    image, _ = _images(change)
    if (
        image.get("entity") != eticket_schema.NOTICE_ENTITY
        or change.event_name is not DynamoDBRecordEventName.INSERT
    ):
        return None
    parameters = image.get("parameters") or {}
    return FulfilNotice(
        Notice(
            method=str(image["method"]),
            order_id=str(image["order_id"]),
            received_at=str(image["received_at"]),
            parameters={str(name): str(value) for name, value in parameters.items()},
            digest=str(image.get("digest", "")),
        )
    )


def lifecycle_change(record: StreamRecord) -> LifecycleChange | None:
    """What a record of the orders or the deliveries table's stream tells integrators: an
    order that arrived or moved to a status events are published for, a delivery that became
    final, or nothing (a chunk, a template, a page; progress or a notification written on an
    order whose status stayed the same). Lambda's filters cannot compare the old image with
    the new one: this is where a record whose status did not change is dropped."""
    image, before = _images(_record(record))
    entity = image.get("entity")
    status, previous = image.get("status"), before.get("status")
    if status is None or status == previous:
        return None
    if entity == schema.ORDER_ENTITY:
        return _order_change(image, status, previous)
    # CANCELLED (an e-voucher refund before any card went out) has no event type yet.
    if entity == delivery_schema.DELIVERY_ENTITY and status in FINAL - {DeliveryStatus.CANCELLED}:
        request = image["request"]
        if request.get("type") == "notice" and (
            image.get("card_order_id") is None or request.get("template_no") is None
        ):
            # A notice delivery that never claimed cards (no stock) has no order to publish it
            # under; GET /deliveries/{id} shows it.
            return None
        return _delivery_finished(image, DeliveryStatus(status), previous)
    return None


def _order_change(
    image: dict[str, Any], status: str, previous: str | None
) -> OrderStatusChanged | None:
    now = OrderStatus(status)
    # RECEIVED only as the order arrives: a FAILED order reopened to RECEIVED is no new order.
    if now not in ORDER_DETAIL_TYPES or (now is OrderStatus.RECEIVED and previous is not None):
        return None
    lifecycle = schema.lifecycle_from_item(image)
    return OrderStatusChanged(
        order=schema.order_key_from_item(image),
        status=now,
        previous=OrderStatus(previous) if previous else None,
        at=str(image["updated_at"]),
        card_count=int(image.get("card_count", 0)),
        template_count=int(image.get("template_count", 0)),
        waybill=lifecycle.waybill,
        failure_reason=image.get("failure_reason"),
    )


def _delivery_finished(
    image: dict[str, Any], status: DeliveryStatus, previous: str | None
) -> DeliveryFinished | None:
    request = image["request"]
    # A notice delivery names its order once it claimed cards (``card_order_id`` beside the
    # request); one that never held any (no stock, no product) has no order to tell of.
    card_order_id = request.get("card_order_id", image.get("card_order_id"))
    if card_order_id is None or not request.get("own_sign") or not request.get("template_no"):
        return None
    outcomes: dict[str, int] = {}
    for card in image.get("cards") or []:
        outcomes[str(card["outcome"])] = outcomes.get(str(card["outcome"]), 0) + 1
    return DeliveryFinished(
        delivery_id=str(image["delivery_id"]),
        kind=str(request["type"]),
        order=OrderKey(request["own_sign"], int(card_order_id)),
        template_no=str(request["template_no"]),
        quantity=int(request["quantity"]),
        status=status,
        previous=DeliveryStatus(previous) if previous else None,
        at=str(image["updated_at"]),
        outcomes=outcomes,
        failure_reason=image.get("failure_reason"),
    )


def notification_task(record: StreamRecord) -> MakeTestOrder | NotifyPlatform | None:
    """What a record of the orders table's stream asks of the notifier: look at an order
    that just became GENERATED (test templates only?), send the PENDING notifications of a
    MADE, SHIPPED or CONFIRMED one, or nothing (its own SENT records among them)."""
    image, before = _images(_record(record))
    if image.get("entity") != schema.ORDER_ENTITY:
        return None
    status = image.get("status")
    generated = OrderStatus.GENERATED.value
    if status == generated and before.get("status") != generated:
        return MakeTestOrder(schema.order_key_from_item(image))
    notices = image.get(schema.NOTIFICATIONS) or {}
    pending = tuple(
        (PlatformNotice(name), int(notice.get("attempts", 0)))
        for name, notice in sorted(notices.items())
        if name in PlatformNotice._value2member_map_
        and isinstance(notice, Mapping)
        and notice.get("state") == NoticeState.PENDING.value
    )
    if status in _NOTIFIED_STATUSES and pending:
        return NotifyPlatform(schema.order_key_from_item(image), pending)
    return None


def _record(record: StreamRecord) -> DynamoDBRecord:
    return record if isinstance(record, DynamoDBRecord) else DynamoDBRecord(dict(record))


def _images(change: DynamoDBRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    """The item after and before the change, as plain values ({} where there is none)."""
    stream = change.dynamodb
    return ({}, {}) if stream is None else (stream.new_image, stream.old_image)
