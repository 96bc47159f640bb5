"""What ``POST /deliveries`` and ``GET /deliveries/{delivery_id}`` answer, and the OpenAPI
document's examples. The answers are built by these models (``DeliveryAccepted.of``,
``DeliveryView.of``), which the document is generated from too.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

if TYPE_CHECKING:
    from cardmaker.deliveries.listing import DeliverySummary
    from cardmaker.deliveries.service import DeliveryCancelled, ListedDeliveries

from cardmaker.api_models import ProblemAnswer, left_out
from cardmaker.deliveries.aftercare import ResendOutcome
from cardmaker.deliveries.delivery import (
    CardOutcome,
    CardResult,
    Delivery,
    DeliveryStatus,
    Failsend,
    FailsendState,
    Requester,
    delivery_id,
)
from cardmaker.deliveries.models import (
    MAX_ETICKET_CARDS,
    BindDeliveryRequest,
    DeliveryId,
    NoticeDeliveryRequest,
)
from cardmaker.deliveries.waiting import WaitingFor, WaitingReason
from cardmaker.orders.api_models import EXAMPLE_ORDER_ID, EXAMPLE_OWN_SIGN
from cardmaker.orders.models import MAX_ORDER_ID, Identifier, OwnSign, TemplateNo


def _delivery_id_field() -> Any:
    return Field(
        description="ET- (e-voucher), BD- (bind) or EN- (a send-code notice's), then a hash "
        "of the request's own id"
    )


class DeliveryAccepted(BaseModel):
    """202: the delivery is recorded (or was already, for the same outer_id / out_biz_id)."""

    model_config = ConfigDict(extra="forbid")

    delivery_id: DeliveryId = _delivery_id_field()
    status: DeliveryStatus = Field(
        description="PENDING for a new delivery; the stored status for a repeated request"
    )

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryAccepted:
        return cls(delivery_id=delivery.delivery_id, status=delivery.status)


class CardOutcomeView(BaseModel):
    """One delivered card: its number and what became of it. Never its secret."""

    model_config = ConfigDict(extra="forbid")

    card_no: str
    position: int = Field(ge=0, description="The card's position in its template")
    outcome: CardOutcome
    code: str | SkipJsonSchema[None] = left_out("The platform's code, when it refused")
    message: str | SkipJsonSchema[None] = left_out("The platform's message, when it refused")

    @classmethod
    def of(cls, card: CardResult) -> CardOutcomeView:
        return cls(
            card_no=card.card_no,
            position=card.position,
            outcome=card.outcome,
            code=card.code or None,
            message=card.message or None,
        )


class RequesterView(BaseModel):
    """The IAM principal who asked for the delivery (API Gateway's IAM authorizer says who
    signed the request), recorded when the delivery was created: a repeat keeps the first."""

    model_config = ConfigDict(extra="forbid")

    user_arn: str = Field(description="e.g. arn:aws:iam::123456789012:user/alice")
    caller_id: str | SkipJsonSchema[None] = left_out("The principal's unique id")
    account_id: str | SkipJsonSchema[None] = left_out("The principal's AWS account")
    principal_org_id: str | SkipJsonSchema[None] = left_out(
        "The principal's AWS Organizations id, when it belongs to one"
    )

    @classmethod
    def of(cls, requester: Requester) -> RequesterView:
        return cls(
            user_arn=requester.user_arn,
            caller_id=requester.caller_id or None,
            account_id=requester.account_id or None,
            principal_org_id=requester.principal_org_id or None,
        )


# A delivery's answer is its id and status, then its request, then its progress: the views
# inherit the three in that order (pydantic keeps fields in base-class order).
class _DeliveryIdentity(BaseModel):
    delivery_id: DeliveryId = _delivery_id_field()
    status: DeliveryStatus


class _EticketRequestShown(BaseModel):
    """An e-voucher request as answered: all of ``EticketDeliveryRequest`` but its ``token``.
    The token authorises ma.send for the buyer's order: it is stored for the delivery
    function and never shown, not even as a flag (every e-voucher request has one)."""

    card_order_id: Annotated[int, Field(gt=0, le=MAX_ORDER_ID, strict=True)]
    own_sign: OwnSign
    template_no: TemplateNo
    type: Literal["eticket"]
    quantity: Annotated[int, Field(ge=1, le=MAX_ETICKET_CARDS, strict=True)]
    outer_id: Identifier
    certificate_type: Literal[0, 1]
    biz_type: Annotated[int, Field(ge=0, le=99_999, strict=True)]
    group_redeem: bool


class WaitingView(BaseModel):
    """Why a WAITING_STOCK delivery waits: its order is not generated yet, or its template
    has fewer cards left than it asks for (deliveries and print runs hold the others); for a
    send-code notice's, its merchant code is not mapped or no order has enough left."""

    model_config = ConfigDict(extra="forbid")

    reason: WaitingFor = Field(
        description="order_not_generated, not_enough_cards, product_not_mapped or no_stock"
    )
    message: str = Field(
        description="e.g. waiting for stock: template 3010030E05 has 0 cards left, 2 asked"
    )
    quantity: int = Field(ge=1, description="The cards the delivery asks for")
    template_no: str | SkipJsonSchema[None] = left_out("The template it waits for")
    remaining: int | SkipJsonSchema[None] = left_out(
        "not_enough_cards: the template's cards no claim holds, now"
    )
    order_status: str | SkipJsonSchema[None] = left_out("The order's status, now")

    @classmethod
    def of(cls, waiting: WaitingReason) -> WaitingView:
        return cls(
            reason=waiting.reason,
            message=waiting.message,
            quantity=waiting.quantity,
            template_no=waiting.template_no,
            remaining=waiting.remaining,
            order_status=waiting.order_status,
        )


