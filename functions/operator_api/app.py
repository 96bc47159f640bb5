"""OperatorApiFunction: the operators' routes (IAM-authorized on AWS): orders, deliveries and
the send-code notices received for a Taobao order, e-voucher products, cards (looked up by
number; a print run's release) and the audit trail.

Thin on purpose: the routes (``routes/``, one Powertools ``Router`` per resource) turn the
request into the layer's types, call the layer and answer with the answer's model; errors
become HTTP answers in one place, ``problems``.
"""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from typing import Any

import problems
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from routes import audit, cards, deliveries, failures, notices, orders, products, stock

from cardmaker import logger, metrics, tracer

# What the OpenAPI document is generated from (local/openapi.py).
ROUTERS = (
    orders.router,
    stock.router,
    deliveries.router,
    notices.router,
    products.router,
    cards.router,
    audit.router,
    failures.router,
)
app = APIGatewayHttpResolver(enable_validation=True)
for router in (*ROUTERS, problems.router):
    app.include_router(router)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
