"""``GET /orders/{card_order_id}``: an order and its generation progress."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from cardmaker import (
    EXAMPLE_ORDER_ID,
    EXAMPLE_OWN_SIGN,
    IAM,
    MAX_ORDER_ID,
    NotFoundAnswer,
    OrderKey,
    OrderView,
    OwnSign,
    ProblemAnswer,
    about,
    answer_body,
    json_content,
    runtime,
    tracer,
)

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
    card_order_id: Annotated[
        int,
        Path(
            gt=0,
            le=MAX_ORDER_ID,
            description="The platform's card_order_id",
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
) -> dict[str, Any]:
    about(card_order_id=card_order_id, own_sign=own_sign)
    stored = runtime.order_lookup().get(OrderKey(own_sign, card_order_id))
    # Which of its templates the platform announced: an order may name one it never did.
    registered = runtime.order_templates().get_many(
        own_sign, [template.template_no for template in stored.order.templates]
    )
    return answer_body(OrderView.of(stored, registered))