class _DeliveryProgress(BaseModel):
    requested_by: RequesterView | SkipJsonSchema[None] = left_out(
        "Who asked for the delivery (absent on deliveries older than this record)"
    )
    attempts: int = Field(ge=0, description="Sending attempts so far")
    created_at: str = Field(description="ISO 8601, UTC")
    updated_at: str = Field(description="ISO 8601, UTC")
    cards: list[CardOutcomeView] = Field(description="Empty until the cards are sent")
    failure_reason: str | SkipJsonSchema[None] = left_out("Why the delivery FAILED")
    waiting: WaitingView | SkipJsonSchema[None] = left_out(
        "Why it waits, while it is WAITING_STOCK"
    )
    cancelled_by: RequesterView | SkipJsonSchema[None] = left_out(
        "Who cancelled it while it waited (POST /deliveries/{delivery_id}/cancel)"
    )


class EticketDeliveryView(_DeliveryProgress, _EticketRequestShown, _DeliveryIdentity):
    """An e-voucher delivery: its request (never its token), who asked for it, its status
    and each card's outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BindDeliveryView(_DeliveryProgress, BindDeliveryRequest, _DeliveryIdentity):
    """A bind delivery: its request (one of buyer_nick and buyer_open_uid), who asked for
    it, its status and each card's outcome."""

    buyer_nick: str | SkipJsonSchema[None] = left_out("The buyer's Taobao nick")
    buyer_open_uid: str | SkipJsonSchema[None] = left_out("The buyer's open uid")


class FailsendView(BaseModel):
    """A notice delivery's ma.failsend (sent when it gave up on stock)."""

    model_config = ConfigDict(extra="forbid")

    state: FailsendState = Field(description="PENDING, SENT (the platform took it) or FAILED")
    sub_err_code: str = Field(description="The reason code sent, e.g. isv.fail-send-no-stock")
    attempts: int = Field(ge=0)
    code: str | SkipJsonSchema[None] = left_out("The platform's code, when it refused")
    updated_at: str | SkipJsonSchema[None] = left_out("ISO 8601, UTC")

    @classmethod
    def of(cls, failsend: Failsend) -> FailsendView:
        return cls(
            state=failsend.state,
            sub_err_code=failsend.sub_err_code,
            attempts=failsend.attempts,
            code=failsend.code,
            updated_at=failsend.updated_at or None,
        )


class _NoticeRequestShown(BaseModel):
    """A notice delivery's request as answered: never its ``token``. ``own_sign`` and
    ``template_no`` are absent while its merchant code is not mapped; ``card_order_id`` is
    the order its cards were claimed from, once they are."""

    type: Literal["notice"]
    quantity: Annotated[int, Field(ge=1, le=MAX_ETICKET_CARDS, strict=True)]
    outer_id: str = Field(description="The Taobao order id the send-code notice came with")
    merchant_code: str
    own_sign: OwnSign | SkipJsonSchema[None] = left_out("The product's environment, once mapped")
    template_no: str | SkipJsonSchema[None] = left_out("The product's template, once mapped")
    card_order_id: int | SkipJsonSchema[None] = left_out("The order the cards come from")
    certificate_type: Literal[0, 1]
    biz_type: int


