"""``GET /eticket/notices/{order_id}``: what the e-voucher platform sent for a Taobao order,
and what became of it."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from cardmaker import (
    IAM,
    NotFoundAnswer,
    NoticeOrderId,
    NoticesNotFound,
    NoticesView,
    ProblemAnswer,
    answer_body,
    json_content,
    logger,
    runtime,
    tracer,
)

router = Router()


@router.get(
    "/eticket/notices/<order_id>",
    summary="Read the send-code notices received for a Taobao order",
    description="IAM-authorized (SigV4). Each notice's method, when it was recorded, its "
    "outcome and the delivery it made or concerns (GET /deliveries/{delivery_id}); never the "
    "token, the sign or the buyer's details.",
    tags=["eticket"],
    security=IAM,
    responses={
        200: {"description": "The order's notices", "content": json_content(NoticesView)},
        404: {
            "description": "No notice was received for the order",
            "content": json_content(NotFoundAnswer),
        },
        422: {"description": "Not an order id", "content": json_content(ProblemAnswer)},
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def get_notices(
    order_id: Annotated[
        NoticeOrderId,
        Path(
            description="The Taobao order (the notices' order_id, the delivery's outer_id)",
            openapi_examples={"order": {"value": "1753340805138544"}},
        ),
    ],
) -> dict[str, Any]:
    logger.append_keys(notice_order_id=order_id)
    records = runtime.notice_lookup().notices(order_id)
    if not records:
        raise NoticesNotFound(f"no notice was received for order {order_id}")
    return answer_body(NoticesView.of(order_id, records))
