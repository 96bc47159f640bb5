"""A delivery: which cards of which order go to whom, and what became of each."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum

from cardmaker.deliveries.aftercare import Aftercare
from cardmaker.deliveries.models import (
    BindDeliveryRequest,
    EticketDeliveryRequest,
    NoticeDeliveryRequest,
)
from cardmaker.orders.order import OrderKey

AnyDeliveryRequest = EticketDeliveryRequest | BindDeliveryRequest | NoticeDeliveryRequest


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    WAITING_STOCK = "WAITING_STOCK"
    SENDING = "SENDING"
    DELIVERED = "DELIVERED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    # Stopped before any card went out (an e-voucher refund, or an operator): nothing is sent.
    CANCELLED = "CANCELLED"


FINAL = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.PARTIAL,
        DeliveryStatus.FAILED,
        DeliveryStatus.CANCELLED,
    }
)


class CardOutcome(StrEnum):
    ISSUED = "ISSUED"  # ma.send answered isv.success-all
    BOUND = "BOUND"  # card.bind bound it
    INVALID = "INVALID"  # card.bind: invalid_card_no_s
    BIND_FAILED = "BIND_FAILED"  # card.bind: bind_fail_card_no_s
    FAILED = "FAILED"  # the platform refused the call
    VOIDED = "VOIDED"  # an e-voucher refund voided it: never handed out again


SUCCESSES = frozenset({CardOutcome.ISSUED, CardOutcome.BOUND})


@dataclass(frozen=True)
class CardResult:
    card_no: str
    position: int
    outcome: CardOutcome
    code: str | None = None
    message: str | None = None


class FailsendState(StrEnum):
    """Where a notice delivery's ma.failsend stands (an outbox: written PENDING with the
    FAILED status in one update, then sent by the delivery function)."""

    PENDING = "PENDING"
    SENT = "SENT"  # the platform took it
    FAILED = "FAILED"  # the platform refused it (its code recorded): not sent again


@dataclass(frozen=True)
class Failsend:
    """A notice delivery's ma.failsend: the reason code sent, where it stands, how many
    attempts it took and the platform's code when it refused."""

    state: FailsendState
    sub_err_code: str
    attempts: int = 0
    code: str | None = None
    updated_at: str = ""


@dataclass(frozen=True)
class Requester:
    """Who asked for a delivery: the IAM principal API Gateway authenticated (its IAM
    authorizer's ``userArn``, ``callerId``, ``accountId`` and ``principalOrgId``)."""

    user_arn: str
    caller_id: str = ""
    account_id: str = ""
    principal_org_id: str = ""


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    request: AnyDeliveryRequest
    status: DeliveryStatus = DeliveryStatus.PENDING
    first_position: int | None = None  # the allocated range, once allocated
    attempts: int = 0
    cards: tuple[CardResult, ...] = field(default_factory=tuple)
    failure_reason: str | None = None
    created_at: str = ""
    updated_at: str = ""
    # Recorded when the delivery is created, never changed (a replay keeps the first); None
    # only for a delivery created before requesters were recorded.
    requested_by: Requester | None = None
    # A notice delivery's cards come from the product's stock: the order they were claimed
    # from is recorded with first_position. Operator deliveries name theirs in the request.
    card_order_id: int | None = None
    # What the platform's later notices left on a notice delivery (resend, cancel, changes).
    aftercare: Aftercare = field(default_factory=Aftercare)
    # A notice delivery waiting for stock gives up (ma.failsend) at this ISO time.
    stock_deadline: str | None = None
    failsend: Failsend | None = None
    # Who cancelled it while it waited for stock (``cardmaker deliveries cancel``).
    cancelled_by: Requester | None = None

    @classmethod
    def new(
        cls,
        request: AnyDeliveryRequest,
        now: str,
        requested_by: Requester,
    ) -> Delivery:
        return cls(
            delivery_id(request), request, created_at=now, updated_at=now, requested_by=requested_by
        )

    @property
    def order_key(self) -> OrderKey | None:
        """The order the delivery's cards come from (None for a notice delivery that has not
        claimed its cards yet)."""
        request = self.request
        if isinstance(request, NoticeDeliveryRequest):
            if self.card_order_id is None or request.own_sign is None:
                return None
            return OrderKey(request.own_sign, self.card_order_id)
        return OrderKey(request.own_sign, request.card_order_id)

    @property
    def template_no(self) -> str | None:
        """The template the cards come from (None for a notice whose product is unmapped)."""
        return self.request.template_no

    @property
    def positions(self) -> range:
        if self.first_position is None:
            return range(0)
        return range(self.first_position, self.first_position + self.request.quantity)

    def finished(self, cards: list[CardResult]) -> Delivery:
        """The delivery with every card's outcome and the status they add up to."""
        succeeded = sum(card.outcome in SUCCESSES for card in cards)
        if succeeded == len(cards):
            status = DeliveryStatus.DELIVERED
        elif succeeded:
            status = DeliveryStatus.PARTIAL
        else:
            status = DeliveryStatus.FAILED
        return replace(self, status=status, cards=tuple(cards))


_ID_PREFIXES = {"eticket": "ET", "bind": "BD", "notice": "EN"}


def delivery_id(request: AnyDeliveryRequest) -> str:
    """Stable for a given outer_id / out_biz_id, so that a repeat finds the same delivery. A
    notice delivery's is the Taobao order's alone: its product's environment may change."""
    scope = "" if isinstance(request, NoticeDeliveryRequest) else request.own_sign
    digest = hashlib.sha256(
        f"{request.type}\x00{scope}\x00{request.idempotency_key}".encode()
    ).hexdigest()
    return f"{_ID_PREFIXES[request.type]}-{digest[:24]}"


def notice_delivery_id(order_id: str) -> str:
    """The id of the delivery a send-code notice for Taobao order ``order_id`` makes (the
    same as ``delivery_id`` of its request: it depends on the order id alone)."""
    digest = hashlib.sha256(f"notice\x00\x00{order_id}".encode()).hexdigest()
    return f"{_ID_PREFIXES['notice']}-{digest[:24]}"


def request_fingerprint(request: AnyDeliveryRequest) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()