class _NoticeProgress(BaseModel):
    stock_deadline: str | SkipJsonSchema[None] = left_out(
        "When it stops waiting for stock and tells the platform (ma.failsend)"
    )
    failsend: FailsendView | SkipJsonSchema[None] = left_out(
        "Its ma.failsend, once it gave up on stock"
    )


class ResendView(BaseModel):
    """The resends of a notice delivery: the same cards again (``resend`` notices)."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0, description="Resends the platform took")
    last_at: str = Field(description="ISO 8601, UTC: the last resend")
    outcome: ResendOutcome = Field(description="RESENT, or REFUSED (not retried)")
    code: str | SkipJsonSchema[None] = left_out("The platform's code, when it refused")


class ValidityView(BaseModel):
    """The e-voucher's validity as the platform last changed it."""

    model_config = ConfigDict(extra="forbid")

    valid_start: str | SkipJsonSchema[None] = left_out("yyyy-MM-dd HH:mm:ss (Asia/Shanghai)")
    valid_ends: str | SkipJsonSchema[None] = left_out("yyyy-MM-dd HH:mm:ss (Asia/Shanghai)")
    method: str = Field(description="The notice that changed it: modified or order_modify")
    notice_time: str = Field(description="That notice's timestamp")
    changed_at: str = Field(description="ISO 8601, UTC: when it was recorded")


class ChangeView(BaseModel):
    """The last ``modified`` / ``order_modify`` notice (never the buyer's mobile)."""

    model_config = ConfigDict(extra="forbid")

    method: str
    notice_time: str = Field(description="The notice's timestamp")
    received_at: str = Field(description="ISO 8601, UTC")
    sub_method: str | SkipJsonSchema[None] = left_out(
        "order_modify: 1 validity changed, 2 dispute upheld"
    )
    data: str | SkipJsonSchema[None] = left_out("order_modify's data, as received")
    left_num: int | SkipJsonSchema[None] = left_out("modified: redeemable units left")


class RefundView(BaseModel):
    """The refunds (``cancel`` notices) acted on."""

    model_config = ConfigDict(extra="forbid")

    voided: int = Field(ge=0, description="Cards voided by refunds in all")
    last_at: str = Field(description="ISO 8601, UTC: the last refund")


class _NoticeAftercareShown(BaseModel):
    resend: ResendView | SkipJsonSchema[None] = left_out("Resends, once there was one")
    validity: ValidityView | SkipJsonSchema[None] = left_out("Validity dates, once changed")
    last_change: ChangeView | SkipJsonSchema[None] = left_out("The last change notice")
    refund: RefundView | SkipJsonSchema[None] = left_out("Refunds, once there was one")


