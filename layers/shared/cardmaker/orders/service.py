"""Receiving orders: idempotent on content, refusing a different order under the same id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from cardmaker.exceptions import OrderConflict, OrderNotFound
from cardmaker.orders.order import Order, OrderKey, OrderStatus, StoredOrder
from cardmaker.top.timestamps import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from cardmaker.orders.models import CardOrderMakeRequest


@dataclass(frozen=True)
class StoredHeader:
    """What is needed of an existing order to tell a replay from a conflict."""

    status: OrderStatus
    content_hash: str
    making_card_no: str


class OrderExists(Exception):
    def __init__(self, stored: StoredHeader) -> None:
        super().__init__("order exists")
        self.stored = stored


class OrderStore(Protocol):
    def insert(self, order: Order) -> None:
        """Store a new order; raise ``OrderExists`` if its key is taken."""

    def get(self, key: OrderKey) -> StoredOrder | None: ...


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
