"""The operators' side of products: map a merchant code to a stock (which wakes the notice
deliveries waiting for that mapping), read one, list them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardmaker.errors import ProductNotFound
from cardmaker.eticket.products import Product
from cardmaker.eticket.stock import product_key
from cardmaker.top.timestamps import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from cardmaker.eticket.ports import NoticeDeliveries, ProductStore
    from cardmaker.eticket.products import ProductMapping


@dataclass(frozen=True)
class Mapped:
    """A product as mapped, and the notice deliveries the mapping woke."""

    product: Product
    woken: tuple[str, ...] = ()


class ProductCatalogue:
    def __init__(
        self,
        products: ProductStore,
        deliveries: NoticeDeliveries,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._products = products
        self._deliveries = deliveries
        self._clock = clock

    def map(self, merchant_code: str, mapping: ProductMapping) -> Mapped:
        """Map (or map again) the code. The deliveries waiting for a mapping of it go back
        in line: the delivery function resolves their stock from this mapping."""
        product = Product(
            merchant_code=merchant_code,
            **mapping.model_dump(),
            updated_at=self._clock().isoformat(timespec="milliseconds"),
        )
        self._products.put(product)
        woken = tuple(
            delivery_id
            for delivery_id in self._deliveries.waiting_on(product_key(merchant_code))
            if self._deliveries.wake(delivery_id)
        )
        return Mapped(product, woken)

    def get(self, merchant_code: str) -> Product:
        product = self._products.get(merchant_code)
        if product is None:
            raise ProductNotFound(f"no product is mapped to merchant code {merchant_code[:64]}")
        return product

    def list(self) -> list[Product]:
        return self._products.list()
