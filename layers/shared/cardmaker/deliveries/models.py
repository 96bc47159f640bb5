"""``POST /deliveries`` bodies: an e-voucher send (``eticket``) or a card bind (``bind``); the
ids of deliveries."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cardmaker.orders.models import MAX_ORDER_ID, Identifier, OwnSign, PlainText, TemplateNo

# ma.send takes at most 200 codes per call: an e-voucher order is one call.
MAX_ETICKET_CARDS = 200
# card.bind: a delivery is one call (its out_biz_id names one purchase); card_no_s of 500
# 19-digit numbers is about 10 KB.
MAX_BIND_CARDS = 500

# What ``delivery.delivery_id`` makes: ET- (e-voucher) or BD- (bind), then a hex hash.
DELIVERY_ID_PATTERN = r"^[A-Z]{2}-[0-9a-f]+$"
DeliveryId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=DELIVERY_ID_PATTERN)
]
# Free text the platform gets and operators read: no control characters (orders' rule).
Nick = Annotated[
    str, StringConstraints(min_length=1, max_length=64, strip_whitespace=False), PlainText
]


class _Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    card_order_id: Annotated[int, Field(gt=0, le=MAX_ORDER_ID, strict=True)]
    own_sign: OwnSign
    template_no: TemplateNo


class EticketDeliveryRequest(_Delivery):
    """Send card number + secret (or codes) to a buyer's e-voucher order (ma.send)."""

    type: Literal["eticket"]
    quantity: Annotated[int, Field(ge=1, le=MAX_ETICKET_CARDS, strict=True)]
    outer_id: Identifier
    token: Annotated[str, StringConstraints(min_length=1, max_length=128), PlainText]
    certificate_type: Literal[0, 1] = 1
    biz_type: Annotated[int, Field(ge=0, le=99_999, strict=True)] = 3001
    group_redeem: bool = False

    @property
    def idempotency_key(self) -> str:
        return self.outer_id


class BindDeliveryRequest(_Delivery):
    """Bind cards to one Taobao user for a B2B purchase (card.bind)."""

    type: Literal["bind"]
    quantity: Annotated[int, Field(ge=1, le=MAX_BIND_CARDS, strict=True)]
    out_biz_id: Identifier
    buyer_nick: Nick | None = None
    buyer_open_uid: Nick | None = None

    @model_validator(mode="after")
    def _one_buyer(self) -> BindDeliveryRequest:
        if (self.buyer_nick is None) == (self.buyer_open_uid is None):
            raise ValueError("give exactly one of buyer_nick and buyer_open_uid")
        return self

    @property
    def idempotency_key(self) -> str:
        return self.out_biz_id


class NoticeDeliveryRequest(BaseModel):
    """An e-voucher delivery made by a send-code notice, without an operator: ``quantity``
    cards of the product's stock (the ``merchant_code``'s mapping, resolved when the notice
    arrives: ``own_sign`` / ``template_no`` are None while the code is not mapped), sent with
    ma.send under the notice's ``order_id`` (``outer_id``) and ``token``. Which order the
    cards come from is decided when they are claimed (``Delivery.card_order_id``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["notice"]
    quantity: Annotated[int, Field(ge=1, le=MAX_ETICKET_CARDS, strict=True)]
    outer_id: Identifier
    token: Annotated[str, StringConstraints(min_length=1, max_length=128), PlainText]
    merchant_code: Annotated[str, StringConstraints(min_length=1, max_length=64), PlainText]
    own_sign: OwnSign | None = None
    template_no: TemplateNo | None = None
    certificate_type: Literal[0, 1] = 1
    biz_type: Annotated[int, Field(ge=0, le=99_999, strict=True)] = 3001

    @property
    def idempotency_key(self) -> str:
        return self.outer_id


# What POST /deliveries takes (an operator's delivery).
DeliveryRequest = Annotated[
    EticketDeliveryRequest | BindDeliveryRequest, Field(discriminator="type")
]
# What a stored delivery may hold: an operator's, or one a send-code notice made.
StoredDeliveryRequest = Annotated[
    EticketDeliveryRequest | BindDeliveryRequest | NoticeDeliveryRequest,
    Field(discriminator="type"),
]
