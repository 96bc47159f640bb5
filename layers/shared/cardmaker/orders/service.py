"""Receiving orders: idempotent on content, refusing a different order under the same id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardmaker.errors import OrderConflict, OrderExists, OrderNotFound
from cardmaker.orders.order import Order, OrderKey, OrderStatus, StoredOrder
from cardmaker.top.timestamps import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from cardmaker.orders.models import CardOrderMakeRequest
    from cardmaker.ports import OrderReopening, OrderStore


@dataclass(frozen=True)
class Acceptance:
    making_card_no: str
    replayed: bool


class OrderService:
    def __init__(self, store: OrderStore, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock

    def receive(self, request: CardOrderMakeRequest) -> Acceptance:
        """Store a new order, or recognise a replay of one already stored."""
        order = Order.receive(request, self._clock())
        try:
            self._store.insert(order)
        except OrderExists as exists:
            stored = exists.stored
            if stored.content_hash != order.content_hash:
                raise OrderConflict(
                    "an order with this card_order_id and own_sign exists with other content"
                ) from None
            return Acceptance(making_card_no=stored.making_card_no, replayed=True)
        return Acceptance(making_card_no=order.making_card_no, replayed=False)

    def get(self, key: OrderKey) -> StoredOrder:
        stored = self._store.get(key)
        if stored is None:
            raise OrderNotFound(f"order {key.card_order_id} ({key.own_sign}) does not exist")
        return stored


@dataclass(frozen=True)
class OrderReopened:
    """What reopening found and left: ``before`` and ``after`` differ when it reopened."""

    key: OrderKey
    before: OrderStatus
    after: OrderStatus

    @property
    def changed(self) -> bool:
        return self.before is not self.after


def reopen_order(store: OrderReopening, key: OrderKey) -> OrderReopened:
    """Put a FAILED order back where generation resumes (GENERATING, or RECEIVED if it was
    never planned), before its failed stream records are replayed: a FAILED order makes
    them no-ops. Any other order is left as it is."""
    stored = store.get(key)
    if stored is None:
        raise OrderNotFound(f"order {key.card_order_id} ({key.own_sign}) does not exist")
    before = stored.order.status
    if before is not OrderStatus.FAILED:
        return OrderReopened(key, before, before)
    after = store.reopen(key)
    if after is None:  # moved on meanwhile: report where it is now
        current = store.get(key)
        after = current.order.status if current is not None else before
    return OrderReopened(key, before, after)
