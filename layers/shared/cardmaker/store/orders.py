"""The orders repository: the only code that reads or writes order items."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardmaker.errors import OrderExists
from cardmaker.generation.plan import ChunkProgress
from cardmaker.orders.order import Order, OrderKey, OrderStatus, StoredHeader, StoredOrder
from cardmaker.store import schema
from cardmaker.store.batch import batch_delete, batch_put
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.conditions import condition_failed, failed_condition_item
from cardmaker.store.items import from_item, to_item
from cardmaker.store.keys import PK, SK, key_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from cardmaker.generation.plan import Chunk


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
                ConditionExpression=f"attribute_not_exists({PK})",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            stored = self._header(order.key, failed_condition_item(error))
            if stored is None:  # deleted between our write and our read: transient, retried
                raise RuntimeError("the order vanished while being compared") from error
            if stored.content_hash != order.content_hash and pages:
                # Lost a race to a different order: our pages belong to no header.
                keys = [key_of(page) for page in pages]
                batch_delete(self._client, self._table, keys, sleep=self._sleep)
            raise OrderExists(stored) from error

    def get(self, key: OrderKey) -> StoredOrder | None:
        items = self._item_collection(key)
        header = next((item for item in items if item[SK] == schema.HEADER_SK), None)
        if header is None:
            return None
        pages = [item for item in items if item[SK].startswith(schema.PAGE_SK_PREFIX)]
        return schema.order_from_items(header, pages)

    def _item_collection(self, key: OrderKey) -> list[dict[str, Any]]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{PK} = :pk",
            "ExpressionAttributeValues": {":pk": {"S": schema.order_pk(key)}},
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**query)
            items.extend(from_item(raw) for raw in page.get("Items", []))
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
        item = from_item(raw)
        return StoredHeader(
            status=OrderStatus(item["status"]),
            content_hash=item["content_hash"],
            making_card_no=item["making_card_no"],
        )


class DynamoDBGenerationRepository:
    """The generation side of an order: its chunks and its progress, on the order's header.

    Each step is one conditional write, so none needs a transaction: starting is guarded by
    ``status = RECEIVED``, counting a chunk by ``NOT contains(done_chunks, :chunk)`` (exactly
    once, whatever the retries), finishing by ``chunks_done = chunks_total``.
    """

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()
        self._orders = DynamoDBOrderRepository(table_name, self._client)

    def get(self, key: OrderKey) -> StoredOrder | None:
        return self._orders.get(key)

    def start(self, order: Order, first_sequence: int, chunk_size: int, chunks_total: int) -> bool:
        """``RECEIVED`` -> ``GENERATING``, fixing the sequence block and the chunking. False when
        another attempt started it first."""
        names = {"#status": "status"}
        progress = {template.template_no: 0 for template in order.templates}
        return (
            self._conditional_update(
                Key=schema.header_key(order.key),
                UpdateExpression=(
                    "SET #status = :generating, first_sequence = :first, chunk_size = :size,"
                    " chunks_total = :total, chunks_done = :zero, cards_generated = :zero,"
                    " generated = :progress, updated_at = :now"
                ),
                ConditionExpression="#status = :received",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(
                    {
                        ":generating": OrderStatus.GENERATING.value,
                        ":received": OrderStatus.RECEIVED.value,
                        ":first": first_sequence,
                        ":size": chunk_size,
                        ":total": chunks_total,
                        ":zero": 0,
                        ":progress": progress,
                        ":now": schema.now_iso(),
                    }
                ),
            )
            is not None
        )

    def write_chunks(self, chunks: list[Chunk]) -> None:
        """Chunk items are immutable and fully determined by the plan: rewriting them on a
        retry changes nothing."""
        batch_put(self._client, self._table, [schema.chunk_item(chunk) for chunk in chunks])

    def progress(self, key: OrderKey) -> ChunkProgress:
        item = self._client.get_item(
            TableName=self._table,
            Key=schema.header_key(key),
            ConsistentRead=True,
            ProjectionExpression="#status, done_chunks, chunks_done, chunks_total",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        if not item:
            raise RuntimeError(f"order {key} has no header")
        plain = from_item(item)
        return ChunkProgress(
            status=OrderStatus(plain["status"]),
            done_chunks=frozenset(plain.get("done_chunks", ())),
            chunks_done=plain.get("chunks_done", 0),
            chunks_total=plain.get("chunks_total", 0),
        )

    def count_chunk(self, chunk: Chunk) -> int | None:
        """Add a finished chunk to the order's progress, exactly once. Returns the number of
        chunks done, or None if the chunk was counted before (or the order left GENERATING)."""
        answer = self._conditional_update(
            Key=schema.header_key(chunk.order),
            UpdateExpression=(
                "ADD chunks_done :one, cards_generated :count, done_chunks :ids"
                " SET generated.#template = generated.#template + :count, updated_at = :now"
            ),
            ConditionExpression="#status = :generating AND NOT contains(done_chunks, :id)",
            ExpressionAttributeNames={"#status": "status", "#template": chunk.template_no},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":count": {"N": str(chunk.count)},
                ":ids": {"SS": [chunk.chunk_id]},
                ":id": {"S": chunk.chunk_id},
                ":generating": {"S": OrderStatus.GENERATING.value},
                ":now": {"S": schema.now_iso()},
            },
            ReturnValues="UPDATED_NEW",
        )
        return None if answer is None else int(answer["Attributes"]["chunks_done"]["N"])

    def finish(self, key: OrderKey) -> bool:
        """``GENERATING`` -> ``GENERATED`` once every chunk is counted; True for the one call
        that made the change."""
        return self._transition(
            key,
            OrderStatus.GENERATED,
            "#status = :generating AND chunks_done = chunks_total",
            {"generated_at": schema.now_iso()},
        )

    def fail(self, key: OrderKey, reason: str) -> bool:
        return self._transition(
            key, OrderStatus.FAILED, "#status = :generating", {"failure_reason": reason}
        )

    def reopen(self, key: OrderKey) -> OrderStatus | None:
        """``FAILED`` -> ``GENERATING`` (``RECEIVED`` if it was never planned), so that a
        replay of its failed stream records does the work again; returns the new status, or
        None if the order was not FAILED.

        The sequence block, the chunking and the chunks already counted stay as they are, so
        the replay writes the very same cards. Back in ``RECEIVED``, the order matches the
        generator's stream filter again and is planned by the stream itself.
        """
        for status, planned in (
            (OrderStatus.GENERATING, "attribute_exists(chunks_total)"),
            (OrderStatus.RECEIVED, "attribute_not_exists(chunks_total)"),
        ):
            answer = self._conditional_update(
                Key=schema.header_key(key),
                UpdateExpression="SET #status = :status, updated_at = :now REMOVE failure_reason",
                ConditionExpression=f"#status = :failed AND {planned}",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {
                        ":status": status.value,
                        ":failed": OrderStatus.FAILED.value,
                        ":now": schema.now_iso(),
                    }
                ),
            )
            if answer is not None:
                return status
        return None

    def _transition(
        self, key: OrderKey, status: OrderStatus, condition: str, extra: dict[str, str]
    ) -> bool:
        sets = ", ".join(f"{name} = :{name}" for name in extra)
        answer = self._conditional_update(
            Key=schema.header_key(key),
            UpdateExpression=f"SET #status = :status, updated_at = :now, {sets}",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":status": status.value,
                    ":generating": OrderStatus.GENERATING.value,
                    ":now": schema.now_iso(),
                    **{f":{name}": value for name, value in extra.items()},
                }
            ),
        )
        return answer is not None

    def _conditional_update(self, **request: Any) -> dict[str, Any] | None:
        """UpdateItem on the orders table; None when its condition did not hold."""
        try:
            return dict(self._client.update_item(TableName=self._table, **request))
        except ClientError as error:
            if not condition_failed(error):
                raise
            return None
