"""The orders of an environment, newest first, a page at a time (``GET /orders``).

A page ends at a position (the last order it covered); the next page starts after it. The
position travels to the caller and back as an opaque ``next`` token, bound to the listing it
belongs to (environment and status filter) and checked whole on its way back: a token that
was cut, edited or made up is refused (``PageTokenInvalid``), never taken as a position.

The token is not a secret and needs no key: it only names a place in a listing the caller may
read from its start anyway, so a forged token that passed the check would gain nothing. The
check is there so that a damaged token is a clear refusal rather than a listing from
somewhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cardmaker.errors import PageTokenInvalid
from cardmaker.orders.models import MAX_ORDER_ID, OwnSign
from cardmaker.orders.order import OrderKey, OrderStatus
from cardmaker.paging import (
    NOT_OURS,
    TOKEN_VERSION,
    open_page_token,
    seal_page_token,
)

if TYPE_CHECKING:
    from cardmaker.ports import OrderIndex

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_LISTING = b"cm-order-page"  # personalises the tokens' digest (cardmaker.paging)


@dataclass(frozen=True)
class ListPosition:
    """Where a page ended: the last order it covered (by its index key)."""

    received_at: str  # as the header stores it (ISO 8601, UTC, milliseconds)
    card_order_id: int


@dataclass(frozen=True)
class OrderSummary:
    """One line of the list: what the environment index keeps of an order."""

    key: OrderKey
    status: OrderStatus
    card_count: int
    received_at: datetime
    updated_at: datetime

    @property
    def making_card_no(self) -> str:
        return self.key.making_card_no


@dataclass(frozen=True)
class OrderPage:
    """Up to a page of orders, newest first; ``after`` is where the next page starts (None:
    there is none). A filtered page may hold fewer orders than asked and still have a next."""

    orders: list[OrderSummary]
    after: ListPosition | None


@dataclass(frozen=True)
class ListedOrders:
    orders: list[OrderSummary]
    next_token: str | None


class OrderListing:
    """Lists an environment's orders through the environment index."""

    def __init__(self, index: OrderIndex) -> None:
        self._index = index

    def page(
        self,
        own_sign: OwnSign,
        status: OrderStatus | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        next_token: str | None = None,
    ) -> ListedOrders:
        """A page of ``own_sign``'s orders (of ``status`` only, if given), newest first,
        continuing the listing ``next_token`` came from. Raises ``PageTokenInvalid``."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be 1..{MAX_PAGE_SIZE}")
        after = read_page_token(next_token, own_sign, status) if next_token else None
        page = self._index.page(own_sign, status, limit, after)
        token = page_token(own_sign, status, page.after) if page.after else None
        return ListedOrders(page.orders, token)


class _TokenContent(BaseModel):
    """What a token carries, checked field by field when it comes back."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: Annotated[int, Field(ge=TOKEN_VERSION, le=TOKEN_VERSION)]
    own_sign: OwnSign
    status: OrderStatus | None
    received_at: Annotated[str, Field(min_length=10, max_length=40)]
    card_order_id: Annotated[int, Field(gt=0, le=MAX_ORDER_ID)]


def page_token(own_sign: OwnSign, status: OrderStatus | None, after: ListPosition) -> str:
    """The opaque ``next`` token for the page after ``after`` of this listing."""
    return seal_page_token(
        _LISTING,
        {
            "own_sign": own_sign,
            "status": status.value if status else None,
            "received_at": after.received_at,
            "card_order_id": after.card_order_id,
        },
    )


def read_page_token(token: str, own_sign: OwnSign, status: OrderStatus | None) -> ListPosition:
    """The position ``token`` names, if it is a whole token of this very listing; else
    ``PageTokenInvalid`` (the caller's text is never echoed)."""
    content = open_page_token(token, _LISTING)
    try:
        parsed = _TokenContent.model_validate_json(content)
        datetime.fromisoformat(parsed.received_at)
    except (ValidationError, ValueError):
        raise PageTokenInvalid(NOT_OURS) from None
    if parsed.own_sign != own_sign or parsed.status != status:
        raise PageTokenInvalid(
            "next belongs to another listing: ask again with the own_sign and status it came with"
        )
    return ListPosition(parsed.received_at, parsed.card_order_id)
