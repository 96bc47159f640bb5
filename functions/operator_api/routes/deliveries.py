"""``POST /deliveries`` and ``GET /deliveries/{delivery_id}``: hand cards of a generated order
to a buyer, and follow it."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from cardmaker import (
    EXAMPLE_BIND,
    EXAMPLE_DELIVERY_ID,
    EXAMPLE_ETICKET,
    IAM,
    DeliveryAccepted,
    DeliveryId,
    DeliveryRequest,
    DeliveryView,
    NotFoundAnswer,
    ProblemAnswer,
    answer_body,
    json_content,
    logger,
    runtime,
    tracer,
)

router = Router()


@router.post(
    "/deliveries",
    summary="Hand cards of a generated order to a buyer (ma.send or card.bind)",
    description="IAM-authorized (SigV4). Recorded at once and carried out by the delivery "
    "function; follow it with GET /deliveries/{delivery_id}. The same outer_id / out_biz_id "
    "again (same own_sign) answers the existing delivery; with other content it is a 409. "
    "Nothing is written on a 409 or a 422.",
    tags=["deliveries"],
    security=IAM,
    responses={
        202: {
            "description": "Recorded (or already was)",
            "content": json_content(DeliveryAccepted),
        },
        409: {
            "description": "The outer_id / out_biz_id is taken by a different delivery",
            "content": json_content(ProblemAnswer),
        },
        415: {
            "description": "The body is not application/json",
            "content": json_content(ProblemAnswer),
        },
        422: {
            "description": "Invalid (or not UTF-8), or not possible for the order (unknown "
            "order or template, more cards than the template has)",
            "content": json_content(ProblemAnswer),
        },
    },
)
@tracer.capture_method
def create_delivery(
    request: Annotated[
        DeliveryRequest,
        Body(
            openapi_examples={
                "eticket": {"summary": "2 e-voucher cards", "value": EXAMPLE_ETICKET},
                "bind": {"summary": "3 cards bound to a buyer", "value": EXAMPLE_BIND},
            }
        ),
    ],
) -> Response[dict[str, str]]:
    delivery = runtime.delivery_service().create(request)
    logger.info("delivery accepted", delivery_id=delivery.delivery_id, status=delivery.status.value)
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type="application/json",
        body=answer_body(DeliveryAccepted.of(delivery)),
    )


@router.get(
    "/deliveries/<delivery_id>",
    summary="Read a delivery: its status, request and each card's outcome",
    description="IAM-authorized (SigV4). Card numbers and outcomes only, never a secret.",
    tags=["deliveries"],
    security=IAM,
    responses={
        200: {"description": "The delivery", "content": json_content(DeliveryView)},
        404: {"description": "No such delivery", "content": json_content(NotFoundAnswer)},
        422: {"description": "Not a delivery id", "content": json_content(ProblemAnswer)},
    },
)
@tracer.capture_method
def get_delivery(
    delivery_id: Annotated[
        DeliveryId,
        Path(
            description="As POST /deliveries answered it",
            openapi_examples={"bind": {"value": EXAMPLE_DELIVERY_ID}},
        ),
    ],
) -> dict[str, Any]:
    return answer_body(DeliveryView.of(runtime.delivery_service().get(delivery_id)))
