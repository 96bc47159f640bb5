"""``GET /orders/{card_order_id}/stock``: each template's cards generated, handed out (to
deliveries and print runs) and left, for the console and before a print run."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from cardmaker import (
    IAM,
    NotFoundAnswer,
    OrderKey,
    ProblemAnswer,
    StockView,
    about,
    answer_body,
    json_content,
    runtime,
    tracer,
)
from routes.parameters import OrderIdPath, OwnSignQuery

router = Router()


@router.get(
    "/orders/<card_order_id>/stock",
    summary="Read an order's stock per template",
    description="IAM-authorized (SigV4). Per template: the cards requested, generated, "
    "handed out (claimed by deliveries and print runs) and remaining for the next delivery. "
    "Counts only, never a card.",
    tags=["orders"],
    security=IAM,
    responses={
        200: {"description": "The order's stock", "content": json_content(StockView)},
        404: {
            "description": "No such order in this environment",
            "content": json_content(NotFoundAnswer),
        },
        422: {"description": "A bad id or own_sign", "content": json_content(ProblemAnswer)},
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def get_stock(
    card_order_id: OrderIdPath,
    own_sign: OwnSignQuery = "online",
) -> dict[str, Any]:
    about(card_order_id=card_order_id, own_sign=own_sign)
    return answer_body(StockView.of(runtime.stock_levels().of(OrderKey(own_sign, card_order_id))))
