"""Which order reserved a sequence number, through the orders table's ``BySequence`` index.

The index is keyed ``own_sign`` + ``first_sequence``, which an order header carries once its
generation started and each of its chunks carries from birth: one entry per order and per
chunk (a million-card order has ~200), never one per card. Blocks of sequence numbers never
overlap (the scheme's counter hands them out atomically), so the entry with the greatest
``first_sequence`` at or below a sequence number belongs to the one order that can hold it;
the caller checks that the order's block does reach that far. The sequence counter is shared
by the environments, so each environment's part of the index is asked (three Queries of one
item each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cardmaker.orders.models import OwnSign
from cardmaker.orders.order import OrderKey
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.keys import PK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_SEQUENCE_INDEX = "BySequence"
ENVIRONMENTS: tuple[OwnSign, ...] = ("daily", "pre", "online")


class DynamoDBSequenceIndex:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def order_holding(self, sequence: int) -> OrderKey | None:
        """The order whose block starts closest below ``sequence``, of any environment
        (None when no block starts at or below it). An index read is eventually consistent:
        an order that started generating a moment ago may not be found yet."""
        best: tuple[int, OrderKey] | None = None
        for own_sign in ENVIRONMENTS:
            items = self._client.query(
                TableName=self._table,
                IndexName=BY_SEQUENCE_INDEX,
                KeyConditionExpression="own_sign = :own_sign AND first_sequence <= :sequence",
                ExpressionAttributeValues={
                    ":own_sign": {"S": own_sign},
                    ":sequence": {"N": str(sequence)},
                },
                ScanIndexForward=False,
                Limit=1,
            ).get("Items", [])
            if not items:
                continue
            first = int(items[0]["first_sequence"]["N"])
            # ORDER#<own_sign>#<card_order_id> or CHUNK#<own_sign>#<card_order_id>#<chunk>
            card_order_id = int(items[0][PK]["S"].split("#")[2])
            if best is None or first > best[0]:
                best = (first, OrderKey(own_sign, card_order_id))
        return None if best is None else best[1]
