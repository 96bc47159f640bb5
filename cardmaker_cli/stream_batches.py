"""Failed stream batches: the on-failure messages Lambda leaves in an SQS queue, and the
records they stand for, read back from the DynamoDB stream.

Lambda's on-failure message for a stream batch holds metadata only (``requestContext``,
``responseContext``, ``DDBStreamBatchInfo``: shard, first and last sequence numbers, batch
size), never the records. Replaying a batch means reading its records again from the stream
(``AT_SEQUENCE_NUMBER``) while they are still there (24 hours), and shaping them as Lambda's
event source mapping does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cardmaker_cli.stream_records import lambda_record

PAGE_LIMIT = 1000  # GetRecords' maximum
# An open shard may answer empty pages before the records asked for; this many in a row means
# the records are not there.
MAX_EMPTY_PAGES = 5
PEEK_BATCH = 10  # ReceiveMessage's maximum
MAX_MESSAGES = 1000  # messages one command looks at
_GONE = {"TrimmedDataAccessException", "ResourceNotFoundException", "ExpiredIteratorException"}


class BatchUnavailable(Exception):
    """The batch's records cannot be read back from the stream (past its retention, or
    the stream is gone); ``expired`` tells that from a failure to read."""

    def __init__(self, message: str, *, expired: bool) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


@dataclass(frozen=True)
class FailedBatch:
    """One on-failure message: which function gave up on which records, when and why."""

    queue: str
    message_id: str
    receive_count: int
    function: str
    failed_at: str
    condition: str  # RetryAttemptsExhausted, RecordAgeExceeded, ...
    function_error: str | None  # "Unhandled" when the last invocation raised
    invocations: int | None
    stream_arn: str
    shard_id: str
    start_sequence: str
    end_sequence: str
    batch_size: int | None
    problem: str | None = None  # why the message cannot be replayed (unreadable body)

    def view(self) -> dict[str, Any]:
        """The batch for ``--json`` (and the table): metadata only, never records."""
        return asdict(self)

    @property
    def reason(self) -> str:
        if self.problem:
            return self.problem
        return (
            f"{self.condition} ({self.function_error})" if self.function_error else self.condition
        )

    @property
    def sequences(self) -> str:
        if self.start_sequence == self.end_sequence:
            return self.start_sequence
        return f"{self.start_sequence} … {self.end_sequence}"


def failed_batch(queue: str, message: dict[str, Any]) -> FailedBatch:
    """An SQS message of an on-failure queue, read; a body that is not Lambda's stream
    failure record gives a batch with ``problem`` set (it is listed, never replayed)."""
    attributes = message.get("Attributes", {})
    receive_count = int(attributes.get("ApproximateReceiveCount", 0))
    try:
        body = json.loads(message.get("Body", ""))
        request = body.get("requestContext") or {}
        response = body.get("responseContext") or {}
        info = body["DDBStreamBatchInfo"]
        return FailedBatch(
            queue=queue,
            message_id=message["MessageId"],
            receive_count=receive_count,
            function=str(request.get("functionArn", "")).split(":function:")[-1].split(":")[0],
            failed_at=str(body.get("timestamp", "")),
            condition=str(request.get("condition", "")),
            function_error=response.get("functionError"),
            invocations=request.get("approximateInvokeCount"),
            stream_arn=str(info["streamArn"]),
            shard_id=str(info["shardId"]),
            start_sequence=str(info["startSequenceNumber"]),
            end_sequence=str(info["endSequenceNumber"]),
            batch_size=info.get("batchSize"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return FailedBatch(
            queue=queue,
            message_id=message.get("MessageId", "?"),
            receive_count=receive_count,
            function="",
            failed_at=_sent_at(attributes),
            condition="",
            function_error=None,
            invocations=None,
            stream_arn="",
            shard_id="",
            start_sequence="",
            end_sequence="",
            batch_size=None,
            problem="not a DynamoDB stream failure record",
        )


def _sent_at(attributes: dict[str, str]) -> str:
    sent = attributes.get("SentTimestamp")
    if not sent or not sent.isdigit():
        return ""
    return datetime.fromtimestamp(int(sent) / 1000).astimezone().isoformat(timespec="seconds")


# --- the queue ---------------------------------------------------------------------------


def peek(sqs: Any, queue_url: str, *, hold_seconds: int, wait_seconds: int) -> list[dict[str, Any]]:
    """Every message of the queue (up to ``MAX_MESSAGES``), each once, hidden from other
    readers for ``hold_seconds``: the caller deletes what it settled and ``release``s the
    rest. Nothing is consumed by looking."""
    messages: dict[str, dict[str, Any]] = {}
    while len(messages) < MAX_MESSAGES:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=PEEK_BATCH,
            VisibilityTimeout=hold_seconds,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        )
        received = answer.get("Messages", [])
        if not received:
            break
        for message in received:
            messages.setdefault(message["MessageId"], message)
    return list(messages.values())


def release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make messages visible again at once (visibility timeout 0): back in the queue as
    they were."""
    for start in range(0, len(messages), PEEK_BATCH):
        part = messages[start : start + PEEK_BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, m in enumerate(part)
            ],
        )


# --- the stream --------------------------------------------------------------------------


def batch_records(
    streams: Any, batch: FailedBatch, wanted: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """The batch's records, read back from its shard and shaped as Lambda delivers them.
    Of the shard's records from the first to the last sequence number, only those ``wanted``
    (the function's stream filter) were in the batch. Raises ``BatchUnavailable``."""
    start, end = int(batch.start_sequence), int(batch.end_sequence)
    records: list[dict[str, Any]] = []
    for raw in _shard_records(streams, batch):
        sequence = int(raw["dynamodb"]["SequenceNumber"])
        if not records and sequence != start:
            raise BatchUnavailable(
                f"record {start} is no longer in the stream (past its 24-hour retention?)",
                expired=True,
            )
        record = lambda_record(raw, batch.stream_arn).event
        if sequence in (start, end) or wanted(record):
            records.append(record)
        if sequence >= end:
            return records
    if not records:
        raise BatchUnavailable(
            f"record {start} is no longer in the stream (past its 24-hour retention?)",
            expired=True,
        )
    raise BatchUnavailable(f"the stream ends before record {end}", expired=True)


def _shard_records(streams: Any, batch: FailedBatch) -> Iterator[dict[str, Any]]:
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch.start_sequence,
        ).get("ShardIterator")
        empty = 0
        while iterator and empty < MAX_EMPTY_PAGES:
            page = streams.get_records(ShardIterator=iterator, Limit=PAGE_LIMIT)
            records = page.get("Records", [])
            empty = 0 if records else empty + 1
            yield from records
            iterator = page.get("NextShardIterator")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _GONE:
            raise BatchUnavailable(
                f"the records are no longer in the stream ({code})", expired=True
            ) from None
        raise BatchUnavailable(f"cannot read the stream: {code or error}", expired=False) from None
