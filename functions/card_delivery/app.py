"""The delivery function: carries out deliveries as they arrive on the deliveries stream (and
the ma.failsend of notice deliveries that gave up on stock), and wakes those waiting for
stock when their order's GENERATED arrives on the orders stream. Thin on purpose: the layer
does the work."""

# No `from __future__ import annotations`: Powertools reads annotations at runtime.
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardmaker import (
    DeliveryStatus,
    SendDelivery,
    SendFailsend,
    WakeDeliveries,
    about,
    delivery_task,
    logger,
    metrics,
    runtime,
    tracer,
)

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

# One metric per state a delivery can be moved to by this function.
STATUS_METRICS = {
    DeliveryStatus.WAITING_STOCK: "DeliveryWaitingStock",
    DeliveryStatus.DELIVERED: "DeliveryDelivered",
    DeliveryStatus.PARTIAL: "DeliveryPartial",
    DeliveryStatus.FAILED: "DeliveryFailed",
}


@tracer.capture_method(capture_response=False, capture_error=False)
def record_handler(record: DynamoDBRecord) -> None:
    task = delivery_task(record)
    if isinstance(task, SendDelivery):
        about(delivery_id=task.delivery_id)
        attempt = runtime.delivery_sender().deliver(task.delivery_id)
        # Only what this attempt did: a replayed record finds the delivery final, moves
        # nothing and counts nothing.
        if attempt.acted and attempt.status in STATUS_METRICS:
            metrics.add_metric(name=STATUS_METRICS[attempt.status], unit=MetricUnit.Count, value=1)
        logger.info(
            "delivery processed",
            status=attempt.status.value if attempt.status else None,
            acted=attempt.acted,
        )
    elif isinstance(task, SendFailsend):
        about(delivery_id=task.delivery_id)
        state = runtime.failsend_sender().send(task.delivery_id)
        logger.info("failsend processed", failsend=state.value if state else None)
    elif isinstance(task, WakeDeliveries):
        about(card_order_id=task.order.card_order_id, own_sign=task.order.own_sign)
        woken = runtime.delivery_sender().wake_waiting(task.order)
        logger.info("order generated", woken=len(woken))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
