"""The order as this back office keeps it: identity, content fingerprint, status."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cardmaker.orders.models import CardOrderMakeRequest, CardProductInfo, LogisticsInfo, OwnSign


class OrderStatus(StrEnum):
    RECEIVED = "RECEIVED"
    GENERATING = "GENERATING"
    GENERATED = "GENERATED"
    FAILED = "FAILED"


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
    canonical = json.dumps(
        request.model_dump(mode="json", exclude_none=True),
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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
