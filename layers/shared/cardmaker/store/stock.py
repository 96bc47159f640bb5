"""Where a product's cards come from: an environment's orders that have their cards, oldest
first, through the orders table's ``ByEnvironment`` index (one small item per order)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cardmaker.orders.order import OrderStatus
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.items import to_item
from cardmaker.store.order_list import BY_ENVIRONMENT_INDEX

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_dynamodb import DynamoDBClient

# GENERATED or later: every card of the order exists.
_WITH_CARDS = tuple(status.value for status in OrderStatus if status.has_cards)


class DynamoDBStockOrders:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def with_cards(self, own_sign: str) -> Iterator[int]:
        """The ids of the environment's orders whose cards all exist, oldest first (lazily:
        a claim that succeeds on the first order reads no further)."""
        names = {f":s{index}": status for index, status in enumerate(_WITH_CARDS)}
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_ENVIRONMENT_INDEX,
            "KeyConditionExpression": "own_sign = :own_sign",
            "FilterExpression": f"#status IN ({', '.join(names)})",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item({":own_sign": own_sign, **names}),
            "ScanIndexForward": True,  # oldest first
        }
        while True:
            page = self._client.query(**query)
            for item in page.get("Items", []):
                yield int(item["card_order_id"]["N"])
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
