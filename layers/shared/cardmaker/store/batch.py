"""BatchWriteItem with retries and exponential backoff of ``UnprocessedItems``.

boto3's ``batch_writer`` re-sends unprocessed items at once, with no backoff, which under
throttling turns into a hot loop; this one waits, with full jitter, and gives up loudly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from cardmaker.errors import UnprocessedItemsError
from cardmaker.retry import with_backoff

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestOutputTypeDef, WriteRequestTypeDef

BATCH_LIMIT = 25  # DynamoDB's limit per BatchWriteItem call
PARALLEL_PART = BATCH_LIMIT * 4  # items per task of ``put_in_parallel``


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


def put_in_parallel(
    client: DynamoDBClient,
    table_name: str,
    item_batches: Iterable[list[dict[str, Any]]],
    *,
    writers: int,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Put low-level items, ``writers`` BatchWriteItem calls in flight while ``item_batches``
    are still being produced; returns how many were written. Each part of
    ``PARALLEL_PART`` items is written (and retried) as ``batch_put`` does."""
    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="batch-put") as pool:
        pending = [
            pool.submit(batch_put, client, table_name, part, sleep=sleep)
            for items in item_batches
            for part in _split(items, PARALLEL_PART)
        ]
        return sum(future.result() for future in pending)


def _split(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
