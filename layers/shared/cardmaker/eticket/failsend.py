"""``taobao.eticket.merchant.ma.failsend`` (platform-apis.md §3.1): telling the platform a
send-code notice cannot be served, from the delivery's outbox (``failsend: PENDING``, written
with its FAILED status). Sent with the session, as ma.send; the platform's codes recorded,
never its messages. A refusal (``isv.*``) is recorded FAILED and not sent again; anything
else raises, and the stream tries again (bounded; then its DLQ, redrivable)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from cardmaker.deliveries.delivery import DeliveryStatus, FailsendState
from cardmaker.deliveries.models import NoticeDeliveryRequest
from cardmaker.deliveries.platform_codes import recorded_code
from cardmaker.errors import NoticeSendUnsettled, TopError
from cardmaker.top.calls import SUCCESS_ALL
from cardmaker.top.client import retryable_top_error

if TYPE_CHECKING:
    from cardmaker.eticket.ports import NoticeDeliveries
    from cardmaker.ports import TopCaller

# sub_err_msg: short words (the only example says "码商因为无库存而无法发码").
NO_STOCK_MESSAGE = "码商因为无库存而无法发码"


class MaFailsendRequest(BaseModel):
    """``taobao.eticket.merchant.ma.failsend``'s business parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    METHOD: ClassVar[str] = "taobao.eticket.merchant.ma.failsend"

    outer_id: str
    token: str
    sub_err_code: str
    sub_err_msg: str
    biz_type: int = 3001

    def to_params(self) -> dict[str, str]:
        return {
            "outer_id": self.outer_id,
            "token": self.token,
            "sub_err_code": self.sub_err_code,
            "sub_err_msg": self.sub_err_msg,
            "biz_type": str(self.biz_type),
        }


class FailsendSender:
    def __init__(self, deliveries: NoticeDeliveries, top: TopCaller) -> None:
        self._deliveries = deliveries
        self._top = top

    def send(self, delivery_id: str) -> FailsendState | None:
        """Send the delivery's PENDING failsend; where it stands after (None: no such
        delivery or no failsend). A failsend no longer PENDING is left as it is."""
        delivery = self._deliveries.get(delivery_id)
        if delivery is None or delivery.failsend is None:
            return None
        request = delivery.request
        if (
            delivery.status is not DeliveryStatus.FAILED
            or delivery.failsend.state is not FailsendState.PENDING
            or not isinstance(request, NoticeDeliveryRequest)
        ):
            return delivery.failsend.state
        if self._deliveries.count_failsend_attempt(delivery_id) is None:
            return None  # settled meanwhile by another attempt
        call = MaFailsendRequest(
            outer_id=request.outer_id,
            token=request.token,
            sub_err_code=delivery.failsend.sub_err_code,
            sub_err_msg=NO_STOCK_MESSAGE,
            biz_type=request.biz_type,
        )
        try:
            answer = self._top.call(MaFailsendRequest.METHOD, call.to_params(), with_session=True)
        except TopError as error:
            if retryable_top_error(error):
                raise
            code = recorded_code(error.sub_code or str(error.top_code), [request.token])
            self._deliveries.record_failsend(delivery_id, FailsendState.FAILED, code)
            return FailsendState.FAILED
        ret_code = answer.get("ret_code")
        if ret_code is not None and str(ret_code) != SUCCESS_ALL:
            # Not a refusal the gateway made, nor success: tried again.
            raise NoticeSendUnsettled(recorded_code(str(ret_code), [request.token]))
        self._deliveries.record_failsend(delivery_id, FailsendState.SENT)
        return FailsendState.SENT
