"""What the platform's later notices write on notice deliveries (the deliveries table): a
refund's cancel or voided cards, a resend, a change of validity. Every write is one
conditional update, so a replayed notice, or an older one arriving late, changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardmaker.deliveries.delivery import DeliveryStatus
from cardmaker.store import aftercare_schema, delivery_schema
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.conditions import condition_failed, retry_unapplied
from cardmaker.store.keys import PK
from cardmaker.store.schema import now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import UpdateItemInputTypeDef

    from cardmaker.deliveries.aftercare import (
        ChangeRecord,
        RefundRecord,
        ResendRecord,
        Validity,
    )
    from cardmaker.deliveries.delivery import CardResult, Delivery

# The sparse WaitingStock index's keys: a cancelled delivery waits for nothing.
_STOCK_KEYS = "stock_key, stock_deadline"


class DynamoDBAftercareRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def get(self, delivery_id: str) -> Delivery | None:
        raw = self._client.get_item(
            TableName=self._table,
            Key=delivery_schema.delivery_key(delivery_id),
            ConsistentRead=True,
        ).get("Item")
        return None if raw is None else delivery_schema.delivery_from_item(raw)[0]

    def create_cancelled(self, delivery: Delivery, fingerprint: str) -> bool:
        """Put a notice delivery that a refund stopped before its send notice was acted on
        (``delivery.status`` CANCELLED): False if the delivery exists already."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=delivery_schema.delivery_item(delivery, fingerprint),
                ConditionExpression=f"attribute_not_exists({PK})",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return False
        return True

    def cancel_unsent(self, delivery_id: str) -> bool:
        """PENDING or WAITING_STOCK -> CANCELLED (nothing was sent; a sender that comes later
        finds it final and sends nothing). False if it was in another state."""
        return self._update(
            delivery_id,
            f"SET #status = :cancelled, updated_at = :now REMOVE {_STOCK_KEYS}",
            "#status IN (:pending, :waiting)",
            {
                ":cancelled": {"S": DeliveryStatus.CANCELLED.value},
                ":pending": {"S": DeliveryStatus.PENDING.value},
                ":waiting": {"S": DeliveryStatus.WAITING_STOCK.value},
            },
            {"#status": "status"},
        )

    def record_refund(
        self,
        delivery: Delivery,
        cards: tuple[CardResult, ...],
        refund: RefundRecord,
    ) -> bool:
        """The cards with their VOIDED outcomes and the refund's record, if the delivery is
        still as it was read (same status, no other refund recorded since)."""
        revision = delivery.aftercare.revision
        return self._update(
            delivery.delivery_id,
            "SET cards = :cards, refund = :refund, updated_at = :now"
            f" ADD {aftercare_schema.REVISION} :one",
            f"#status = :status AND (attribute_not_exists({aftercare_schema.REVISION})"
            f" OR {aftercare_schema.REVISION} = :revision)",
            {
                ":cards": delivery_schema.cards_value(cards),
                ":refund": aftercare_schema.record_value(refund),
                ":status": {"S": delivery.status.value},
                ":revision": {"N": str(revision)},
                ":one": {"N": "1"},
            },
            {"#status": "status"},
        )

    def record_resend(self, delivery_id: str, record: ResendRecord, previous: str | None) -> bool:
        """The delivery's resend record, if the last one recorded is still ``previous`` (the
        notice digest read before; None: no resend yet)."""
        if previous is None:
            condition = f"attribute_exists({PK}) AND attribute_not_exists(resend)"
            values: dict[str, Any] = {}
        else:
            condition = "resend.notice = :previous"
            values = {":previous": {"S": previous}}
        return self._update(
            delivery_id,
            "SET resend = :resend, updated_at = :now",
            condition,
            {":resend": aftercare_schema.record_value(record), **values},
        )

    def record_change(self, delivery_id: str, change: ChangeRecord) -> bool:
        """The last change notice, unless a later one (by its timestamp) is recorded."""
        return self._later(
            delivery_id, "last_change", aftercare_schema.record_value(change), change.notice_time
        )

    def record_validity(self, delivery_id: str, validity: Validity) -> bool:
        """The new validity dates, unless later ones (by notice timestamp) are recorded."""
        return self._later(
            delivery_id, "validity", aftercare_schema.record_value(validity), validity.notice_time
        )

    def _later(self, delivery_id: str, name: str, value: dict[str, Any], notice_time: str) -> bool:
        # Equal times: the notice written again (a replay) changes nothing that matters.
        return self._update(
            delivery_id,
            f"SET {name} = :value, updated_at = :now",
            f"attribute_exists({PK}) AND (attribute_not_exists({name})"
            f" OR {name}.notice_time <= :time)",
            {":value": value, ":time": {"S": notice_time}},
        )

    def _update(
        self,
        delivery_id: str,
        expression: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        request: UpdateItemInputTypeDef = {
            "TableName": self._table,
            "Key": delivery_schema.delivery_key(delivery_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {**values, ":now": {"S": now_iso()}},
        }
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            # Conditional, so one DynamoDB did not apply is safe to try again here.
            retry_unapplied(lambda: self._client.update_item(**request))
        except ClientError as error:
            if not condition_failed(error):
                raise
            return False
        return True
