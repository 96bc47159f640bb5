"""Creating and reading deliveries (the HTTP API's side)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardmaker.deliveries.delivery import Delivery, DeliveryStatus, Requester, request_fingerprint
from cardmaker.deliveries.listing import (
    DEFAULT_DELIVERY_PAGE,
    MAX_DELIVERY_PAGE,
    DeliverySummary,
    page_token,
    read_page_token,
)
from cardmaker.deliveries.models import NoticeDeliveryRequest
from cardmaker.deliveries.waiting import WaitingReason, waiting_reason
from cardmaker.errors import (
    DeliveryConflict,
    DeliveryExists,
    DeliveryNotFound,
    DeliveryRefused,
    DeliveryStateConflict,
)
from cardmaker.orders.order import OrderKey
from cardmaker.top.timestamps import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from cardmaker.deliveries.models import BindDeliveryRequest, EticketDeliveryRequest
    from cardmaker.ports import DeliveryReopening, DeliveryStore, OrderReader, StockCount


class DeliveryService:
    def __init__(
        self,
        deliveries: DeliveryStore,
        orders: OrderReader,
        clock: Callable[[], datetime] = utc_now,
        *,
        serves_environment: Callable[[str], bool],
        stock: StockCount,
    ) -> None:
        """``serves_environment(own_sign)``: may the TOP gateway deliver that environment's
        orders (a production gateway: ``online`` only). ``stock``: how many cards of a
        template claims hold, for why a delivery waits."""
        self._deliveries = deliveries
        self._orders = orders
        self._clock = clock
        self._serves_environment = serves_environment
        self._stock = stock

    def create(
        self, request: EticketDeliveryRequest | BindDeliveryRequest, requested_by: Requester
    ) -> Delivery:
        """A new delivery asked for by ``requested_by``, or the existing one for the same
        outer_id / out_biz_id (which keeps whoever asked for it first)."""
        self._check_against_order(request)
        delivery = Delivery.new(
            request, self._clock().isoformat(timespec="milliseconds"), requested_by
        )
        fingerprint = request_fingerprint(request)
        try:
            self._deliveries.create(delivery, fingerprint)
        except DeliveryExists as exists:
            if exists.fingerprint != fingerprint:
                raise DeliveryConflict(
                    (request.type == "eticket" and "outer_id") or "out_biz_id",
                    "a different delivery already uses this id",
                ) from None
            return exists.existing
        return delivery

    def get(self, delivery_id: str) -> Delivery:
        delivery = self._deliveries.get(delivery_id)
        if delivery is None:
            raise DeliveryNotFound(f"delivery {delivery_id[:64]} does not exist")
        return delivery

    def why_waiting(self, delivery: Delivery) -> WaitingReason | None:
        """Why ``delivery`` waits for stock (None unless it does)."""
        return waiting_reason(delivery, self._orders, self._stock)

    def cancel(self, delivery_id: str, cancelled_by: Requester) -> DeliveryCancelled:
        """Cancel an operator's delivery that waits for stock: it never sends, whatever
        arrives later. Cancelling a CANCELLED one again changes nothing. Raises
        ``DeliveryNotFound``, or ``DeliveryStateConflict`` (nothing changed) for one that is
        being sent or is final, and for a send-code notice's."""
        delivery = self.get(delivery_id)
        if delivery.status is DeliveryStatus.CANCELLED:
            return DeliveryCancelled(delivery, changed=False)
        refusal = _cannot_cancel(delivery)
        if refusal is None and self._deliveries.cancel_waiting(delivery_id, cancelled_by):
            return DeliveryCancelled(self.get(delivery_id), changed=True)
        if refusal is None:  # moved meanwhile (woken by the stock arriving): look again
            delivery = self.get(delivery_id)
            if delivery.status is DeliveryStatus.CANCELLED:
                return DeliveryCancelled(delivery, changed=False)
            refusal = _cannot_cancel(delivery) or "it changed meanwhile: look again"
        raise DeliveryStateConflict(
            f"delivery {delivery_id} is {delivery.status.value}: {refusal}",
            delivery.status.value,
        )

    def list_for_order(
        self, order: OrderKey, limit: int = DEFAULT_DELIVERY_PAGE, next_token: str | None = None
    ) -> ListedDeliveries:
        """A page of the order's deliveries, newest first, continuing the listing
        ``next_token`` came from. Raises ``PageTokenInvalid``."""
        if not 1 <= limit <= MAX_DELIVERY_PAGE:
            raise ValueError(f"limit must be 1..{MAX_DELIVERY_PAGE}")
        after = read_page_token(next_token, order) if next_token else None
        page = self._deliveries.page_for_order(order, limit, after)
        token = page_token(order, page.after) if page.after else None
        return ListedDeliveries(page.deliveries, token)

    def _check_against_order(self, request: EticketDeliveryRequest | BindDeliveryRequest) -> None:
        if not self._serves_environment(request.own_sign):
            # Test orders' cards must never reach a real buyer.
            raise DeliveryRefused(
                "own_sign",
                "this deployment's TOP gateway is production: it delivers online orders only",
            )
        stored = self._orders.get(OrderKey(request.own_sign, request.card_order_id))
        if stored is None:
            raise DeliveryRefused("card_order_id", "no such order in this environment")
        template = stored.order.template(request.template_no)
        if template is None:
            raise DeliveryRefused("template_no", "the order has no such template")
        if request.quantity > template.count:
            raise DeliveryRefused("quantity", f"the template has {template.count} cards in all")


