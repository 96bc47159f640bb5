"""A DynamoDB stream record as Lambda's event source mapping delivers it, built from what
GetRecords returns. Shared by the local stack's pollers and `cardmaker dlq redrive`, which
replays failed batches: both must hand the functions exactly Lambda's shape. Light on
purpose (no template reading), so that the command starts quickly."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StreamRecord:
    """One stream record as Lambda delivers it, with what the poller needs to know of it."""

    event: dict[str, Any]
    sequence_number: str
    arrival: float  # epoch seconds, not rounded


def lambda_record(raw: Mapping[str, Any], stream_arn: str) -> StreamRecord:
    """A ``GetRecords`` record (moto's or AWS's), as Lambda's DynamoDB event source delivers it."""
    change = raw["dynamodb"]
    created = change["ApproximateCreationDateTime"]
    arrival = created.timestamp() if isinstance(created, datetime) else float(created)
    # DynamoDB rounds ApproximateCreationDateTime down to the second.
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": int(arrival)}
    for key in ("Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType"):
        if key in change:
            dynamodb[key] = _as_json(change[key])
    event = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": raw.get("awsRegion") or stream_arn.split(":")[3],
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    return StreamRecord(event, change["SequenceNumber"], arrival)


def _as_json(value: Any) -> Any:
    # boto3 decodes B and BS attributes to bytes; Lambda's JSON event carries them in base64.
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    return value
