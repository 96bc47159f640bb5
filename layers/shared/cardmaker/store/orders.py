"""The orders repository: the only code that reads or writes order items."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardmaker.orders.order import Order, OrderKey, OrderStatus, StoredOrder
from cardmaker.orders.service import OrderExists, StoredHeader
from cardmaker.store import schema
from cardmaker.store.batch import batch_delete, batch_put
from cardmaker.store.clients import dynamodb_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBOrderRepository:
    """Orders in DynamoDB; see ``schema`` for the item layout.

    Storing an order is one conditional ``PutItem`` of its header (the commit point). A very
    large order first checks that its id is free, then writes its template pages. No transaction
    is needed: pages are named by content, so writing them is idempotent and can never disturb
    another order's; a refused order removes the pages it wrote.
    """

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()
        self._sleep = sleep

    def insert(self, order: Order) -> None:
        pages = schema.template_page_items(order)
        if pages:
            existing = self._header(order.key)
            if existing is not None:
                raise OrderExists(existing)
            batch_put(self._client, self._table, pages, sleep=self._sleep)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=schema.header_item(order),
                ConditionExpression=f"attribute_not_exists({schema.PK})",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise
            stored = self._header(order.key, error.response.get("Item"))
            if stored is None:  # deleted between our write and our read: transient, retried
                raise RuntimeError("the order vanished while being compared") from error
            if stored.content_hash != order.content_hash and pages:
                # Lost a race to a different order: our pages belong to no header.
                keys = [{schema.PK: page[schema.PK], schema.SK: page[schema.SK]} for page in pages]
                batch_delete(self._client, self._table, keys, sleep=self._sleep)
            raise OrderExists(stored) from error

    def get(self, key: OrderKey) -> StoredOrder | None:
        items = self._item_collection(key)
        header = next((item for item in items if item[schema.SK] == schema.HEADER_SK), None)
        if header is None:
            return None
        pages = [item for item in items if item[schema.SK].startswith(schema.PAGE_SK_PREFIX)]
        return schema.order_from_items(header, pages)

    def _item_collection(self, key: OrderKey) -> list[dict[str, Any]]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{schema.PK} = :pk",
            "ExpressionAttributeValues": {":pk": {"S": schema.order_pk(key)}},
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**query)
            items.extend(schema.from_item(raw) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _header(self, key: OrderKey, raw: dict[str, Any] | None = None) -> StoredHeader | None:
        """The stored header (from a failed put's ``ALL_OLD`` values, or read afresh)."""
        if not raw:
            raw = self._client.get_item(
                TableName=self._table, Key=schema.header_key(key), ConsistentRead=True
            ).get("Item")
        if not raw:
            return None
        item = schema.from_item(raw)
        return StoredHeader(
            status=OrderStatus(item["status"]),
            content_hash=item["content_hash"],
            making_card_no=item["making_card_no"],
        )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
