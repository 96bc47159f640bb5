"""The delivery function: carries out deliveries as they arrive on the deliveries stream, and
wakes those waiting for stock when their order's GENERATED arrives on the orders stream.
Thin on purpose: the layer does the work."""

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

from cardmaker import runtime
from cardmaker.observability import logger, metrics, tracer
from cardmaker.store.delivery_schema import delivery_task

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    change = record.raw_event.get("dynamodb", {})
    task = delivery_task(change.get("NewImage") or {}, change.get("OldImage"))
    if task is None:
        return
    sender = runtime.delivery_sender()
    if isinstance(task, str):
        logger.append_keys(delivery_id=task)
        status = sender.deliver(task)
        if status is not None:
            metrics.add_metric(
                name=f"Delivery{status.value.title()}", unit=MetricUnit.Count, value=1
            )
        logger.info("delivery processed", status=status.value if status else None)
    else:
        woken = sender.wake_waiting(task)
        logger.info("order generated", card_order_id=task.card_order_id, woken=len(woken))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
