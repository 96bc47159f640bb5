"""The platform notifier: follows the orders stream and tells the platform an order's cards
were made (make.finish) and shipped (status.sended), from the notifications each step left
PENDING on the order (the outbox); makes an order of test templates only MADE once GENERATED.
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

from cardmaker import (
    MakeTestOrder,
    NotifyPlatform,
    PlatformNoticeFailed,
    about,
    logger,
    metrics,
    notification_task,
    runtime,
    tracer,
)

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@tracer.capture_method(capture_response=False, capture_error=False)
def record_handler(record: DynamoDBRecord) -> None:
    task = notification_task(record)
    if isinstance(task, NotifyPlatform):
        about(card_order_id=task.order.card_order_id, own_sign=task.order.own_sign)
        try:
            notified = runtime.platform_notifier().notify(task.order, dict(task.pending))
        except PlatformNoticeFailed as failed:
            # Recorded FAILED on the order; raised on so that the record reaches the queue.
            metrics.add_metric(name="PlatformNoticeFailed", unit=MetricUnit.Count, value=1)
            logger.warning(
                "platform notification failed",
                notice=failed.notice,
                code=failed.code,
                attempts=failed.attempts,
            )
            raise
        # Only what this attempt got accepted: a duplicate record finds them SENT.
        if notified.sent:
            metrics.add_metric(
                name="PlatformNotified", unit=MetricUnit.Count, value=len(notified.sent)
            )
        logger.info("platform notified", sent=[notice.value for notice in notified.sent])
    elif isinstance(task, MakeTestOrder):
        about(card_order_id=task.order.card_order_id, own_sign=task.order.own_sign)
        made = runtime.platform_notifier().make_test_order(task.order)
        if made:
            metrics.add_metric(name="TestOrderMade", unit=MetricUnit.Count, value=1)
        logger.info("order generated", made_by_test_templates=made)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
