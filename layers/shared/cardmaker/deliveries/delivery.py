"""A delivery: which cards of which order go to whom, and what became of each."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum

from cardmaker.deliveries.models import BindDeliveryRequest, EticketDeliveryRequest


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    WAITING_STOCK = "WAITING_STOCK"
    SENDING = "SENDING"
    DELIVERED = "DELIVERED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


FINAL = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.PARTIAL, DeliveryStatus.FAILED})


class CardOutcome(StrEnum):
    ISSUED = "ISSUED"  # ma.send answered isv.success-all
    BOUND = "BOUND"  # card.bind bound it
    INVALID = "INVALID"  # card.bind: invalid_card_no_s
    BIND_FAILED = "BIND_FAILED"  # card.bind: bind_fail_card_no_s
    FAILED = "FAILED"  # the platform refused the call


SUCCESSES = frozenset({CardOutcome.ISSUED, CardOutcome.BOUND})


@dataclass(frozen=True)
class CardResult:
    card_no: str
    position: int
    outcome: CardOutcome
    code: str | None = None
    message: str | None = None


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
    request: EticketDeliveryRequest | BindDeliveryRequest
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

    @classmethod
    def new(
        cls,
        request: EticketDeliveryRequest | BindDeliveryRequest,
        now: str,
        requested_by: Requester,
    ) -> Delivery:
        return cls(
            delivery_id(request), request, created_at=now, updated_at=now, requested_by=requested_by
        )

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


def delivery_id(request: EticketDeliveryRequest | BindDeliveryRequest) -> str:
    """Stable for a given outer_id / out_biz_id, so that a repeat finds the same delivery."""
    digest = hashlib.sha256(
        f"{request.type}\x00{request.own_sign}\x00{request.idempotency_key}".encode()
    ).hexdigest()
    return f"{'ET' if request.type == 'eticket' else 'BD'}-{digest[:24]}"


def request_fingerprint(request: EticketDeliveryRequest | BindDeliveryRequest) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()