class NoticeDeliveryView(
    _NoticeAftercareShown,
    _NoticeProgress,
    _DeliveryProgress,
    _NoticeRequestShown,
    _DeliveryIdentity,
):
    """A delivery a send-code notice made: its request (never its token), its status, each
    card's outcome (VOIDED once refunded), its ma.failsend when it gave up on stock, and what
    later notices left on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeliveryView(
    RootModel[
        Annotated[
            EticketDeliveryView | BindDeliveryView | NoticeDeliveryView,
            Field(discriminator="type"),
        ]
    ]
):
    """A delivery, by its type."""

    @classmethod
    def of(cls, delivery: Delivery, waiting: WaitingReason | None = None) -> DeliveryView:
        """What ``GET /deliveries/{delivery_id}`` answers for ``delivery`` (and why it
        waits, when it does)."""
        return cls.model_validate(
            {
                "delivery_id": delivery.delivery_id,
                "status": delivery.status,
                # Never the e-voucher token (the view has no such field: it would refuse it).
                **delivery.request.model_dump(exclude={"token"}),
                "requested_by": None
                if delivery.requested_by is None
                else RequesterView.of(delivery.requested_by),
                "attempts": delivery.attempts,
                "created_at": delivery.created_at,
                "updated_at": delivery.updated_at,
                "cards": [CardOutcomeView.of(card) for card in delivery.cards],
                "failure_reason": delivery.failure_reason or None,
                "waiting": None if waiting is None else WaitingView.of(waiting),
                "cancelled_by": None
                if delivery.cancelled_by is None
                else RequesterView.of(delivery.cancelled_by),
                **(
                    _aftercare(delivery)
                    if isinstance(delivery.request, NoticeDeliveryRequest)
                    else {}
                ),
                **_notice_progress(delivery),
            }
        )


class DeliveryCancelledAnswer(BaseModel):
    """200 of ``POST /deliveries/{delivery_id}/cancel``: the delivery is CANCELLED and
    never sends."""

    model_config = ConfigDict(extra="forbid")

    delivery_id: DeliveryId = _delivery_id_field()
    status: DeliveryStatus = Field(description="CANCELLED")
    cancelled: bool = Field(description="This request cancelled it (false: it already was)")

    @classmethod
    def of(cls, cancelled: DeliveryCancelled) -> DeliveryCancelledAnswer:
        delivery = cancelled.delivery
        return cls(
            delivery_id=delivery.delivery_id, status=delivery.status, cancelled=cancelled.changed
        )


class DeliveryStateConflictAnswer(ProblemAnswer):
    """409: the delivery cannot be cancelled from where it is (being sent, or final; or a
    send-code notice's); nothing was changed. ``status`` is where it is."""

    status: DeliveryStatus = Field(description="The delivery's current status")


class DeliveryListItem(BaseModel):
    """One of an order's deliveries: what it asks for and where it stands (never a token
    nor a card; GET /deliveries/{delivery_id} has the rest)."""

    model_config = ConfigDict(extra="forbid")

    delivery_id: DeliveryId = _delivery_id_field()
    type: Literal["eticket", "bind", "notice"]
    status: DeliveryStatus
    template_no: str | SkipJsonSchema[None] = left_out("The template its cards come from")
    quantity: int = Field(ge=1)
    attempts: int = Field(ge=0)
    created_at: str = Field(description="ISO 8601, UTC")
    updated_at: str = Field(description="ISO 8601, UTC")
    requested_by: str | SkipJsonSchema[None] = left_out("The ARN of who asked for it")

    @classmethod
    def of(cls, summary: DeliverySummary) -> DeliveryListItem:
        return cls.model_validate(asdict(summary))


class DeliveryList(BaseModel):
    """A page of an order's deliveries, newest first (by ``created_at``)."""

    model_config = ConfigDict(extra="forbid")

    deliveries: list[DeliveryListItem]
    next: str | SkipJsonSchema[None] = left_out(
        "Pass it back as `next` (with the same order) for the following page; left out on "
        "the last page"
    )

    @classmethod
    def of(cls, listed: ListedDeliveries) -> DeliveryList:
        return cls(
            deliveries=[DeliveryListItem.of(summary) for summary in listed.deliveries],
            next=listed.next_token,
        )


def _aftercare(delivery: Delivery) -> dict[str, Any]:
    """What a notice delivery shows beyond the others: where its cards came from and what
    the platform's later notices left on it (nothing for an operator's delivery)."""
    if not isinstance(delivery.request, NoticeDeliveryRequest):
        return {}
    aftercare = delivery.aftercare

    def shown(record: Any) -> dict[str, Any] | None:
        return None if record is None else asdict(record)

    return {
        "resend": None
        if aftercare.resend is None
        else {
            name: value
            for name, value in asdict(aftercare.resend).items()
            if name != "notice"  # the notice's digest is for replays, not for people
        },
        "validity": shown(aftercare.validity),
        "last_change": shown(aftercare.last_change),
        "refund": shown(aftercare.refund),
    }


def _notice_progress(delivery: Delivery) -> dict[str, Any]:
    if delivery.request.type != "notice":
        return {}
    return {
        "card_order_id": delivery.card_order_id,
        "stock_deadline": delivery.stock_deadline,
        "failsend": None if delivery.failsend is None else FailsendView.of(delivery.failsend),
    }


EXAMPLE_ETICKET: dict[str, Any] = {
    "type": "eticket",
    "card_order_id": EXAMPLE_ORDER_ID,
    "own_sign": EXAMPLE_OWN_SIGN,
    "template_no": "3010030E02",
    "quantity": 2,
    "outer_id": "1753340805138544",
    "token": "31231231231",
    "certificate_type": 1,
    "biz_type": 3001,
    "group_redeem": False,
}
EXAMPLE_BIND: dict[str, Any] = {
    "type": "bind",
    "card_order_id": EXAMPLE_ORDER_ID,
    "own_sign": EXAMPLE_OWN_SIGN,
    "template_no": "3010030E02",
    "quantity": 3,
    "out_biz_id": "243FC389EDACDFB9CF0BFC6D1443C97F",
    "buyer_nick": "tracey_05",
}
# The id the example bind delivery gets (ids are a hash of the request's own id).
EXAMPLE_DELIVERY_ID = delivery_id(BindDeliveryRequest.model_validate(EXAMPLE_BIND))
