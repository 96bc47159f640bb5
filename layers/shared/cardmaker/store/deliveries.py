"""The deliveries repository: the only code that reads or writes delivery items.

Every status change is one conditional update, so a delivery moves forward exactly once
whatever the retries: PENDING -> WAITING_STOCK -> PENDING -> SENDING -> DELIVERED | PARTIAL |
FAILED. An operator's replay may reopen a delivery that gave up: FAILED -> SENDING; an
operator may cancel one waiting for stock: WAITING_STOCK -> CANCELLED.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardmaker.deliveries.delivery import Delivery, DeliveryStatus, Requester
from cardmaker.deliveries.listing import DeliveryPage
from cardmaker.errors import DeliveryExists
from cardmaker.store import delivery_schema
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.conditions import condition_failed, failed_condition_item, retry_unapplied
from cardmaker.store.items import to_item
from cardmaker.store.keys import PK
from cardmaker.store.schema import now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.literals import ReturnValueType
    from mypy_boto3_dynamodb.type_defs import UpdateItemInputTypeDef

    from cardmaker.deliveries.listing import DeliveryPosition
    from cardmaker.orders.order import OrderKey


class DynamoDBDeliveryRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def create(self, delivery: Delivery, fingerprint: str) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=delivery_schema.delivery_item(delivery, fingerprint),
                ConditionExpression=f"attribute_not_exists({PK})",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            existing = failed_condition_item(error) or self._raw(delivery.delivery_id)
            if existing is None:
                raise RuntimeError("the delivery vanished while being compared") from error
            raise DeliveryExists(*delivery_schema.delivery_from_item(existing)) from error

    def get(self, delivery_id: str) -> Delivery | None:
        raw = self._raw(delivery_id)
        return None if raw is None else delivery_schema.delivery_from_item(raw)[0]

    def waiting_for_stock(self, order: OrderKey) -> list[str]:
        """Ids of the order's deliveries waiting for stock (from the ByOrder index)."""
        ids: list[str] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": delivery_schema.BY_ORDER,
            "KeyConditionExpression": "order_key = :order",
            "FilterExpression": "#status = :waiting",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":order": {"S": delivery_schema.order_key(order)},
                ":waiting": {"S": DeliveryStatus.WAITING_STOCK.value},
            },
        }
        while True:
            page = self._client.query(**query)
            ids += [delivery_schema.delivery_id_of(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return ids
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def wait_for_stock(self, delivery_id: str) -> bool:
        return self._move(delivery_id, DeliveryStatus.WAITING_STOCK, [DeliveryStatus.PENDING])

    def wake(self, delivery_id: str) -> bool:
        """WAITING_STOCK -> PENDING: the stream brings the delivery back to the function (a
        notice delivery leaves the WaitingStock index until it waits again)."""
        return (
            self._update(
                delivery_id,
                "SET #status = :to, updated_at = :now REMOVE stock_key",
                "#status = :waiting",
                {
                    ":to": {"S": DeliveryStatus.PENDING.value},
                    ":waiting": {"S": DeliveryStatus.WAITING_STOCK.value},
                },
            )
            is not None
        )

    def start_sending(self, delivery_id: str, first_position: int) -> Delivery | None:
        """PENDING or SENDING -> SENDING with its cards' range (fixed at the first attempt)
        and one more attempt counted."""
        answer = self._update(
            delivery_id,
            "SET #status = :sending, first_position = if_not_exists(first_position, :first),"
            " updated_at = :now ADD attempts :one",
            "#status IN (:pending, :sending)",
            {
                ":sending": {"S": DeliveryStatus.SENDING.value},
                ":pending": {"S": DeliveryStatus.PENDING.value},
                ":first": {"N": str(first_position)},
                ":one": {"N": "1"},
            },
            return_values="ALL_NEW",
        )
        return (
            None if answer is None else delivery_schema.delivery_from_item(answer["Attributes"])[0]
        )

    def finish(self, delivery: Delivery) -> bool:
        return (
            self._update(
                delivery.delivery_id,
                "SET #status = :final, cards = :cards, updated_at = :now",
                "#status = :sending",
                {
                    ":final": {"S": delivery.status.value},
                    ":cards": delivery_schema.cards_value(delivery.cards),
                    ":sending": {"S": DeliveryStatus.SENDING.value},
                },
            )
            is not None
        )

    def fail(self, delivery_id: str, reason: str) -> bool:
        return (
            self._update(
                delivery_id,
                "SET #status = :failed, failure_reason = :reason, updated_at = :now",
                "#status IN (:pending, :sending)",
                {
                    ":failed": {"S": DeliveryStatus.FAILED.value},
                    ":reason": {"S": reason},
                    ":pending": {"S": DeliveryStatus.PENDING.value},
                    ":sending": {"S": DeliveryStatus.SENDING.value},
                },
            )
            is not None
        )

    def reopen(self, delivery_id: str) -> bool:
        """A delivery that gave up (``FAILED`` with a ``failure_reason``, its cards claimed)
        -> ``SENDING``, so that a replay of its stream record sends it again: the same cards
        with the same outer_id / out_biz_id. Not ``PENDING``: that matches the deliveries
        stream's filter, and the stream would send it a second time alongside the replay.
        A delivery the platform refused (``FAILED`` per card, no reason) is not reopened."""
        return (
            self._update(
                delivery_id,
                "SET #status = :sending, updated_at = :now REMOVE failure_reason",
                "#status = :failed AND attribute_exists(failure_reason)"
                " AND attribute_exists(first_position)",
                {
                    ":sending": {"S": DeliveryStatus.SENDING.value},
                    ":failed": {"S": DeliveryStatus.FAILED.value},
                },
            )
            is not None
        )

    def cancel_waiting(self, delivery_id: str, cancelled_by: Requester) -> bool:
        """An operator's delivery waiting for stock -> ``CANCELLED``, recording who. The
        condition is the whole guard against the stock arriving meanwhile: a delivery woken
        (PENDING), sending or final, one that holds cards (``first_position``) or a notice's
        is left as it is (False). Once CANCELLED, no step of the sender applies to it: waking
        and starting to send are conditional on WAITING_STOCK and PENDING."""
        return (
            self._update(
                delivery_id,
                "SET #status = :cancelled, cancelled_by = :by, updated_at = :now",
                "#status = :waiting AND attribute_not_exists(first_position)"
                " AND #request.#type <> :notice",
                {
                    ":cancelled": {"S": DeliveryStatus.CANCELLED.value},
                    ":waiting": {"S": DeliveryStatus.WAITING_STOCK.value},
                    ":notice": {"S": "notice"},
                    ":by": to_item({"by": delivery_schema.requester_value(cancelled_by)})["by"],
                },
                names={"#request": "request", "#type": "type"},
            )
            is not None
        )

    def page_for_order(
        self, order: OrderKey, limit: int, after: DeliveryPosition | None
    ) -> DeliveryPage:
        """Up to ``limit`` of the order's deliveries after ``after``, newest first (the
        ``ByOrderNewest`` index: one Query, of one more than ``limit`` so that the last page
        says it is the last)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": delivery_schema.BY_ORDER_NEWEST,
            "KeyConditionExpression": "order_key = :order",
            "ExpressionAttributeValues": {":order": {"S": delivery_schema.order_key(order)}},
            "ScanIndexForward": False,  # newest first
            "Limit": limit + 1,
        }
        if after is not None:
            query["ExclusiveStartKey"] = delivery_schema.listing_start_key(order, after)
        found: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**query)
            found.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if len(found) > limit:
                listed = [delivery_schema.summary_from_item(raw) for raw in found[:limit]]
                return DeliveryPage(listed, listed[-1].position)
            if last is None:
                return DeliveryPage([delivery_schema.summary_from_item(raw) for raw in found], None)
            query["ExclusiveStartKey"] = last
            query["Limit"] = limit + 1 - len(found)

    def _move(self, delivery_id: str, to: DeliveryStatus, from_: list[DeliveryStatus]) -> bool:
        names = {f":from{index}": {"S": status.value} for index, status in enumerate(from_)}
        return (
            self._update(
                delivery_id,
                "SET #status = :to, updated_at = :now",
                f"#status IN ({', '.join(names)})",
                {":to": {"S": to.value}, **names},
            )
            is not None
        )

    def _update(
        self,
        delivery_id: str,
        expression: str,
        condition: str,
        values: dict[str, Any],
        *,
        return_values: ReturnValueType = "NONE",
        names: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        request: UpdateItemInputTypeDef = {
            "TableName": self._table,
            "Key": delivery_schema.delivery_key(delivery_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status", **(names or {})},
            "ExpressionAttributeValues": {**values, ":now": {"S": now_iso()}},
            "ReturnValues": return_values,
        }
        try:
            # Every transition is conditional, so one DynamoDB did not apply is safe to try
            # again here; failing instead would make the stream re-send a delivery TOP has
            # already taken (finish after a send).
            return dict(retry_unapplied(lambda: self._client.update_item(**request)))
        except ClientError as error:
            if not condition_failed(error):
                raise
            return None

    def _raw(self, delivery_id: str) -> dict[str, Any] | None:
        return self._client.get_item(
            TableName=self._table,
            Key=delivery_schema.delivery_key(delivery_id),
            ConsistentRead=True,
        ).get("Item")
