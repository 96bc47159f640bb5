"""The orders table's item layout: the one place that knows keys and attribute names.

One item collection per order (partition ``ORDER#<own_sign>#<card_order_id>``):
the header (sort key ``ORDER``) and one item per card template (``TEMPLATE#<template_no>``).
Keeping templates out of the header keeps it small: an order of 999 templates would not fit
one 400 KB item, and every progress update would rewrite (and stream) all of it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from cardmaker.orders.models import CardProductInfo, LogisticsInfo
from cardmaker.orders.order import Order, OrderKey, OrderStatus, StoredOrder

PK = "pk"
SK = "sk"
HEADER_SK = "ORDER"
TEMPLATE_SK_PREFIX = "TEMPLATE#"


class _Deserializer(TypeDeserializer):
    """Numbers come back as ``int`` when whole (every number we store is a count or an id)."""

    def _deserialize_n(self, value: str) -> int | Decimal:
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else number


_serializer = TypeSerializer()
_deserializer = _Deserializer()


def order_pk(key: OrderKey) -> str:
    return f"ORDER#{key.own_sign}#{key.card_order_id}"


def header_key(key: OrderKey) -> dict[str, Any]:
    return {PK: {"S": order_pk(key)}, SK: {"S": HEADER_SK}}


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> a low-level DynamoDB item (None members dropped)."""
    return {
        name: _serializer.serialize(value) for name, value in values.items() if value is not None
    }


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def header_item(order: Order, status: OrderStatus) -> dict[str, Any]:
    now = _iso(order.received_at)
    return to_item(
        {
            PK: order_pk(order.key),
            SK: HEADER_SK,
            "entity": "ORDER",
            "card_order_id": order.key.card_order_id,
            "own_sign": order.key.own_sign,
            "status": status.value,
            "content_hash": order.content_hash,
            "making_card_no": order.making_card_no,
            "template_count": len(order.templates),
            "card_count": order.card_count,
            "cards_generated": 0,
            "logistics_info": order.logistics_info.model_dump() if order.logistics_info else None,
            "received_at": now,
            "updated_at": now,
        }
    )


def template_items(order: Order) -> list[dict[str, Any]]:
    return [
        to_item(
            {
                PK: order_pk(order.key),
                SK: TEMPLATE_SK_PREFIX + template.template_no,
                "entity": "TEMPLATE",
                "position": position,
                "cards_generated": 0,
                **template.model_dump(exclude_none=True),
            }
        )
        for position, template in enumerate(order.templates)
    ]


def order_from_items(header: dict[str, Any], templates: list[dict[str, Any]]) -> StoredOrder:
    """Rebuild an order from its plain (deserialized) items."""
    ordered = sorted(templates, key=lambda item: int(item["position"]))
    logistics = header.get("logistics_info")
    order = Order(
        key=OrderKey(header["own_sign"], int(header["card_order_id"])),
        status=OrderStatus(header["status"]),
        content_hash=header["content_hash"],
        templates=tuple(CardProductInfo.model_validate(_template_fields(item)) for item in ordered),
        logistics_info=LogisticsInfo.model_validate(logistics) if logistics else None,
        received_at=datetime.fromisoformat(header["received_at"]),
    )
    return StoredOrder(
        order=order,
        updated_at=datetime.fromisoformat(header["updated_at"]),
        cards_generated={item["template_no"]: int(item["cards_generated"]) for item in ordered},
    )


def _template_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in CardProductInfo.model_fields if name in item}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
