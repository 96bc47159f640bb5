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
    Notified,
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

# This invocation's notifications, by stream record: the batch is notified at once before
# the records are gone through one by one for the partial batch response.
_notified: dict[str, Notified] = {}


@tracer.capture_method(capture_response=False, capture_error=False)
def record_handler(record: DynamoDBRecord) -> None:
    task = notification_task(record)
    if isinstance(task, NotifyPlatform):
        about(card_order_id=task.order.card_order_id, own_sign=task.order.own_sign)
        name = _record_name(record)
        notified = _notified[name]
        # Told once: a copy of the same record later in the batch counts nothing again.
        _notified[name] = Notified((), notified.failure)
        if isinstance(notified.failure, PlatformNoticeFailed):
            # Recorded FAILED on the order; raised on so that the record reaches the queue.
            failed = notified.failure
            metrics.add_metric(name="PlatformNoticeFailed", unit=MetricUnit.Count, value=1)
            logger.warning(
                "platform notification failed",
                notice=failed.notice,
                code=failed.code,
                attempts=failed.attempts,
            )
        if notified.failure is not None:
            raise notified.failure
        # Only what this batch got accepted: a duplicate record finds them SENT.
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


def notify_batch(records: list[dict[str, Any]], context: LambdaContext) -> dict[str, Notified]:
    """Every notification the batch's records ask for, at once (one read of their orders,
    the writes together: docs/design.md), by record. Anything raised on the way fails every
    notification record of the batch, as a crash would."""
    tasks = [
        (_record_name(record), task)
        for record in map(DynamoDBRecord, records)
        if isinstance(task := notification_task(record), NotifyPlatform)
    ]
    if not tasks:
        return {}
    try:
        notified = runtime.platform_notifier().notify_all(
            [(task.order, dict(task.pending)) for _, task in tasks],
            time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        )
    except Exception as error:  # reported per record by the batch processor
        return {name: Notified((), error) for name, _ in tasks}
    named: dict[str, Notified] = {}
    for (name, _), outcome in zip(tasks, notified, strict=True):
        named.setdefault(name, outcome)
    return named


def _record_name(record: DynamoDBRecord) -> str:
    stream = record.dynamodb
    return f"{record.event_id}/{stream.sequence_number if stream else ''}"


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _notified.clear()
    _notified.update(notify_batch(list(event.get("Records") or []), context))
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
