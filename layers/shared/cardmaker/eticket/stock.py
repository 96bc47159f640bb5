"""A notice delivery's cards: its product's stock, resolved and claimed.

A product's stock is the remaining cards of its template over its environment's orders that
have their cards, oldest order first. A delivery takes all its cards from ONE order (a
delivery's cards are one range of one template's positions: that is what the allocation
cursor hands out atomically and what every retry sends again), so an order with fewer cards
left than asked is passed over for a later one; when none has enough, the delivery waits
(whole or not at all, never a partial send).

The order is recorded on the delivery before its cards are claimed there: a retry after a
crash between the claim and the send claims at the same order again and gets its own range
back (a claim is keyed by the delivery's id), never a second range elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import chain
from typing import TYPE_CHECKING

from cardmaker.deliveries.models import NoticeDeliveryRequest
from cardmaker.errors import ClaimContended
from cardmaker.eticket.products import ProductMapping
from cardmaker.orders.order import OrderKey

if TYPE_CHECKING:
    from cardmaker.deliveries.delivery import Delivery
    from cardmaker.eticket.ports import NoticeDeliveries, ProductReader, StockOrders
    from cardmaker.ports import CardStock, OrderReader


def stock_key(own_sign: str, template_no: str) -> str:
    """What a mapped delivery waits for: more cards of this template in this environment."""
    return f"STOCK#{own_sign}#{template_no}"


def product_key(merchant_code: str) -> str:
    """What an unmapped delivery waits for: a mapping of its merchant code."""
    return f"PRODUCT#{merchant_code}"


UNMAPPED_PREFIX = "PRODUCT#"
# Template sizes of orders that have their cards, kept per execution environment: they never
# change once an order is GENERATED, and reading an order is a Query of its item collection.
REMEMBERED_TEMPLATES = 4096


@dataclass(frozen=True)
class Claimed:
    """The delivery (its stock resolved, its order recorded) and its range's first position."""

    delivery: Delivery
    first: int


@dataclass(frozen=True)
class NoStock:
    """Nothing to claim yet: the delivery waits under ``stock_key``. ``seen``: the orders
    looked at, to tell whether one came since (a wake-up that may have missed it)."""

    delivery: Delivery
    stock_key: str
    seen: frozenset[int] = frozenset()


class NoticeStock:
    def __init__(
        self,
        deliveries: NoticeDeliveries,
        products: ProductReader,
        orders: OrderReader,
        stock_orders: StockOrders,
        cards: CardStock,
    ) -> None:
        self._deliveries = deliveries
        self._products = products
        self._orders = orders
        self._stock_orders = stock_orders
        self._cards = cards
        self._template_counts: dict[tuple[OrderKey, str], int | None] = {}

    def claim(self, delivery: Delivery) -> Claimed | NoStock:
        """The delivery's cards, claimed from the oldest order that has enough of them."""
        delivery = self.resolved(delivery)
        request = _notice(delivery)
        if request.own_sign is None or request.template_no is None:
            return NoStock(delivery, product_key(request.merchant_code))
        own_sign, template_no = request.own_sign, request.template_no
        recorded = delivery.card_order_id
        # The recorded order first: if this delivery claimed there before, that is its range.
        first_look = [recorded] if recorded is not None else []
        tried: set[int] = set()
        for card_order_id in chain(first_look, self._stock_orders.with_cards(own_sign)):
            if card_order_id in tried:
                continue
            tried.add(card_order_id)
            order = OrderKey(own_sign, card_order_id)
            available = self._template_count(order, template_no)
            if available is None or available < request.quantity:
                continue
            if card_order_id != recorded:
                if not self._deliveries.choose_order(delivery.delivery_id, order, recorded):
                    # Another attempt of the same delivery chose meanwhile: the stream
                    # brings the delivery back, and that attempt's choice is found then.
                    raise ClaimContended(
                        f"delivery {delivery.delivery_id} chose its order in another attempt"
                    )
                recorded = card_order_id
            first = self._cards.claim(
                order, template_no, delivery.delivery_id, request.quantity, available
            )
            if first is not None:
                return Claimed(replace(delivery, card_order_id=card_order_id), first)
        return NoStock(delivery, stock_key(own_sign, template_no), frozenset(tried))

    def wait(self, no_stock: NoStock) -> bool:
        """PENDING -> WAITING_STOCK; and straight back if stock came between the look and
        the wait (its wake-up looked for waiting deliveries before this one was)."""
        delivery_id = no_stock.delivery.delivery_id
        waiting = self._deliveries.wait_for(delivery_id, no_stock.stock_key)
        if waiting and self._came_since(no_stock):
            self._deliveries.wake(delivery_id)
        return waiting

    def wake_for_order(self, order: OrderKey) -> list[str]:
        """The order has its cards now: wake the deliveries waiting for its templates."""
        stored = self._orders.get(order)
        if stored is None:
            return []
        return [
            delivery_id
            for template in stored.order.templates
            for delivery_id in self._deliveries.waiting_on(
                stock_key(order.own_sign, template.template_no)
            )
            if self._deliveries.wake(delivery_id)
        ]

    def _came_since(self, no_stock: NoStock) -> bool:
        request = _notice(no_stock.delivery)
        if request.own_sign is None:
            return self._products.get(request.merchant_code) is not None
        return any(
            card_order_id not in no_stock.seen
            for card_order_id in self._stock_orders.with_cards(request.own_sign)
        )

    def resolved(self, delivery: Delivery) -> Delivery:
        """The delivery with its product's stock, if its merchant code is mapped now (an
        unmapped delivery's stock is fixed the first time it is looked at mapped)."""
        request = _notice(delivery)
        if request.own_sign is not None:
            return delivery
        product = self._products.get(request.merchant_code)
        if product is None:
            return delivery
        mapping = ProductMapping(
            own_sign=product.own_sign,
            template_no=product.template_no,
            certificate_type=product.certificate_type,
        )
        return self._deliveries.resolve_product(delivery.delivery_id, mapping) or delivery

    def _template_count(self, order: OrderKey, template_no: str) -> int | None:
        """How many cards the order's template has (None: no such template, or its cards do
        not all exist yet)."""
        known = (order, template_no)
        if known in self._template_counts:
            return self._template_counts[known]
        stored = self._orders.get(order)
        if stored is None or not stored.order.status.has_cards:
            return None  # not remembered: it may be generated later
        template = stored.order.template(template_no)
        count = None if template is None else template.count
        if len(self._template_counts) >= REMEMBERED_TEMPLATES:
            self._template_counts.clear()
        self._template_counts[known] = count
        return count


def _notice(delivery: Delivery) -> NoticeDeliveryRequest:
    request = delivery.request
    if not isinstance(request, NoticeDeliveryRequest):
        raise TypeError("not a notice delivery")
    return request
