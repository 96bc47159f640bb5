"""Telling a failed DynamoDB condition (an expected outcome: the item was not in the state a
write required) from every other error (which must propagate)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from cardmaker.retry import with_backoff

T = TypeVar("T")

_CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == _CONDITION_FAILED


# A transaction's cancellation reason for an item whose condition did not hold.
CONDITION_FAILED_REASON = "ConditionalCheckFailed"


def cancellation_reasons(error: ClientError) -> list[dict[str, Any]] | None:
    """A cancelled transaction's reasons, one per item in the request's order (``Code``
    ``"None"`` for an item that was not the cause; ``Item`` what
    ``ReturnValuesOnConditionCheckFailure`` asked for), empty if none came; None for any
    other error."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons: Any = error.response.get("CancellationReasons")
    return [dict(reason) for reason in reasons] if isinstance(reasons, list) else []


def failed_condition_item(error: ClientError) -> dict[str, Any] | None:
    """The item a failed condition answered with (``ReturnValuesOnConditionCheckFailure``
    ``ALL_OLD``), if any: botocore puts it in the error's response, untyped."""
    item = error.response.get("Item")
    return item if isinstance(item, dict) else None


# Answers that say DynamoDB did not apply the write: trying again cannot apply it twice.
_NOT_APPLIED = {
    "TransactionConflictException",
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
}


def retry_unapplied(
    write: Callable[[], T], *, attempts: int = 4, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run a write again, with backoff, while DynamoDB answers that it did not apply it
    (a conflict with someone's transaction, which botocore does not retry, or throttling
    that outlasted botocore's own attempts)."""
    for attempt in with_backoff(attempts, base=0.05, cap=1.0, sleep=sleep):
        try:
            return write()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code not in _NOT_APPLIED or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
