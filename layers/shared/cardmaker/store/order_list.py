"""The orders of an environment, newest first, through the ``ByEnvironment`` index.

The index is keyed ``own_sign`` + ``received_at``, which only order headers carry (chunks,
template pages and template registry items have no ``received_at``): it is sparse, one small
item per order. It keeps what the list shows (``ORDER_LIST_ATTRIBUTES``, see template.yaml)
and never the templates, so a list page never reads an order's (up to 64 KB) header.

A status filter is a ``FilterExpression`` over the environment's index items: DynamoDB reads
(and bills) every item it passes over, matching or not. Each request reads at most
``MAX_EVALUATED`` index items; a page that reaches that bound ends there, with fewer orders than
asked and a position to go on from.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from cardmaker.orders.listing import ListPosition, OrderPage, OrderSummary
from cardmaker.orders.order import OrderKey, OrderStatus
from cardmaker.store import schema
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.items import from_item, to_item
from cardmaker.store.keys import PK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from cardmaker.orders.models import OwnSign

BY_ENVIRONMENT_INDEX = "ByEnvironment"
# What the index keeps besides its keys (own_sign, received_at) and the table's (pk, sk):
# template.yaml's projection must say the same (tests/integration/test_template.py).
ORDER_LIST_ATTRIBUTES = ("card_order_id", "status", "card_count", "updated_at")
# The most index items one filtered request reads (~200 bytes each: about 25 read units).
MAX_EVALUATED = 1000
# How many items a filtered request asks for at once, so that a rare status takes few calls.
_FILTERED_READ = 200


class DynamoDBOrderIndex:
    """Pages of an environment's orders from the ``ByEnvironment`` index."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def page(
        self,
        own_sign: OwnSign,
        status: OrderStatus | None,
        limit: int,
        after: ListPosition | None,
    ) -> OrderPage:
        """Up to ``limit`` orders after ``after``, newest first. One more than ``limit`` is
        looked for, so that the last page says it is the last (no empty page after it)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_ENVIRONMENT_INDEX,
            "KeyConditionExpression": "own_sign = :own_sign",
            "ExpressionAttributeValues": to_item({":own_sign": own_sign}),
            "ScanIndexForward": False,  # newest first
        }
        if status is not None:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            query["ExpressionAttributeValues"][":status"] = {"S": status.value}
        if after is not None:
            query["ExclusiveStartKey"] = _start_key(own_sign, after)
        found: list[dict[str, Any]] = []
        evaluated = 0
        while True:
            wanted = limit + 1 - len(found)
            if status is None:
                query["Limit"] = wanted  # every item read is listed
            else:
                query["Limit"] = min(max(wanted, _FILTERED_READ), MAX_EVALUATED - evaluated)
            answer = self._client.query(**query)
            evaluated += answer.get("ScannedCount", 0)
            found.extend(from_item(raw) for raw in answer.get("Items", []))
            last = answer.get("LastEvaluatedKey")
            if len(found) > limit:
                orders = found[:limit]
                return OrderPage([_summary(item) for item in orders], _position(orders[-1]))
            if last is None:
                return OrderPage([_summary(item) for item in found], None)
            if status is not None and evaluated >= MAX_EVALUATED:
                # The read bound: go on from the last item read (listed or not).
                return OrderPage([_summary(item) for item in found], _position(from_item(last)))
            query["ExclusiveStartKey"] = last


def _start_key(own_sign: OwnSign, after: ListPosition) -> dict[str, Any]:
    """The index position of the order ``after`` names (whether or not it still exists:
    DynamoDB and the index take it as a place in the order)."""
    key = schema.header_key(OrderKey(own_sign, after.card_order_id))
    return {**key, **to_item({"own_sign": own_sign, "received_at": after.received_at})}


def _position(item: dict[str, Any]) -> ListPosition:
    """Where ``item`` (an index item, or an index's LastEvaluatedKey) stands in the list."""
    # A LastEvaluatedKey has the keys only: the id is the last part of the header's pk.
    return ListPosition(str(item["received_at"]), int(str(item[PK]).rsplit("#", 1)[1]))


def _summary(item: dict[str, Any]) -> OrderSummary:
    return OrderSummary(
        key=schema.order_key_from_item(item),
        status=OrderStatus(item["status"]),
        card_count=int(item["card_count"]),
        received_at=datetime.fromisoformat(item["received_at"]),
        updated_at=datetime.fromisoformat(item["updated_at"]),
    )
