"""The chunks of a reopened order that no failure record brings back.

When a chunk fails on its last attempt the generator marks the order FAILED, and the order's
other chunks that run afterwards stand down: they succeed without doing anything, so they
leave no on-failure message behind. Once the order is reopened and its failed batches are
replayed, those chunks are still missing. They are found from the order itself (the plan is
a pure function of the order, its first sequence number and its chunk size) and replayed from
their items, which planning wrote and nothing ever changes: each becomes the INSERT record the
stream delivered when the chunk was written.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cardmaker import OrderStatus, plan_chunks
from cardmaker.store import key_of, schema

if TYPE_CHECKING:
    from cardmaker import DynamoDBGenerationRepository, OrderKey


def uncounted_chunk_records(
    orders: DynamoDBGenerationRepository,
    dynamodb: Any,
    table: str,
    key: OrderKey,
    stream_arn: str,
) -> list[dict[str, Any]]:
    """Stream records (as Lambda delivers them) of the order's chunks not counted yet; none
    unless the order is GENERATING."""
    stored = orders.get(key)
    if stored is None or stored.order.status is not OrderStatus.GENERATING:
        return []
    generation = stored.generation
    if generation is None:
        return []
    done = orders.progress(key).done_chunks
    chunks = plan_chunks(stored.order, generation.first_sequence, generation.chunk_size)
    records: list[dict[str, Any]] = []
    for chunk in chunks:
        if chunk.chunk_id in done:
            continue
        item = dynamodb.get_item(
            TableName=table, Key=schema.chunk_key(chunk), ConsistentRead=True
        ).get("Item")
        if item is not None:
            records.append(_insert_record(item, stream_arn, len(records)))
    return records


def _insert_record(item: dict[str, Any], stream_arn: str, index: int) -> dict[str, Any]:
    keys = key_of(item)
    return {
        # Not the stream's own ids: the handler reads only the event name and the image, and
        # reports failures by this sequence number, unique within the invocation.
        "eventID": f"replay-{index}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3] if stream_arn.count(":") >= 3 else "",
        "dynamodb": {
            "ApproximateCreationDateTime": int(time.time()),
            "Keys": keys,
            "NewImage": item,
            "SequenceNumber": str(index + 1),
            "SizeBytes": 0,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": stream_arn,
    }
