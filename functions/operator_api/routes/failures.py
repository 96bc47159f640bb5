"""``GET /failures``: the failed batches waiting for a redrive in each on-failure queue (the
queues `cardmaker dlq` lists and redrives), as counts."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from cardmaker import IAM, FailuresView, answer_body, json_content, runtime, tracer

router = Router()


@router.get(
    "/failures",
    summary="Count the failures waiting for a redrive",
    description="IAM-authorized (SigV4). Per on-failure queue (generator, delivery, events, "
    "notifier, fulfilment): SQS's approximate count of failed batches waiting, and of those "
    "being read right now. Counts only: the batches themselves are listed and redriven by "
    "`cardmaker dlq`.",
    tags=["operations"],
    security=IAM,
    responses={200: {"description": "Every queue's count", "content": json_content(FailuresView)}},
)
@tracer.capture_method(capture_response=False, capture_error=False)
def get_failures() -> dict[str, Any]:
    return answer_body(FailuresView.of(runtime.failure_queues().waiting()))
