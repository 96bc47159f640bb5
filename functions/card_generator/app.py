"""The card generator: triggered by the orders table's stream. A newly received order is
planned into chunks; each new chunk is generated. Thin on purpose: the layer does the work."""

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
    GenerateChunk,
    PlanOrder,
    about,
    generation_task,
    logger,
    metrics,
    runtime,
    tracer,
)

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@tracer.capture_method(capture_response=False, capture_error=False)
def record_handler(record: DynamoDBRecord) -> None:
    task = generation_task(record)
    if isinstance(task, GenerateChunk):
        chunk = task.chunk
        about(card_order_id=chunk.order.card_order_id, own_sign=chunk.order.own_sign)
        result = runtime.card_generator().generate(chunk)
        # Only the cards this attempt added: a replayed or stood-down chunk counts 0.
        metrics.add_metric(name="CardsGenerated", unit=MetricUnit.Count, value=result.generated)
        logger.info(
            "chunk done",
            chunk_id=chunk.chunk_id,
            cards=result.generated,
            order_status=result.order_status.value,
        )
    elif isinstance(task, PlanOrder):
        about(card_order_id=task.order.card_order_id, own_sign=task.order.own_sign)
        plan = runtime.card_generator().plan(task.order)
        if plan.started:  # a replayed record plans again, but the order was planned once
            metrics.add_metric(name="OrdersPlanned", unit=MetricUnit.Count, value=1)
        logger.info("order planned", chunks=len(plan.chunks), started=plan.started)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
