"""The cards repository: cards, the chunks' wrapped data keys, the sequence counter."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from cardmaker.store import card_schema
from cardmaker.store.batch import BATCH_LIMIT, batch_put
from cardmaker.store.clients import dynamodb_client

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from mypy_boto3_dynamodb import DynamoDBClient

    from cardmaker.generation.plan import Chunk


class SequenceExhausted(Exception):
    """The card-number scheme has no sequence numbers left."""


class DynamoDBCardRepository:
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        writers: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()
        self._writers = writers
        self._sleep = sleep

    def reserve_sequence(self, scheme_name: str, count: int, capacity: int) -> int:
        """Hand out ``count`` consecutive sequence numbers; returns the first. Atomic: two
        orders never get overlapping blocks."""
        answer = self._client.update_item(
            TableName=self._table,
            Key=card_schema.sequence_key(scheme_name),
            UpdateExpression="ADD next_sequence :count",
            ExpressionAttributeValues={":count": {"N": str(count)}},
            ReturnValues="UPDATED_NEW",
        )
        end = int(answer["Attributes"]["next_sequence"]["N"])
        if end > capacity:
            raise SequenceExhausted(f"scheme {scheme_name} has no room for {count} more cards")
        return end - count

    def claim_chunk_key(self, chunk: Chunk, wrapped: bytes) -> tuple[bytes, int]:
        """Store ``wrapped`` as the chunk's data key unless it has one already, and count an
        attempt. Returns the chunk's wrapped key and this attempt's number (1, 2, ...): every
        attempt of a chunk seals with the same key, so its cards always open."""
        answer = self._client.update_item(
            TableName=self._table,
            Key=card_schema.chunk_key_item_key(chunk),
            UpdateExpression="SET wrapped_key = if_not_exists(wrapped_key, :key) ADD attempts :one",
            ExpressionAttributeValues={":key": {"B": wrapped}, ":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
        attributes = answer["Attributes"]
        return attributes["wrapped_key"]["B"], int(attributes["attempts"]["N"])

    def write_cards(self, batches: Iterable[list[dict[str, Any]]]) -> int:
        """Write cards batch by batch, ``writers`` BatchWriteItem calls in flight, while the
        caller produces the next batches: generation runs behind the I/O. Unconditional puts
        at fixed keys, so a retried chunk overwrites exactly its own cards."""
        with ThreadPoolExecutor(max_workers=self._writers, thread_name_prefix="cards") as pool:
            pending = [
                pool.submit(batch_put, self._client, self._table, part, sleep=self._sleep)
                for batch in batches
                for part in _split(batch, BATCH_LIMIT * 4)
            ]
            return sum(future.result() for future in pending)


def _split(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
