"""An order's stock per template: the cards generated, those claims hold (deliveries and print
runs, through the same allocation cursor) and those left for the next delivery.

What an operator needs before a delivery or a print run: a print run claims every card left,
after which a delivery of that template waits for stock that will not come.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardmaker.errors import OrderNotFound

if TYPE_CHECKING:
    from cardmaker.orders.order import OrderKey, OrderStatus
    from cardmaker.ports import HandedOut, OrderReader


@dataclass(frozen=True)
class TemplateStock:
    template_no: str
    card_name: str
    requested: int
    generated: int
    handed_out: int

    @property
    def remaining(self) -> int:
        return max(0, self.generated - self.handed_out)


@dataclass(frozen=True)
class OrderStock:
    key: OrderKey
    status: OrderStatus
    templates: tuple[TemplateStock, ...]


class StockLevels:
    def __init__(self, orders: OrderReader, handed_out: HandedOut) -> None:
        self._orders = orders
        self._handed_out = handed_out

    def of(self, key: OrderKey) -> OrderStock:
        stored = self._orders.get(key)
        if stored is None:
            raise OrderNotFound(f"order {key.card_order_id} ({key.own_sign}) does not exist")
        templates = stored.order.templates
        held = self._handed_out.handed_out(key, [template.template_no for template in templates])
        return OrderStock(
            key,
            stored.order.status,
            tuple(
                TemplateStock(
                    template_no=template.template_no,
                    card_name=template.card_name,
                    requested=template.count,
                    generated=stored.cards_generated.get(template.template_no, 0),
                    handed_out=held[template.template_no],
                )
                for template in templates
            ),
        )
