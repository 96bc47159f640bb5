"""The products repository: an item's merchant code mapped to a stock of cards, in the
e-voucher table.

A product is two items written in one transaction: ``PRODUCT#<merchant_code>`` / ``PRODUCT``
(read by key when a notice arrives) and its entry in the catalogue partition ``PRODUCTS`` /
``<merchant_code>`` (one Query lists every product; the table's notices are never scanned).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cardmaker.store import eticket_schema
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.conditions import retry_unapplied
from cardmaker.store.keys import PK, SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from cardmaker.eticket.products import Product

CATALOGUE = "PRODUCTS"


class DynamoDBProductRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def put(self, product: Product) -> None:
        """Map (or map again) a merchant code: the last mapping wins."""
        item = eticket_schema.product_item(product)
        entry = {**item, PK: {"S": CATALOGUE}, SK: {"S": product.merchant_code}}
        retry_unapplied(
            lambda: self._client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": item}},
                    {"Put": {"TableName": self._table, "Item": entry}},
                ]
            )
        )

    def get(self, merchant_code: str) -> Product | None:
        raw = self._client.get_item(
            TableName=self._table,
            Key=eticket_schema.product_key(merchant_code),
            ConsistentRead=True,
        ).get("Item")
        return None if raw is None else eticket_schema.product_from_item(raw)

    def list(self) -> list[Product]:
        """Every product, by merchant code."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{PK} = :catalogue",
            "ExpressionAttributeValues": {":catalogue": {"S": CATALOGUE}},
        }
        products: list[Product] = []
        while True:
            page = self._client.query(**query)
            products += [eticket_schema.product_from_item(raw) for raw in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return products
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
