"""How many cards of each template claims hold: the allocation cursors of the cards table,
read in one consistent ``BatchGetItem`` per 100 templates (no claim, no card is read)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cardmaker.retry import with_backoff
from cardmaker.store import card_schema
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.keys import PK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from cardmaker.orders.order import OrderKey

_BATCH_GET_LIMIT = 100  # DynamoDB's limit per BatchGetItem call


class DynamoDBHandedOut:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def handed_out(self, order: OrderKey, template_nos: Sequence[str]) -> dict[str, int]:
        """Each template's cursor count (0 where no claim moved it yet)."""
        by_cursor = {
            card_schema.cursor_key(order, template_no)[PK]["S"]: template_no
            for template_no in template_nos
        }
        counts = dict.fromkeys(template_nos, 0)
        keys = [card_schema.cursor_key(order, template_no) for template_no in template_nos]
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            pending: list[dict[str, Any]] = keys[start : start + _BATCH_GET_LIMIT]
            for _ in with_backoff(8, base=0.05, cap=2.0, sleep=time.sleep):
                answer = self._client.batch_get_item(
                    RequestItems={
                        self._table: {
                            "Keys": pending,
                            "ConsistentRead": True,
                            "ProjectionExpression": "#pk, allocated",
                            "ExpressionAttributeNames": {"#pk": PK},
                        }
                    }
                )
                for item in answer.get("Responses", {}).get(self._table, []):
                    if "allocated" in item:
                        counts[by_cursor[item[PK]["S"]]] = int(item["allocated"]["N"])
                unprocessed = answer.get("UnprocessedKeys", {}).get(self._table)
                pending = unprocessed.get("Keys", []) if unprocessed else []
                if not pending:
                    break
            if pending:
                raise RuntimeError(f"{len(pending)} allocation cursors could not be read")
        return counts
