"""The orders repository: the only code that reads or writes order items."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardmaker.orders.order import Order, OrderKey, OrderStatus, StoredOrder
from cardmaker.orders.service import OrderExists, StoredHeader
from cardmaker.store import schema
from cardmaker.store.batch import backoff_delay, batch_put
from cardmaker.store.clients import dynamodb_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TRANSACTION_LIMIT = 100  # DynamoDB's limit of actions in one TransactWriteItems
_NOT_EXISTS = f"attribute_not_exists({schema.PK})"


class DynamoDBOrderRepository:
    """Orders in DynamoDB.

    An order that fits one transaction (up to 99 templates: every order seen in practice) is
    written atomically in one ``TransactWriteItems``. A larger one is written in three
    resumable steps: the header as ``ACCEPTING`` (the commit of the order's identity and
    content), its templates, then the header flipped to ``RECEIVED``. A crash in between is
    finished by the platform's retry of the same call.
    """

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        conflict_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()
        self._conflict_attempts = conflict_attempts
        self._sleep = sleep

    def insert(self, order: Order) -> None:
        if 1 + len(order.templates) <= TRANSACTION_LIMIT:
            self._insert_in_one_transaction(order)
        else:
            self._put_new_header(order, OrderStatus.ACCEPTING)
            self.finish_insert(order)

    def finish_insert(self, order: Order) -> None:
        """Write the templates of an ``ACCEPTING`` order, then make it ``RECEIVED``."""
        batch_put(self._client, self._table, schema.template_items(order), sleep=self._sleep)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=schema.header_key(order.key),
                UpdateExpression="SET #status = :received",
                ConditionExpression="#status = :accepting AND content_hash = :hash",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":received": {"S": OrderStatus.RECEIVED.value},
                    ":accepting": {"S": OrderStatus.ACCEPTING.value},
                    ":hash": {"S": order.content_hash},
                },
            )
        except ClientError as error:
            # A concurrent replay of the same call finished first: the order is in place.
            if _error_code(error) != "ConditionalCheckFailedException":
                raise

    def get(self, key: OrderKey) -> StoredOrder | None:
        header: dict[str, Any] | None = None
        templates: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{schema.PK} = :pk",
            "ExpressionAttributeValues": {":pk": {"S": schema.order_pk(key)}},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**query)
            for raw in page.get("Items", []):
                item = schema.from_item(raw)
                if item[schema.SK] == schema.HEADER_SK:
                    header = item
                elif item[schema.SK].startswith(schema.TEMPLATE_SK_PREFIX):
                    templates.append(item)
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if header is None or header["status"] == OrderStatus.ACCEPTING.value:
            return None
        return schema.order_from_items(header, templates)

    def _insert_in_one_transaction(self, order: Order) -> None:
        header = {
            "Put": {
                "TableName": self._table,
                "Item": schema.header_item(order, OrderStatus.RECEIVED),
                "ConditionExpression": _NOT_EXISTS,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        templates = [
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": _NOT_EXISTS}}
            for item in schema.template_items(order)
        ]
        for attempt in range(self._conflict_attempts):
            try:
                self._client.transact_write_items(TransactItems=[header, *templates])
                return
            except ClientError as error:
                if _error_code(error) != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons") or []
                codes = {reason.get("Code") for reason in reasons}
                if "ConditionalCheckFailed" in codes:
                    old = reasons[0].get("Item") if reasons else None
                    raise OrderExists(self._stored_header(order.key, old)) from error
                if "TransactionConflict" not in codes:
                    raise
                # A concurrent twin holds the items: wait for it to commit, then look again.
                self._sleep(backoff_delay(attempt, 0.02, 0.5))
        raise RuntimeError("order transaction kept conflicting")

    def _put_new_header(self, order: Order, status: OrderStatus) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=schema.header_item(order, status),
                ConditionExpression=_NOT_EXISTS,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise
            raise OrderExists(self._stored_header(order.key, error.response.get("Item"))) from error

    def _stored_header(self, key: OrderKey, raw: dict[str, Any] | None) -> StoredHeader:
        if not raw:
            raw = self._client.get_item(
                TableName=self._table, Key=schema.header_key(key), ConsistentRead=True
            ).get("Item")
        if not raw:  # deleted between our write and our read: treat as a transient failure
            raise RuntimeError("order vanished while being compared")
        item = schema.from_item(raw)
        return StoredHeader(
            status=OrderStatus(item["status"]),
            content_hash=item["content_hash"],
            making_card_no=item["making_card_no"],
        )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
