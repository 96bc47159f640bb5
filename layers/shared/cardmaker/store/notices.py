"""The notices repository: the only code that reads or writes notice items (the e-voucher
table's ``NOTICE#<order_id>`` partition, ``eticket_schema``).

A notice is recorded with ONE conditional PutItem: its record id is ``SEND`` for an order's
send and ``<METHOD>#<digest>`` otherwise (``Notice.record_id``), so a replayed notice or a
second send for the same order finds its record taken and changes nothing. Its INSERT on the
table's stream is what fulfilment acts on; fulfilment and aftercare then set its outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardmaker.eticket.notice import Notice, NoticeOutcome, NoticeRecord
from cardmaker.store import eticket_schema
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.conditions import condition_failed, retry_unapplied
from cardmaker.store.items import from_item
from cardmaker.store.keys import PK
from cardmaker.store.schema import now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBNoticeRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def record(self, notice: Notice) -> bool:
        """Record a verified notice: True if this call recorded it, False if it already was
        (a replay, or another send for the same order): nothing is changed then."""
        try:
            retry_unapplied(
                lambda: self._client.put_item(
                    TableName=self._table,
                    Item=eticket_schema.notice_item(notice),
                    ConditionExpression=f"attribute_not_exists({PK})",
                )
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def notices(self, order_id: str) -> list[NoticeRecord]:
        """Every notice recorded for a Taobao order, in the order they were received."""
        records: list[NoticeRecord] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PK},
            "ExpressionAttributeValues": {":pk": {"S": eticket_schema.notice_partition(order_id)}},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**query)
            records += [_record(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(records, key=lambda record: record.notice.received_at)

    def get(self, order_id: str, record_id: str) -> NoticeRecord | None:
        """One recorded notice (``Notice.record_id``), None if it was never recorded."""
        item = self._client.get_item(
            TableName=self._table,
            Key=eticket_schema.notice_key(order_id, record_id),
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else _record(item)

    def record_outcome(
        self, notice: Notice, outcome: NoticeOutcome, delivery_id: str | None = None
    ) -> None:
        """What became of a recorded notice (and the delivery it made or concerns). Setting
        the same outcome again is harmless: fulfilment may see a notice more than once."""
        names = {"#outcome": "outcome", "#updated": "updated_at"}
        values: dict[str, Any] = {
            ":outcome": {"S": outcome.value},
            ":updated": {"S": now_iso()},
        }
        update = "SET #outcome = :outcome, #updated = :updated"
        if delivery_id is not None:
            names["#delivery"] = "delivery_id"
            values[":delivery"] = {"S": delivery_id}
            update += ", #delivery = :delivery"
        retry_unapplied(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=eticket_schema.notice_key(notice.order_id, notice.record_id),
                UpdateExpression=update,
                # Only a recorded notice: an outcome never makes a notice up.
                ConditionExpression=f"attribute_exists({PK})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        )


def _record(raw: dict[str, Any]) -> NoticeRecord:
    item = from_item(raw)
    return NoticeRecord(
        notice=eticket_schema.notice_from_item(raw),
        outcome=NoticeOutcome(item.get("outcome", NoticeOutcome.RECORDED.value)),
        delivery_id=item.get("delivery_id"),
        updated_at=item.get("updated_at"),
    )
