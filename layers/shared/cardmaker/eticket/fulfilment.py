"""A ``send`` notice becomes a delivery by itself: ``num`` cards of its product's stock, sent
with ma.send under the notice's ``order_id`` (``outer_id``) and ``token``.

The delivery is created with a conditional put under an id made from the Taobao order alone
(``EN-...``): a repeated send, or a send after a cancel already made the delivery (CANCELLED),
changes nothing. From there it flows as any delivery does: the deliveries stream brings it to
the delivery function, which claims its cards (or lets it wait for stock, until its
``stock_deadline``: ``ETICKET_STOCK_WAIT_SECONDS`` after the notice was received).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError

from cardmaker.deliveries.delivery import Delivery, Requester, request_fingerprint
from cardmaker.deliveries.models import NoticeDeliveryRequest
from cardmaker.eticket.notice import NoticeMethod, NoticeOutcome

if TYPE_CHECKING:
    from cardmaker.eticket.notice import Notice
    from cardmaker.eticket.ports import NoticeDeliveries, ProductReader

# Who a notice delivery is recorded as requested by: the platform, through its notice.
NOTICE_REQUESTER = Requester(user_arn="taobao:eticket-notice")


@dataclass(frozen=True)
class Fulfilled:
    """What a notice came to: its outcome, the delivery it made or concerns, and (for a
    notice that could not make one) why, in words."""

    outcome: NoticeOutcome
    delivery_id: str | None = None
    why: str | None = None


class NoticeFulfilment:
    def __init__(
        self, deliveries: NoticeDeliveries, products: ProductReader, *, stock_wait_seconds: int
    ) -> None:
        self._deliveries = deliveries
        self._products = products
        self._stock_wait = timedelta(seconds=stock_wait_seconds)

    def send(self, notice: Notice) -> Fulfilled:
        """The send notice's delivery, created unless its order has one already."""
        if notice.kind is not NoticeMethod.SEND:
            raise ValueError("not a send notice")
        request = self._request(notice)
        if isinstance(request, str):
            return Fulfilled(NoticeOutcome.IGNORED, why=request)
        received = datetime.fromisoformat(notice.received_at)
        delivery = replace(
            Delivery.new(request, notice.received_at, NOTICE_REQUESTER),
            stock_deadline=(received + self._stock_wait).isoformat(timespec="milliseconds"),
        )
        made = self._deliveries.create_once(delivery, request_fingerprint(request))
        return Fulfilled(NoticeOutcome.DELIVERY_CREATED, made.delivery_id)

    def _request(self, notice: Notice) -> NoticeDeliveryRequest | str:
        """The delivery request the notice makes, or why it cannot make one."""
        merchant_code = notice.merchant_code
        if merchant_code is None:
            return "the notice names no merchant code (sub_outer_iid / outer_iid)"
        product = self._products.get(merchant_code)
        try:
            return NoticeDeliveryRequest(
                type="notice",
                quantity=notice.num or 0,
                outer_id=notice.order_id,
                token=notice.token or "",
                merchant_code=merchant_code,
                own_sign=product.own_sign if product else None,
                template_no=product.template_no if product else None,
                certificate_type=product.certificate_type if product else 1,
            )
        except ValidationError as error:
            # Field names only: the values hold the token.
            fields = sorted({str(part["loc"][0]) for part in error.errors() if part["loc"]})
            return f"the notice cannot make a delivery: {', '.join(fields)} out of bounds"
