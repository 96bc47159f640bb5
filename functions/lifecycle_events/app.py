"""The lifecycle events function: follows the orders and the deliveries streams and publishes
each step integrators care about (an order received, generated, made, shipped, confirmed or
failed; a delivery delivered, partial or failed) to the LifecycleBus, in the one envelope of
docs/events.md. Thin on purpose: the layer decodes the change and builds the event."""

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
    DeliveryFinished,
    about,
    lifecycle_change,
    lifecycle_event,
    logger,
    metrics,
    runtime,
    tracer,
)

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@tracer.capture_method(capture_response=False, capture_error=False)
def record_handler(record: DynamoDBRecord) -> None:
    change = lifecycle_change(record)
    if change is None:  # a chunk, a template, or a write that left the status as it was
        return
    if isinstance(change, DeliveryFinished):
        about(delivery_id=change.delivery_id)
    else:
        about(card_order_id=change.order.card_order_id, own_sign=change.order.own_sign)
    event = lifecycle_event(change)
    # Raises if EventBridge refused the entry: the record is reported failed and retried.
    runtime.lifecycle_bus().publish(event)
    metrics.add_metric(name="LifecycleEventPublished", unit=MetricUnit.Count, value=1)
    logger.info("event published", detail_type=event.detail_type, event_id=event.event_id)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
