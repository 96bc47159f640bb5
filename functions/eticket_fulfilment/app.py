"""The e-voucher fulfilment function: follows the e-voucher table's stream and acts on each
send-code notice as it is recorded: a ``send`` makes its delivery, ``resend``, ``cancel``,
``modified`` and ``order_modify`` go to the aftercare, anything else is IGNORED. The notice's
outcome is recorded on it. Thin on purpose: the layer does the work."""

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
    NoticeMethod,
    NoticeOutcome,
    fulfilment_task,
    logger,
    metrics,
    runtime,
    tracer,
)

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

AFTERCARE = frozenset(
    {NoticeMethod.RESEND, NoticeMethod.CANCEL, NoticeMethod.MODIFIED, NoticeMethod.ORDER_MODIFY}
)


@tracer.capture_method(capture_response=False, capture_error=False)
def record_handler(record: DynamoDBRecord) -> None:
    task = fulfilment_task(record)
    if task is None:
        return
    notice = task.notice
    # The order id and method only: never the token or the notice's other parameters.
    logger.append_keys(notice_order_id=notice.order_id, notice_method=notice.kind.value)
    delivery_id: str | None = None
    if notice.kind is NoticeMethod.SEND:
        fulfilled = runtime.notice_fulfilment().send(notice)
        outcome, delivery_id = fulfilled.outcome, fulfilled.delivery_id
        if fulfilled.why:
            logger.warning("send notice not served", why=fulfilled.why)
    elif notice.kind in AFTERCARE:
        outcome = runtime.notice_aftercare().handle(notice)
    else:
        outcome = NoticeOutcome.IGNORED
    runtime.fulfilment_notices().record_outcome(notice, outcome, delivery_id)
    metrics.add_metric(name="NoticeFulfilled", unit=MetricUnit.Count, value=1)
    logger.info("notice fulfilled", outcome=outcome.value, delivery_id=delivery_id)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
