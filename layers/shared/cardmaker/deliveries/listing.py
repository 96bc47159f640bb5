"""An order's deliveries, newest first, a page at a time (``GET /deliveries?order=...``).

A page ends at a position (the last delivery it listed); the next starts after it. As with
the orders' list (``orders.listing``), the position travels as an opaque ``next`` token bound
to its listing (the order) and checked whole on its way back: a token that was cut, edited,
made up or belongs to another order is refused (``PageTokenInvalid``). It names a place in a
listing the caller may read from its start anyway: a checksum, not a signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cardmaker.errors import PageTokenInvalid
from cardmaker.orders.models import MAX_ORDER_ID, OwnSign
from cardmaker.paging import NOT_OURS, TOKEN_VERSION, open_page_token, seal_page_token

if TYPE_CHECKING:
    from cardmaker.deliveries.delivery import DeliveryStatus
    from cardmaker.orders.order import OrderKey

DEFAULT_DELIVERY_PAGE = 20
MAX_DELIVERY_PAGE = 100
_LISTING = b"cm-dlv-page"  # personalises the tokens' digest (cardmaker.paging)


@dataclass(frozen=True)
class DeliveryPosition:
    """Where a page ended: the last delivery it listed (by the index's keys)."""

    created_at: str
    delivery_id: str


@dataclass(frozen=True)
class DeliverySummary:
    """One line of an order's deliveries: never a token nor a card."""

    delivery_id: str
    type: str
    status: DeliveryStatus
    template_no: str | None
    quantity: int
    attempts: int
    created_at: str
    updated_at: str
    requested_by: str | None  # the principal's ARN

    @property
    def position(self) -> DeliveryPosition:
        return DeliveryPosition(self.created_at, self.delivery_id)


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[DeliverySummary]
    after: DeliveryPosition | None  # None: no page after this one


class _TokenContent(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: Annotated[int, Field(ge=TOKEN_VERSION, le=TOKEN_VERSION)]
    own_sign: OwnSign
    card_order_id: Annotated[int, Field(gt=0, le=MAX_ORDER_ID)]
    created_at: Annotated[str, Field(min_length=10, max_length=40)]
    delivery_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Z]{2}-[0-9a-f]+$")]


def page_token(order: OrderKey, after: DeliveryPosition) -> str:
    """The opaque ``next`` token for the page after ``after`` of ``order``'s deliveries."""
    return seal_page_token(
        _LISTING,
        {
            "own_sign": order.own_sign,
            "card_order_id": order.card_order_id,
            "created_at": after.created_at,
            "delivery_id": after.delivery_id,
        },
    )


def read_page_token(token: str, order: OrderKey) -> DeliveryPosition:
    """The position ``token`` names, if it is a whole token of ``order``'s listing; else
    ``PageTokenInvalid`` (the caller's text is never echoed)."""
    try:
        parsed = _TokenContent.model_validate_json(open_page_token(token, _LISTING))
    except ValidationError:
        raise PageTokenInvalid(NOT_OURS) from None
    if (parsed.own_sign, parsed.card_order_id) != (order.own_sign, order.card_order_id):
        raise PageTokenInvalid("next belongs to another order's deliveries")
    return DeliveryPosition(parsed.created_at, parsed.delivery_id)
