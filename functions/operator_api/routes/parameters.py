"""The path and query parameters that name an order, declared once for every route that takes
them (the OpenAPI document describes them alike)."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from cardmaker import EXAMPLE_ORDER_ID, EXAMPLE_OWN_SIGN, MAX_ORDER_ID, OwnSign

OrderIdPath = Annotated[
    int,
    Path(
        gt=0,
        le=MAX_ORDER_ID,
        description="The platform's card_order_id",
        openapi_examples={"seed": {"value": EXAMPLE_ORDER_ID}},
    ),
]
OwnSignQuery = Annotated[
    OwnSign,
    Query(
        description="The platform environment the order came from",
        openapi_examples={"seed": {"value": EXAMPLE_OWN_SIGN}},
    ),
]
