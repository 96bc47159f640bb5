"""The on-failure queues' depths, from SQS's queue attributes (never a message read)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cardmaker.store.clients import sqs_client

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsQueueDepths:
    def __init__(self, client: SQSClient | None = None) -> None:
        self._client = client or sqs_client()

    def depth(self, queue_url: str) -> tuple[int, int]:
        """(messages waiting, messages being read) in the queue."""
        attributes = self._client.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        ).get("Attributes", {})
        return (
            int(attributes.get("ApproximateNumberOfMessages", "0")),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        )
