"""An order's life after its cards exist: made, shipped, confirmed; and how the platform's
``cardorder.status.query`` reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardmaker.orders.models import Waybill
from cardmaker.orders.order import OrderStatus
from cardmaker.top.api_models import CardOrderProgress
from cardmaker.top.timestamps import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from cardmaker.orders.models import ShipmentRequest
    from cardmaker.orders.order import Order, OrderKey, StoredOrder
    from cardmaker.orders.templates import CardTemplate
    from cardmaker.ports import LifecycleStore
    from cardmaker.store.lifecycle import Transition

# Who made an order MADE when no operator did: all its templates are test templates.
MADE_BY_TEST_TEMPLATES = "test-template"

# The platform's names for where an order is (cardorder.status.query, platform-apis.md §2.1),
# defined once with the SPI answer that carries them.
PlatformStatus = CardOrderProgress
_PLATFORM_STATUS: Mapping[OrderStatus, PlatformStatus] = {
    OrderStatus.RECEIVED: "REQUEST_RECEIVED",
    OrderStatus.GENERATING: "REQUEST_RECEIVED",
    OrderStatus.GENERATED: "REQUEST_RECEIVED",
    OrderStatus.FAILED: "REQUEST_RECEIVED",
    OrderStatus.MADE: "WAITING_DELIVERY",
    # The platform's enum has nothing after shipping: a confirmed order stays DELIVERED.
    OrderStatus.SHIPPED: "DELIVERED",
    OrderStatus.CONFIRMED: "DELIVERED",
}


@dataclass(frozen=True)
class PlatformProgress:
    """What ``cardorder.status.query`` answers: the status, and the waybill once shipped."""

    status: PlatformStatus
    waybill: Waybill | None = None


def platform_progress(stored: StoredOrder | None) -> PlatformProgress:
    """Where the order is, in the platform's words (``REQUEST_NOT_EXIST`` for no order)."""
    if stored is None:
        return PlatformProgress("REQUEST_NOT_EXIST")
    status = _PLATFORM_STATUS[stored.order.status]
    waybill = stored.lifecycle.waybill if status == "DELIVERED" else None
    return PlatformProgress(status, waybill)


def needs_no_physical_cards(order: Order, registered: Mapping[str, CardTemplate]) -> bool:
    """Every template of the order is a registered test template (``is_test``): no cards are
    printed for it, so it is MADE as soon as it is GENERATED. An unregistered template counts
    as a real one."""
    return all(
        (template := registered.get(info.template_no)) is not None and template.is_test
        for info in order.templates
    )


class OrderLifecycle:
    """The operators' and the platform's steps of an order after ``GENERATED``."""

    def __init__(self, store: LifecycleStore, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock

    def made(self, key: OrderKey, made_by: str) -> Transition:
        """The physical cards are made (``GENERATED -> MADE``)."""
        return self._store.mark_made(key, made_by, self._clock())

    def ship(self, key: OrderKey, shipment: ShipmentRequest) -> Transition:
        """The cards left with ``shipment``'s waybill (``MADE -> SHIPPED``)."""
        return self._store.ship(key, shipment.waybill, self._clock())

    def progress(self, key: OrderKey) -> PlatformProgress:
        """Where the order is, as ``cardorder.status.query`` answers it (one read)."""
        return platform_progress(self._store.get(key))

    def confirm(self, key: OrderKey) -> Transition:
        """The platform says the buyer confirmed receipt (``-> CONFIRMED``)."""
        return self._store.confirm(key, self._clock())
