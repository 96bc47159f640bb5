"""What e-voucher fulfilment needs of storage, in the business's words (the DynamoDB
repositories in ``store/`` implement them; ``cardmaker.ports`` holds the rest)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

# A base class, so imported at run time (not only for type checking).
from cardmaker.ports import DeliveryProgress

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cardmaker.deliveries.delivery import Delivery, FailsendState
    from cardmaker.eticket.products import Product, ProductMapping
    from cardmaker.orders.order import OrderKey


class ProductReader(Protocol):
    def get(self, merchant_code: str) -> Product | None: ...


class ProductStore(ProductReader, Protocol):
    def put(self, product: Product) -> None: ...
    def list(self) -> list[Product]: ...


class StockOrders(Protocol):
    def with_cards(self, own_sign: str) -> Iterator[int]:
        """The environment's orders whose cards exist, oldest first."""
        ...


class NoticeDeliveries(DeliveryProgress, Protocol):
    """A notice delivery's way: created once per Taobao order, its stock resolved and its
    order chosen before a claim, waiting under a stock key, given up with a failsend."""

    def create_once(self, delivery: Delivery, fingerprint: str) -> Delivery: ...
    def resolve_product(self, delivery_id: str, mapping: ProductMapping) -> Delivery | None: ...
    def choose_order(self, delivery_id: str, order: OrderKey, previous: int | None) -> bool: ...
    def wait_for(self, delivery_id: str, stock_key: str) -> bool: ...
    def waiting_on(self, stock_key: str) -> list[str]: ...
    def past_deadline(self, now: str) -> list[str]: ...
    def give_up(self, delivery_id: str, reason: str, sub_err_code: str, now: str) -> bool: ...
    def count_failsend_attempt(self, delivery_id: str) -> int | None: ...
    def record_failsend(
        self, delivery_id: str, state: FailsendState, code: str | None = None
    ) -> bool: ...
