"""The stock deadline function: on a schedule, gives up on the notice deliveries that waited
for stock past their deadline (FAILED, with their ma.failsend PENDING for the delivery
function to send). Thin on purpose: the layer does the work."""

# No `from __future__ import annotations`: Powertools reads annotations at runtime.
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardmaker import logger, metrics, runtime, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    given_up = runtime.stock_deadline().give_up_due()
    if given_up:
        metrics.add_metric(name="DeliveryOutOfStock", unit=MetricUnit.Count, value=len(given_up))
        logger.info("notice deliveries given up on stock", given_up=len(given_up))
    else:
        # Every minute on AWS (every second on the local stack): quiet unless it acted.
        logger.debug("stock deadlines checked: none due")
    return {"given_up": len(given_up)}
