"""The order as this back office keeps it: identity, content fingerprint, status, lifecycle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cardmaker.orders.models import (
    CardOrderMakeRequest,
    CardProductInfo,
    LogisticsInfo,
    OwnSign,
    Waybill,
    fingerprint,
)


class OrderStatus(StrEnum):
    """``RECEIVED -> GENERATING -> GENERATED -> MADE -> SHIPPED -> CONFIRMED``, or ``FAILED``
    (generation gave up). Every move is one conditional write (``store.lifecycle``)."""

    RECEIVED = "RECEIVED"
    GENERATING = "GENERATING"
    GENERATED = "GENERATED"
    MADE = "MADE"  # the physical cards are made (make.finish tells the platform)
    SHIPPED = "SHIPPED"  # shipped with a waybill (status.sended tells the platform)
    CONFIRMED = "CONFIRMED"  # the platform said the buyer confirmed receipt
    FAILED = "FAILED"

    @property
    def has_cards(self) -> bool:
        """Every card of the order exists: it can be delivered and printed."""
        return self in _WITH_CARDS


_WITH_CARDS = frozenset(
    {OrderStatus.GENERATED, OrderStatus.MADE, OrderStatus.SHIPPED, OrderStatus.CONFIRMED}
)


class PlatformNotice(StrEnum):
    """The calls that tell the platform an order moved on, named as the order keeps them."""

    MAKE_FINISH = "make_finish"  # alibaba.fundplatform.cardorders.status.make.finish, on MADE
    STATUS_SENDED = "status_sended"  # alibaba.fundplatform.cardorders.status.sended, on SHIPPED


class NoticeState(StrEnum):
    PENDING = "PENDING"  # to be sent (recorded with the transition: the outbox)
    SENT = "SENT"  # the platform accepted it
    FAILED = "FAILED"  # the platform refused it, or every attempt failed: see code


@dataclass(frozen=True)
class Notice:
    """Where one platform notification stands."""

    state: NoticeState
    attempts: int = 0
    updated_at: datetime | None = None
    sent_at: datetime | None = None
    code: str | None = None  # the platform's code of the last failure
    message: str | None = None  # our words for it (never the platform's text)


@dataclass(frozen=True)
class Lifecycle:
    """When the order moved past ``GENERATED``, who made it ``MADE`` (an operator, or
    ``test-template`` for an order of test templates only), its waybill and its platform
    notifications."""

    generated_at: datetime | None = None
    made_at: datetime | None = None
    made_by: str | None = None
    shipped_at: datetime | None = None
    confirmed_at: datetime | None = None
    waybill: Waybill | None = None
    notices: Mapping[PlatformNotice, Notice] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderKey:
    """``card_order_id`` is only unique within one platform environment (``own_sign``)."""

    own_sign: OwnSign
    card_order_id: int

    @property
    def making_card_no(self) -> str:
        """Our own number for the order: stable, so a replay answers with the same one."""
        return f"CM-{self.own_sign}-{self.card_order_id}"

    @property
    def label(self) -> str:
        """``<own_sign>:<card_order_id>``: how the order is named where one string must say
        which order it is (a data key's KMS encryption context, log correlation ids)."""
        return f"{self.own_sign}:{self.card_order_id}"


@dataclass(frozen=True)
class Order:
    key: OrderKey
    status: OrderStatus
    content_hash: str
    templates: tuple[CardProductInfo, ...]
    logistics_info: LogisticsInfo | None
    received_at: datetime

    @classmethod
    def receive(cls, request: CardOrderMakeRequest, now: datetime) -> Order:
        return cls(
            key=OrderKey(request.own_sign, request.card_order_id),
            status=OrderStatus.RECEIVED,
            content_hash=content_hash(request),
            templates=tuple(request.card_product_infos),
            logistics_info=request.logistics_info,
            received_at=now,
        )

    @property
    def making_card_no(self) -> str:
        return self.key.making_card_no

    @property
    def card_count(self) -> int:
        return sum(template.count for template in self.templates)

    def template(self, template_no: str) -> CardProductInfo | None:
        """The order's card template ``template_no`` (None if it has no such template)."""
        return next((t for t in self.templates if t.template_no == template_no), None)


def content_hash(request: CardOrderMakeRequest) -> str:
    """A fingerprint of what the platform asked for, independent of encoding and key order:
    a replay (same content) and a conflict (same id, other content) are told apart by it."""
    return fingerprint(request)


@dataclass(frozen=True)
class NoticeAttempt:
    """One more attempt at a PENDING notification whose count is still ``seen_attempts``."""

    key: OrderKey
    notice: PlatformNotice
    seen_attempts: int


@dataclass(frozen=True)
class NoticeRecord:
    """A notification's new state, written only if it is now in one of ``expected``."""

    key: OrderKey
    notice: PlatformNotice
    recorded: Notice
    expected: frozenset[NoticeState]


@dataclass(frozen=True)
class StoredHeader:
    """What is needed of an existing order to tell a replay from a conflict."""

    status: OrderStatus
    content_hash: str
    making_card_no: str


@dataclass(frozen=True)
class Generation:
    """Where an order's card generation stands (fixed when it starts, counted as it goes)."""

    first_sequence: int
    chunk_size: int
    chunks_total: int
    chunks_done: int = 0
    failure_reason: str | None = None


@dataclass(frozen=True)
class StoredOrder:
    """An order as read back from storage, with its generation progress per template."""

    order: Order
    updated_at: datetime
    cards_generated: Mapping[str, int]
    generation: Generation | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
