"""The one envelope of every lifecycle event (docs/events.md): what changed, in the business's
words, turned into EventBridge's ``Source`` / ``DetailType`` / ``Detail``.

An event is built from the change alone (the stream record's old and new images, decoded by
``store.stream.lifecycle_change``), never from a read or the clock: the same change gives the
very same event, ``event_id`` included, however often the stream hands it over. Subscribers
drop repeats by ``event_id``.

What an event never carries: a card number or secret, the e-voucher token, the buyer of a bind,
the order's receiver (``logistics_info``), or who made the order (an operator's identity).
The detail is built field by field from what is listed here, never by copying an image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cardmaker.deliveries.delivery import DeliveryStatus
from cardmaker.orders.models import Waybill
from cardmaker.orders.order import OrderKey, OrderStatus

EVENT_SOURCE = "cardmaker"

# The detail-type of each status an event is published for (GENERATING is not one: it is
# the first chunk's start, not a step an integrator acts on).
ORDER_DETAIL_TYPES: Mapping[OrderStatus, str] = {
    OrderStatus.RECEIVED: "Order Received",
    OrderStatus.GENERATED: "Order Generated",
    OrderStatus.MADE: "Order Made",
    OrderStatus.SHIPPED: "Order Shipped",
    OrderStatus.CONFIRMED: "Order Confirmed",
    OrderStatus.FAILED: "Order Failed",
}
DELIVERY_DETAIL_TYPES: Mapping[DeliveryStatus, str] = {
    DeliveryStatus.DELIVERED: "Delivery Delivered",
    DeliveryStatus.PARTIAL: "Delivery Partial",
    DeliveryStatus.FAILED: "Delivery Failed",
}
EVENT_DETAIL_TYPES = (*ORDER_DETAIL_TYPES.values(), *DELIVERY_DETAIL_TYPES.values())


@dataclass(frozen=True)
class OrderStatusChanged:
    """An order moved to a status an event is published for (RECEIVED: it arrived)."""

    order: OrderKey
    status: OrderStatus
    previous: OrderStatus | None
    at: str  # when: the header's updated_at of this very write (ISO 8601)
    card_count: int
    template_count: int
    waybill: Waybill | None = None  # SHIPPED and later
    failure_reason: str | None = None  # FAILED: our words, never the platform's text


@dataclass(frozen=True)
class DeliveryFinished:
    """A delivery reached a final status: DELIVERED, PARTIAL or FAILED."""

    delivery_id: str
    kind: str  # eticket or bind
    order: OrderKey
    template_no: str
    quantity: int
    status: DeliveryStatus
    previous: DeliveryStatus | None
    at: str
    outcomes: Mapping[str, int] = field(default_factory=dict)  # cards by outcome
    failure_reason: str | None = None


LifecycleChange = OrderStatusChanged | DeliveryFinished


@dataclass(frozen=True)
class LifecycleEvent:
    """One event as EventBridge takes it: ``detail`` is the documented JSON object."""

    detail_type: str
    detail: Mapping[str, Any]
    time: str

    @property
    def event_id(self) -> str:
        return str(self.detail["event_id"])

    def entry(self, bus_name: str) -> dict[str, Any]:
        """The ``PutEvents`` entry for the bus ``bus_name``."""
        entry: dict[str, Any] = {
            "Source": EVENT_SOURCE,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, ensure_ascii=False, separators=(",", ":")),
            "EventBusName": bus_name,
        }
        moment = _moment(self.time)
        if moment is not None:  # the envelope's time is the change's, not the publication's
            entry["Time"] = moment
        return entry


def lifecycle_event(change: LifecycleChange) -> LifecycleEvent:
    """The event of a change: its detail-type and detail (docs/events.md)."""
    if isinstance(change, OrderStatusChanged):
        return _order_event(change)
    return _delivery_event(change)


def event_id(subject: str, status: str, at: str) -> str:
    """``<making_card_no or delivery_id>:<status>:<time of the change>``: the same for every
    copy of one change, and a new one for a status entered again (an order reopened after
    FAILED that fails once more is a new failure, not a repeat)."""
    return f"{subject}:{status}:{at}"


def _order_key_fields(key: OrderKey) -> dict[str, Any]:
    return {
        "card_order_id": key.card_order_id,
        "own_sign": key.own_sign,
        "making_card_no": key.making_card_no,
    }


def _order_event(change: OrderStatusChanged) -> LifecycleEvent:
    detail: dict[str, Any] = {
        "event_id": event_id(change.order.making_card_no, change.status.value, change.at),
        **_order_key_fields(change.order),
        "status": change.status.value,
        "previous_status": change.previous.value if change.previous else None,
        "time": change.at,
        "card_count": change.card_count,
        "template_count": change.template_count,
    }
    if change.status is OrderStatus.SHIPPED and change.waybill is not None:
        detail["waybill"] = {
            "logistics_company": change.waybill.logistics_company,
            "logistics_order_id": change.waybill.logistics_order_id,
        }
    if change.status is OrderStatus.FAILED:
        detail["failure_reason"] = change.failure_reason
    return LifecycleEvent(ORDER_DETAIL_TYPES[change.status], detail, change.at)


def _delivery_event(change: DeliveryFinished) -> LifecycleEvent:
    detail: dict[str, Any] = {
        "event_id": event_id(change.delivery_id, change.status.value, change.at),
        "delivery_id": change.delivery_id,
        "type": change.kind,
        **_order_key_fields(change.order),
        "template_no": change.template_no,
        "quantity": change.quantity,
        "status": change.status.value,
        "previous_status": change.previous.value if change.previous else None,
        "time": change.at,
        "cards": dict(sorted(change.outcomes.items())),
    }
    if change.status is DeliveryStatus.FAILED:
        detail["failure_reason"] = change.failure_reason
    return LifecycleEvent(DELIVERY_DETAIL_TYPES[change.status], detail, change.at)


def _moment(at: str) -> datetime | None:
    try:
        return datetime.fromisoformat(at)
    except ValueError:  # an item written before times were ISO 8601: EventBridge's own time
        return None
