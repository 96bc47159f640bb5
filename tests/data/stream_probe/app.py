"""A stream consumer for the local poller's tests: it keeps every event it receives and fails
on demand, by the new image's ``boom`` and ``fail`` attributes."""

from __future__ import annotations

from typing import Any

received: list[dict[str, Any]] = []
_failed_once: set[str] = set()


class Boom(RuntimeError):
    """The function error a ``boom = "yes"`` record causes."""


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Record the event; raise for ``boom = "yes"``; report ``fail = "always"`` records, and
    ``fail = "once"`` records the first time they come, as batch item failures."""
    received.append(event)
    failures = []
    for record in event["Records"]:
        image = record["dynamodb"].get("NewImage", {})
        sequence_number = record["dynamodb"]["SequenceNumber"]
        if image.get("boom", {}).get("S") == "yes":
            raise Boom("boom")
        fail = image.get("fail", {}).get("S")
        if fail == "always" or (fail == "once" and sequence_number not in _failed_once):
            _failed_once.add(sequence_number)
            failures.append({"itemIdentifier": sequence_number})
    return {"batchItemFailures": failures}
