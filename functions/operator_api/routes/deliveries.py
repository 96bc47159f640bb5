"""``POST /deliveries`` and ``GET /deliveries/{delivery_id}``: hand cards of a generated order
to a buyer, and follow it (why it waits, while it does); ``POST .../cancel``: stop one that
waits for stock; ``GET /deliveries?card_order_id=``: an order's deliveries."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from caller import put_on_record, requester

from cardmaker import (
    DEFAULT_DELIVERY_PAGE,
    EXAMPLE_BIND,
    EXAMPLE_DELIVERY_ID,
    EXAMPLE_ETICKET,
    EXAMPLE_ORDER_ID,
    EXAMPLE_OWN_SIGN,
    IAM,
    MAX_DELIVERY_PAGE,
    MAX_ORDER_ID,
    MAX_TOKEN_LENGTH,
    AuditAction,
    DeliveryAccepted,
    DeliveryCancelledAnswer,
    DeliveryId,
    DeliveryList,
    DeliveryRequest,
    DeliveryStateConflictAnswer,
    DeliveryView,
    NotFoundAnswer,
    OrderKey,
    OwnSign,
    ProblemAnswer,
    Requester,
    about,
    answer_body,
    json_content,
    logger,
    runtime,
    tracer,
)

router = Router()


_NO_IDENTITY = (
    "The request came with no IAM identity (a route left without the IAM authorizer): "
    "nobody could be held to the cancel"
)


@router.post(
    "/deliveries",
    summary="Hand cards of a generated order to a buyer (ma.send or card.bind)",
    description="IAM-authorized (SigV4). Recorded at once and carried out by the delivery "
    "function; follow it with GET /deliveries/{delivery_id}. The same outer_id / out_biz_id "
    "again (same own_sign) answers the existing delivery, which keeps who asked for it first; "
    "with other content it is a 409. The IAM principal who signed the request is recorded on "
    "the delivery (requested_by). Nothing is written on a 403, 409 or 422.",
    tags=["deliveries"],
    security=IAM,
    responses={
        202: {
            "description": "Recorded (or already was)",
            "content": json_content(DeliveryAccepted),
        },
        403: {
            "description": "The request came with no IAM identity (a route left without the "
            "IAM authorizer): nobody could be held to the delivery",
            "content": json_content(ProblemAnswer),
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
@tracer.capture_method(capture_response=False, capture_error=False)
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
    about(card_order_id=request.card_order_id, own_sign=request.own_sign)
    delivery = runtime.delivery_service().create(request, _requester())
    about(delivery_id=delivery.delivery_id)
    # What was asked, never how to reach the buyer nor the e-voucher token.
    put_on_record(
        router.current_event.raw_event,
        AuditAction.DELIVERY_CREATED,
        delivery.delivery_id,
        order=OrderKey(request.own_sign, request.card_order_id),
        details={
            "type": request.type,
            "template_no": request.template_no,
            "quantity": request.quantity,
            "status": delivery.status.value,
        },
    )
    logger.info(
        "delivery accepted",
        status=delivery.status.value,
        requested_by=delivery.requested_by.user_arn if delivery.requested_by else None,
    )
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type="application/json",
        body=answer_body(DeliveryAccepted.of(delivery)),
    )


@router.get(
    "/deliveries/<delivery_id>",
    summary="Read a delivery: its status, request and each card's outcome",
    description="IAM-authorized (SigV4). Card numbers and outcomes and who asked for the "
    "delivery; never a card secret nor the e-voucher token.",
    tags=["deliveries"],
    security=IAM,
    responses={
        200: {"description": "The delivery", "content": json_content(DeliveryView)},
        404: {"description": "No such delivery", "content": json_content(NotFoundAnswer)},
        422: {"description": "Not a delivery id", "content": json_content(ProblemAnswer)},
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def get_delivery(
    delivery_id: Annotated[
        DeliveryId,
        Path(
            description="As POST /deliveries answered it",
            openapi_examples={"bind": {"value": EXAMPLE_DELIVERY_ID}},
        ),
    ],
) -> dict[str, Any]:
    about(delivery_id=delivery_id)
    service = runtime.delivery_service()
    delivery = service.get(delivery_id)
    return answer_body(DeliveryView.of(delivery, service.why_waiting(delivery)))


@router.post(
    "/deliveries/<delivery_id>/cancel",
    summary="Cancel a delivery waiting for stock: it never sends",
    description="IAM-authorized (SigV4). Only an operator's delivery WAITING_STOCK (holding "
    "no cards yet) is cancelled; one the stock wakes at the same moment is either cancelled "
    "or sent, never both (each is one conditional write). The IAM principal who signed the "
    "request is recorded on it (cancelled_by). Again on a CANCELLED delivery: the same 200, "
    "nothing changed. Nothing is written on a 403, 404, 409 or 422.",
    tags=["deliveries"],
    security=IAM,
    responses={
        200: {
            "description": "Cancelled (or already was)",
            "content": json_content(DeliveryCancelledAnswer),
        },
        403: {"description": _NO_IDENTITY, "content": json_content(ProblemAnswer)},
        404: {"description": "No such delivery", "content": json_content(NotFoundAnswer)},
        409: {
            "description": "Being sent (PENDING, SENDING) or final, or a send-code notice's "
            "delivery: nothing changed; status says where it is",
            "content": json_content(DeliveryStateConflictAnswer),
        },
        422: {"description": "Not a delivery id", "content": json_content(ProblemAnswer)},
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def cancel_delivery(
    delivery_id: Annotated[
        DeliveryId,
        Path(
            description="As POST /deliveries answered it",
            openapi_examples={"bind": {"value": EXAMPLE_DELIVERY_ID}},
        ),
    ],
) -> dict[str, Any]:
    about(delivery_id=delivery_id)
    cancelled_by = _requester()
    cancelled = runtime.delivery_service().cancel(delivery_id, cancelled_by)
    if cancelled.changed:
        # A cancel asked again changes nothing and is not put on record twice.
        put_on_record(
            router.current_event.raw_event,
            AuditAction.DELIVERY_CANCELLED,
            delivery_id,
            order=cancelled.delivery.order_key,
            details={"status": "CANCELLED"},
        )
        logger.info("delivery cancelled", cancelled_by=cancelled_by.user_arn)
    return answer_body(DeliveryCancelledAnswer.of(cancelled))


@router.get(
    "/deliveries",
    summary="List an order's deliveries, newest first",
    description="IAM-authorized (SigV4). A page at a time (`limit`, then `next`): each "
    "delivery's type, status, template, quantity and who asked for it; never a token or a "
    "card (GET /deliveries/{delivery_id} has its cards).",
    tags=["deliveries"],
    security=IAM,
    responses={
        200: {
            "description": "A page of the order's deliveries",
            "content": json_content(DeliveryList),
        },
        422: {
            "description": "A bad order id, own_sign, limit or next token",
            "content": json_content(ProblemAnswer),
        },
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def list_deliveries(
    card_order_id: Annotated[
        int,
        Query(
            gt=0,
            le=MAX_ORDER_ID,
            description="The order whose deliveries to list",
            openapi_examples={"seed": {"value": EXAMPLE_ORDER_ID}},
        ),
    ],
    own_sign: Annotated[
        OwnSign,
        Query(
            description="The platform environment the order came from",
            openapi_examples={"seed": {"value": EXAMPLE_OWN_SIGN}},
        ),
    ] = "online",
    limit: Annotated[
        int, Query(ge=1, le=MAX_DELIVERY_PAGE, description="At most this many deliveries")
    ] = DEFAULT_DELIVERY_PAGE,
    next_token: Annotated[
        str | None,
        Query(
            alias="next",
            max_length=MAX_TOKEN_LENGTH,
            description="The `next` of the previous page, as it came",
        ),
    ] = None,
) -> dict[str, Any]:
    about(card_order_id=card_order_id, own_sign=own_sign)
    listed = runtime.delivery_service().list_for_order(
        OrderKey(own_sign, card_order_id), limit, next_token
    )
    return answer_body(DeliveryList.of(listed))


def _requester() -> Requester:
    """The IAM principal API Gateway authenticated for this request."""
    return requester(router.current_event.raw_event)
