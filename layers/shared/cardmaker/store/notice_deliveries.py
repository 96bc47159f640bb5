"""What a delivery made by a send-code notice needs of the deliveries table beyond an
operator's delivery: created once per Taobao order, its product resolved when it is mapped,
the order its cards come from recorded before they are claimed, waiting for stock under the
sparse ``WaitingStock`` index, given up at its deadline with a ma.failsend in the same write
(an outbox), and that failsend's progress. Each step is one conditional write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardmaker.deliveries.delivery import Delivery, DeliveryStatus, FailsendState
from cardmaker.errors import DeliveryExists
from cardmaker.store import delivery_schema
from cardmaker.store.conditions import condition_failed
from cardmaker.store.deliveries import DynamoDBDeliveryRepository
from cardmaker.store.keys import PK
from cardmaker.store.schema import now_iso

if TYPE_CHECKING:
    from cardmaker.eticket.products import ProductMapping
    from cardmaker.orders.order import OrderKey


class DynamoDBNoticeDeliveryRepository(DynamoDBDeliveryRepository):
    def create_once(self, delivery: Delivery, fingerprint: str) -> Delivery:
        """Create the delivery unless its Taobao order has one already (a repeated send, or
        a cancel that came first): then the existing one, unchanged."""
        try:
            self.create(delivery, fingerprint)
        except DeliveryExists as exists:
            return exists.existing
        return delivery

    def resolve_product(self, delivery_id: str, mapping: ProductMapping) -> Delivery | None:
        """Fix the stock an unmapped delivery is served from (once: a later mapping of the
        same code changes nothing for it). The delivery as it is now; None if it is gone."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=delivery_schema.delivery_key(delivery_id),
                UpdateExpression="SET #request.own_sign = :own_sign,"
                " #request.template_no = :template_no,"
                " #request.certificate_type = :certificate_type, updated_at = :now",
                ConditionExpression=f"attribute_exists({PK})"
                " AND attribute_not_exists(#request.own_sign)",
                ExpressionAttributeNames={"#request": "request"},
                ExpressionAttributeValues={
                    ":own_sign": {"S": mapping.own_sign},
                    ":template_no": {"S": mapping.template_no},
                    ":certificate_type": {"N": str(mapping.certificate_type)},
                    ":now": {"S": now_iso()},
                },
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
        return self.get(delivery_id)

    def choose_order(self, delivery_id: str, order: OrderKey, previous: int | None) -> bool:
        """Record the order the delivery's cards are about to be claimed from, if the
        delivery still names ``previous`` (None: none): a retry after a crash finds it and
        claims there again, getting its own range back, never a second one elsewhere."""
        condition = (
            "attribute_not_exists(card_order_id)"
            if previous is None
            else "card_order_id = :previous"
        )
        values: dict[str, Any] = {
            ":order": {"N": str(order.card_order_id)},
            ":order_key": {"S": delivery_schema.order_key(order)},
            ":pending": {"S": DeliveryStatus.PENDING.value},
            ":sending": {"S": DeliveryStatus.SENDING.value},
        }
        if previous is not None:
            values[":previous"] = {"N": str(previous)}
        return (
            self._update(
                delivery_id,
                # order_key: the delivery joins its order's ByOrder entries.
                "SET card_order_id = :order, order_key = :order_key, updated_at = :now",
                f"#status IN (:pending, :sending) AND {condition}",
                values,
            )
            is not None
        )

    def wait_for(self, delivery_id: str, stock_key: str) -> bool:
        """PENDING -> WAITING_STOCK under ``stock_key`` in the WaitingStock index."""
        return (
            self._update(
                delivery_id,
                "SET #status = :waiting, stock_key = :stock, updated_at = :now",
                "#status = :pending",
                {
                    ":waiting": {"S": DeliveryStatus.WAITING_STOCK.value},
                    ":pending": {"S": DeliveryStatus.PENDING.value},
                    ":stock": {"S": stock_key},
                },
            )
            is not None
        )

    def waiting_on(self, stock_key: str) -> list[str]:
        """Ids of the deliveries waiting for ``stock_key``, soonest deadline first."""
        return self._waiting(
            {
                "KeyConditionExpression": "stock_key = :stock",
                "ExpressionAttributeValues": {":stock": {"S": stock_key}},
            },
            "query",
        )

    def past_deadline(self, now: str) -> list[str]:
        """Ids of the deliveries still waiting for stock at ``now`` (ISO) past their deadline.
        A Scan of the sparse index: it holds only the deliveries waiting right now."""
        return self._waiting(
            {
                "FilterExpression": "stock_deadline <= :now",
                "ExpressionAttributeValues": {":now": {"S": now}},
            },
            "scan",
        )

    def give_up(self, delivery_id: str, reason: str, sub_err_code: str, now: str) -> bool:
        """WAITING_STOCK past its deadline -> FAILED with ``reason``, and its ma.failsend
        PENDING in the same write (the delivery function sends it): out of the index."""
        return (
            self._update(
                delivery_id,
                "SET #status = :failed, failure_reason = :reason, failsend = :failsend,"
                " updated_at = :now REMOVE stock_key",
                "#status = :waiting AND stock_deadline <= :deadline",
                {
                    ":failed": {"S": DeliveryStatus.FAILED.value},
                    ":reason": {"S": reason},
                    ":failsend": {
                        "M": {
                            "state": {"S": FailsendState.PENDING.value},
                            "sub_err_code": {"S": sub_err_code},
                            "attempts": {"N": "0"},
                            "updated_at": {"S": now},
                        }
                    },
                    ":waiting": {"S": DeliveryStatus.WAITING_STOCK.value},
                    ":deadline": {"S": now},
                },
            )
            is not None
        )

    def count_failsend_attempt(self, delivery_id: str) -> int | None:
        """One more attempt of a PENDING failsend; its number, or None if it is not PENDING."""
        answer = self._update(
            delivery_id,
            "SET failsend.attempts = failsend.attempts + :one, failsend.updated_at = :now",
            "#status = :failed AND failsend.#state = :pending",
            {
                ":one": {"N": "1"},
                ":pending": {"S": FailsendState.PENDING.value},
                ":failed": {"S": DeliveryStatus.FAILED.value},
            },
            return_values="UPDATED_NEW",
            names={"#state": "state"},
        )
        if answer is None:
            return None
        return int(answer["Attributes"]["failsend"]["M"]["attempts"]["N"])

    def record_failsend(
        self, delivery_id: str, state: FailsendState, code: str | None = None
    ) -> bool:
        """A PENDING failsend -> SENT, or FAILED with the platform's code."""
        values: dict[str, Any] = {
            ":state": {"S": state.value},
            ":pending": {"S": FailsendState.PENDING.value},
            ":failed": {"S": DeliveryStatus.FAILED.value},
        }
        expression = "SET failsend.#state = :state, failsend.updated_at = :now"
        if code is not None:
            expression += ", failsend.code = :code"
            values[":code"] = {"S": code}
        return (
            self._update(
                delivery_id,
                expression,
                "#status = :failed AND failsend.#state = :pending",
                values,
                names={"#state": "state"},
            )
            is not None
        )

    def _waiting(self, request: dict[str, Any], kind: str) -> list[str]:
        call: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": delivery_schema.WAITING_STOCK,
            **request,
        }
        ids: list[str] = []
        while True:
            page = self._client.query(**call) if kind == "query" else self._client.scan(**call)
            ids += [delivery_schema.delivery_id_of(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return ids
            call["ExclusiveStartKey"] = page["LastEvaluatedKey"]
