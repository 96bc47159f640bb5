"""BatchWriteItem with retries and exponential backoff of ``UnprocessedItems``.

boto3's ``batch_writer`` re-sends unprocessed items at once, with no backoff, which under
throttling turns into a hot loop; this one waits, with full jitter, and gives up loudly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from cardmaker.errors import UnprocessedItemsError
from cardmaker.retry import with_backoff

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestOutputTypeDef, WriteRequestTypeDef

BATCH_LIMIT = 25  # DynamoDB's limit per BatchWriteItem call


def batch_put(
    client: DynamoDBClient, table_name: str, items: Iterable[dict[str, Any]], **retry: Any
) -> int:
    """Put low-level (typed) items in batches of 25; returns how many were written."""
    requests: Iterator[WriteRequestTypeDef] = ({"PutRequest": {"Item": item}} for item in items)
    return batch_write(client, table_name, requests, **retry)


def batch_delete(
    client: DynamoDBClient, table_name: str, keys: Iterable[dict[str, Any]], **retry: Any
) -> int:
    """Delete items by low-level key in batches of 25; returns how many were deleted."""
    requests: Iterator[WriteRequestTypeDef] = ({"DeleteRequest": {"Key": key}} for key in keys)
    return batch_write(client, table_name, requests, **retry)


def batch_write(
    client: DynamoDBClient,
    table_name: str,
    requests: Iterable[WriteRequestTypeDef],
    *,
    max_attempts: int = 8,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send put/delete requests in batches of 25, retrying what DynamoDB leaves unprocessed."""
    written = 0
    batch: list[WriteRequestTypeDef] = []
    for request in requests:
        batch.append(request)
        if len(batch) == BATCH_LIMIT:
            written += _write_batch(
                client, table_name, batch, max_attempts, base_delay, max_delay, sleep
            )
            batch = []
    if batch:
        written += _write_batch(
            client, table_name, batch, max_attempts, base_delay, max_delay, sleep
        )
    return written


def _write_batch(
    client: DynamoDBClient,
    table_name: str,
    requests: Sequence[WriteRequestTypeDef],
    max_attempts: int,
    base_delay: float,
    max_delay: float,
    sleep: Callable[[float], None],
) -> int:
    pending: list[WriteRequestTypeDef] | list[WriteRequestOutputTypeDef] = list(requests)
    for _ in with_backoff(max_attempts, base=base_delay, cap=max_delay, sleep=sleep):
        answer = client.batch_write_item(RequestItems={table_name: pending})
        pending = answer.get("UnprocessedItems", {}).get(table_name, [])
        if not pending:
            return len(requests)
    raise UnprocessedItemsError(len(pending))
