"""Why a delivery waits for stock, in the operator's words and as data (``GET
/deliveries/{id}`` answers it, the CLI and a console show it).

An operator's delivery waits for one of two things: its order to be GENERATED (its cards do
not exist yet), or cards of its template that no claim holds (deliveries and print runs took
them). A send-code notice's delivery waits for its merchant code to be mapped to a template,
or for an order of the product's environment with enough cards of it left. Worked out when
asked, from the order and the template's cursor: nothing is stored, so it is never stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cardmaker.deliveries.delivery import DeliveryStatus
from cardmaker.deliveries.models import NoticeDeliveryRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cardmaker.deliveries.delivery import Delivery
    from cardmaker.orders.order import OrderKey
    from cardmaker.ports import OrderReader, StockCount


class WaitingFor(StrEnum):
    ORDER_NOT_GENERATED = "order_not_generated"  # its cards do not exist yet
    NOT_ENOUGH_CARDS = "not_enough_cards"  # fewer left than it asks for
    PRODUCT_NOT_MAPPED = "product_not_mapped"  # a notice's merchant code has no template
    NO_STOCK = "no_stock"  # a notice's product: no order with enough cards left


@dataclass(frozen=True)
class WaitingReason:
    """What a WAITING_STOCK delivery waits for: ``reason``, a sentence, and the numbers it
    rests on where there are some (``remaining`` cards of ``template_no`` left, ``quantity``
    asked)."""

    reason: WaitingFor
    message: str
    quantity: int
    template_no: str | None = None
    remaining: int | None = None
    order_status: str | None = None


def waiting_reason(
    delivery: Delivery, orders: OrderReader, stock: StockCount
) -> WaitingReason | None:
    """Why ``delivery`` waits; None unless it is WAITING_STOCK."""
    if delivery.status is not DeliveryStatus.WAITING_STOCK:
        return None
    request = delivery.request
    quantity = request.quantity
    if isinstance(request, NoticeDeliveryRequest):
        deadline = f" (it gives up at {delivery.stock_deadline})" if delivery.stock_deadline else ""
        if request.template_no is None or request.own_sign is None:
            return WaitingReason(
                WaitingFor.PRODUCT_NOT_MAPPED,
                f"waiting for merchant code {request.merchant_code} to be mapped to a template"
                f" (`cardmaker products map`){deadline}",
                quantity,
            )
        return WaitingReason(
            WaitingFor.NO_STOCK,
            f"waiting for stock: no GENERATED {request.own_sign} order has {quantity} cards of"
            f" template {request.template_no} left{deadline}",
            quantity,
            request.template_no,
        )
    key: OrderKey | None = delivery.order_key
    assert key is not None  # an operator's delivery names its order
    template_no = request.template_no
    stored = orders.get(key)
    if stored is None or not stored.order.status.has_cards:
        status = "missing" if stored is None else stored.order.status.value
        made = "" if stored is None else _made(stored.cards_generated, stored.order.card_count)
        return WaitingReason(
            WaitingFor.ORDER_NOT_GENERATED,
            f"waiting for order {key.making_card_no} to be generated: it is {status}{made}",
            quantity,
            template_no,
            order_status=None if stored is None else status,
        )
    template = stored.order.template(template_no)
    count = 0 if template is None else template.count
    remaining = max(count - stock.allocated(key, template_no), 0)
    return WaitingReason(
        WaitingFor.NOT_ENOUGH_CARDS,
        f"waiting for stock: template {template_no} has {remaining} cards left, {quantity}"
        f" asked (deliveries and print runs of order {key.making_card_no} hold the others)",
        quantity,
        template_no,
        remaining,
        stored.order.status.value,
    )


def _made(generated: Mapping[str, int], card_count: int) -> str:
    return f" ({sum(generated.values())} of its {card_count} cards made)"
