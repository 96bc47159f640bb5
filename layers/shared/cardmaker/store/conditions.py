"""Telling a failed DynamoDB condition (an expected outcome: the item was not in the state a
write required) from every other error (which must propagate)."""

from __future__ import annotations

from botocore.exceptions import ClientError

_CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == _CONDITION_FAILED
