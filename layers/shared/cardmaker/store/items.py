"""Plain Python values to and from DynamoDB's low-level (typed) items."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


class _Deserializer(TypeDeserializer):
    """Numbers come back as ``int`` when whole (every number we store is a count or an id),
    binary values as ``bytes`` (boto3 wraps them in its own ``Binary``; nothing above the
    store should know that type)."""

    def _deserialize_b(self, value: bytes) -> bytes:
        return value

    def _deserialize_n(self, value: str) -> int | Decimal:
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else number


_serializer = TypeSerializer()
_deserializer = _Deserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> a low-level DynamoDB item (None members dropped)."""
    return {
        name: _serializer.serialize(value) for name, value in values.items() if value is not None
    }


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A low-level DynamoDB item -> plain values (binary values as ``bytes``)."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}