@dataclass(frozen=True)
class DeliveryCancelled:
    """The delivery after a cancel; ``changed``: this call cancelled it (False: it already
    was)."""

    delivery: Delivery
    changed: bool


@dataclass(frozen=True)
class ListedDeliveries:
    deliveries: list[DeliverySummary]
    next_token: str | None


def _cannot_cancel(delivery: Delivery) -> str | None:
    """Why ``delivery`` cannot be cancelled; None if it can (it waits for stock)."""
    status = delivery.status
    if isinstance(delivery.request, NoticeDeliveryRequest):
        return (
            "a send-code notice's delivery is not cancelled by an operator: the platform's "
            "cancel notice stops it, and its stock deadline tells the platform (ma.failsend)"
        )
    if status is DeliveryStatus.WAITING_STOCK:
        return None
    if status is DeliveryStatus.PENDING:
        return (
            "the delivery function is taking its cards now; only a delivery WAITING_STOCK "
            "can be cancelled (look again in a moment)"
        )
    if status is DeliveryStatus.SENDING:
        return "its cards are being sent; only a delivery WAITING_STOCK can be cancelled"
    return "it is final; only a delivery WAITING_STOCK can be cancelled"


@dataclass(frozen=True)
class DeliveryReopened:
    """What reopening found and left; ``note`` says why a FAILED delivery stayed FAILED."""

    delivery_id: str
    before: DeliveryStatus
    after: DeliveryStatus
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.before is not self.after


def reopen_delivery(store: DeliveryReopening, delivery_id: str) -> DeliveryReopened:
    """Put a delivery that gave up after its attempts back to SENDING, before its failed
    stream record is replayed (a FAILED delivery makes it a no-op). It keeps its claimed
    cards and its outer_id / out_biz_id, so the platform sees the same request again. A
    delivery the platform refused stays FAILED: re-sending it would be refused again."""
    delivery = store.get(delivery_id)
    if delivery is None:
        raise DeliveryNotFound(f"delivery {delivery_id[:64]} does not exist")
    before = delivery.status
    if before is not DeliveryStatus.FAILED:
        return DeliveryReopened(delivery_id, before, before)
    if store.reopen(delivery_id):
        return DeliveryReopened(delivery_id, before, DeliveryStatus.SENDING)
    current = store.get(delivery_id)
    after = current.status if current is not None else before
    note = ""
    if after is DeliveryStatus.FAILED:
        note = (
            "refused by the platform, not retried"
            if current is not None and current.failure_reason is None
            else "no cards were claimed"
        )
    return DeliveryReopened(delivery_id, before, after, note)
