"""``GET /orders/{card_order_id}``: an order and its generation progress; ``GET /orders``: an
environment's orders; ``POST /orders/{card_order_id}/made`` and ``.../shipment``: the
operators' steps of an order after its cards are generated."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.metrics import MetricUnit
from caller import put_on_record, requester

from cardmaker import (
    DEFAULT_PAGE_SIZE,
    IAM,
    MAX_PAGE_SIZE,
    MAX_TOKEN_LENGTH,
    AuditAction,
    NotFoundAnswer,
    OrderKey,
    OrderList,
    OrderStateConflictAnswer,
    OrderStatus,
    OrderStepAccepted,
    OrderView,
    ProblemAnswer,
    ShipmentRequest,
    Transition,
    about,
    answer_body,
    json_content,
    logger,
    metrics,
    runtime,
    tracer,
)
from routes.parameters import OrderIdPath, OwnSignQuery

router = Router()


@router.get(
    "/orders/<card_order_id>",
    summary="Read an order and its generation progress",
    description="IAM-authorized (SigV4). Per template: the cards requested and generated, "
    "and whether the platform announced it (registered, is_test).",
    tags=["orders"],
    security=IAM,
    responses={
        200: {"description": "The order", "content": json_content(OrderView)},
        404: {
            "description": "No such order in this environment",
            "content": json_content(NotFoundAnswer),
        },
        422: {"description": "A bad id or own_sign", "content": json_content(ProblemAnswer)},
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def get_order(
    card_order_id: OrderIdPath,
    own_sign: OwnSignQuery = "online",
) -> dict[str, Any]:
    about(card_order_id=card_order_id, own_sign=own_sign)
    stored = runtime.order_lookup().get(OrderKey(own_sign, card_order_id))
    # Which of its templates the platform announced: an order may name one it never did.
    registered = runtime.order_templates().get_many(
        own_sign, [template.template_no for template in stored.order.templates]
    )
    return answer_body(OrderView.of(stored, registered))


# --- the operators' steps of an order, and the environment's list -------------------------

_NO_IDENTITY = (
    "The request came with no IAM identity (a route left without the IAM authorizer): "
    "nobody could be held to the step"
)


@router.post(
    "/orders/<card_order_id>/made",
    summary="The order's physical cards are made (GENERATED -> MADE)",
    description="IAM-authorized (SigV4). Records who made it (the IAM principal who signed "
    "the request) and owes the platform cardorders.status.make.finish, sent by the "
    "notifier. Again on a MADE order: the same 202, nothing changed. From any other status: "
    "409 naming the order's status. Nothing is written on a 403, 404, 409 or 422.",
    tags=["orders"],
    security=IAM,
    responses={
        202: {"description": "MADE (now, or already)", "content": json_content(OrderStepAccepted)},
        403: {"description": _NO_IDENTITY, "content": json_content(ProblemAnswer)},
        404: {
            "description": "No such order in this environment",
            "content": json_content(NotFoundAnswer),
        },
        409: {
            "description": "Not GENERATED (nor already MADE): `status` says where it is",
            "content": json_content(OrderStateConflictAnswer),
        },
        422: {"description": "A bad id or own_sign", "content": json_content(ProblemAnswer)},
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def mark_made(
    card_order_id: OrderIdPath, own_sign: OwnSignQuery = "online"
) -> Response[dict[str, Any]]:
    about(card_order_id=card_order_id, own_sign=own_sign)
    raw_event = router.current_event.raw_event
    made_by = requester(raw_event).user_arn
    key = OrderKey(own_sign, card_order_id)
    moved = runtime.order_lifecycle().made(key, made_by)
    if moved.changed:
        metrics.add_metric(name="OrderMade", unit=MetricUnit.Count, value=1)
    put_on_record(
        raw_event,
        AuditAction.ORDER_MADE,
        key.making_card_no,
        order=key,
        details={"changed": "yes" if moved.changed else "no (already MADE)"},
    )
    logger.info("order made", changed=moved.changed, made_by=made_by)
    return _accepted(moved)


@router.post(
    "/orders/<card_order_id>/shipment",
    summary="The order's cards are shipped with a waybill (MADE -> SHIPPED)",
    description="IAM-authorized (SigV4). Owes the platform cardorders.status.sended (with "
    "the waybill), sent by the notifier. The same waybill again on a SHIPPED order: the same "
    "202, nothing changed; another waybill, or any other status: 409 naming the order's "
    "status. Nothing is written on a 403, 404, 409, 415 or 422.",
    tags=["orders"],
    security=IAM,
    responses={
        202: {
            "description": "SHIPPED (now, or already)",
            "content": json_content(OrderStepAccepted),
        },
        403: {"description": _NO_IDENTITY, "content": json_content(ProblemAnswer)},
        404: {
            "description": "No such order in this environment",
            "content": json_content(NotFoundAnswer),
        },
        409: {
            "description": "Not MADE, or shipped with another waybill: `status` says where it is",
            "content": json_content(OrderStateConflictAnswer),
        },
        415: {
            "description": "The body is not application/json",
            "content": json_content(ProblemAnswer),
        },
        422: {
            "description": "A bad id or own_sign, or an invalid waybill (the failing fields)",
            "content": json_content(ProblemAnswer),
        },
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def ship(
    card_order_id: OrderIdPath,
    shipment: Annotated[
        ShipmentRequest,
        Body(
            openapi_examples={
                "sf": {
                    "summary": "SF Express",
                    "value": {
                        "logistics_company": "顺丰速运",
                        "logistics_order_id": "SF1234567890",
                    },
                }
            }
        ),
    ],
    own_sign: OwnSignQuery = "online",
) -> Response[dict[str, Any]]:
    about(card_order_id=card_order_id, own_sign=own_sign)
    # Held to the step like a delivery: the header keeps no "shipped_by", the trail does.
    raw_event = router.current_event.raw_event
    requester(raw_event)
    key = OrderKey(own_sign, card_order_id)
    moved = runtime.order_lifecycle().ship(key, shipment)
    if moved.changed:
        metrics.add_metric(name="OrderShipped", unit=MetricUnit.Count, value=1)
    put_on_record(
        raw_event,
        AuditAction.ORDER_SHIPPED,
        key.making_card_no,
        order=key,
        details={
            "logistics_company": shipment.logistics_company,
            "logistics_order_id": shipment.logistics_order_id,
            "changed": "yes" if moved.changed else "no (already SHIPPED)",
        },
    )
    logger.info("order shipped", changed=moved.changed)
    return _accepted(moved)


@router.get(
    "/orders",
    summary="List an environment's orders, newest first",
    description="IAM-authorized (SigV4). A page at a time: pass `next` back, with the same "
    "own_sign and status, for the following page. With `status`, orders of other statuses "
    "are read and skipped (at most 1,000 per request): a page may then hold fewer than "
    "`limit` orders, even none, and still have a `next`. Eventually consistent: an order "
    "received a moment ago may not be listed yet.",
    tags=["orders"],
    security=IAM,
    responses={
        200: {"description": "A page of orders", "content": json_content(OrderList)},
        422: {
            "description": "A bad own_sign, status or limit, or a next token that is not a "
            "whole token of this listing",
            "content": json_content(ProblemAnswer),
        },
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def list_orders(
    own_sign: OwnSignQuery = "online",
    status: Annotated[
        OrderStatus | None, Query(description="Only the orders of this status")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="At most this many orders")
    ] = DEFAULT_PAGE_SIZE,
    next_token: Annotated[
        str | None,
        Query(
            alias="next",
            max_length=MAX_TOKEN_LENGTH,
            description="The `next` of the previous page, as it came",
        ),
    ] = None,
) -> dict[str, Any]:
    about(own_sign=own_sign)
    listed = runtime.order_listing().page(own_sign, status, limit, next_token)
    return answer_body(OrderList.of(listed))


def _accepted(moved: Transition) -> Response[dict[str, Any]]:
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type="application/json",
        body=answer_body(OrderStepAccepted(status=moved.status)),
    )
