"""An order's life after ``GENERATED``: made, shipped, confirmed, and its platform notifications.

Each step is one conditional ``UpdateItem`` of the order's header, and the notification a step
owes the platform is written in the same update as ``PENDING`` (the outbox): the step and its
notification cannot disagree, and the header's stream record is what the notifier acts on.
A refused step answers with the header as it was (``ReturnValuesOnConditionCheckFailure``),
so a repeat of the same step is told from a conflict without another read.

The notifier works a stream batch at a time: ``lifecycles`` reads the headers of all the
batch's orders in one consistent ``BatchGetItem``, and ``start_notice_attempts`` /
``record_notices`` move many notifications at once, each still its own conditional
``UpdateItem`` (no two notifications of a batch need to stand or fall together), sent side
by side on a few threads (docs/design.md, "Platform notifications": why not a transaction).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from cardmaker.errors import OrderNotFound, OrderStateConflict
from cardmaker.orders.models import Waybill
from cardmaker.orders.order import (
    Lifecycle,
    Notice,
    NoticeAttempt,
    NoticeRecord,
    NoticeState,
    OrderKey,
    OrderStatus,
    PlatformNotice,
    StoredOrder,
)
from cardmaker.retry import with_backoff
from cardmaker.store import schema
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.conditions import condition_failed, failed_condition_item
from cardmaker.store.items import from_item, to_item
from cardmaker.store.orders import DynamoDBOrderRepository

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Sequence
    from datetime import datetime

    from mypy_boto3_dynamodb import DynamoDBClient


# What ``lifecycle`` reads of a header (``schema.lifecycle_from_item``'s attributes).
_LIFECYCLE_ATTRIBUTES = (
    "pk",
    "generated_at",
    "made_at",
    "made_by",
    "shipped_at",
    "confirmed_at",
    "logistics_company",
    "logistics_order_id",
    schema.NOTIFICATIONS,
)
# BatchGetItem's limit of keys per call.
_BATCH_GET_LIMIT = 100
# Conditional writes of one batch in flight at once: DynamoDB answers each in a few
# milliseconds, and a stream batch (``BatchSize`` 100) then takes a dozen round trips, not a
# hundred; boto3's clients are safe to share between threads.
WRITERS = 8

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Transition:
    """Where the order stands after a step; ``changed`` is False for a repeat of a step it
    had already taken (answered as the first time)."""

    key: OrderKey
    status: OrderStatus
    changed: bool


class DynamoDBLifecycleRepository:
    """The lifecycle steps on the orders table (see ``schema`` for the attributes)."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()
        self._orders = DynamoDBOrderRepository(table_name, self._client)
        self._sleep = sleep

    def get(self, key: OrderKey) -> StoredOrder | None:
        return self._orders.get(key)

    def lifecycle(self, key: OrderKey) -> Lifecycle | None:
        """The order's lifecycle alone (waybill, notifications...), read consistently from its
        header with no template or page: what the notifier needs for each record (None when
        there is no such order)."""
        item = self._client.get_item(
            TableName=self._table,
            Key=schema.header_key(key),
            ConsistentRead=True,
            ProjectionExpression=", ".join(f"#{name}" for name in _LIFECYCLE_ATTRIBUTES),
            ExpressionAttributeNames={f"#{name}": name for name in _LIFECYCLE_ATTRIBUTES},
        ).get("Item")
        return schema.lifecycle_from_item(from_item(item)) if item else None

    def lifecycles(self, keys: Iterable[OrderKey]) -> dict[OrderKey, Lifecycle]:
        """``lifecycle`` of many orders at once: one consistent ``BatchGetItem`` per 100
        orders, the keys DynamoDB leaves unprocessed asked again with backoff. Orders that do
        not exist are left out."""
        by_pk = {schema.order_pk(key): key for key in dict.fromkeys(keys)}
        wanted = list(by_pk)
        found: dict[OrderKey, Lifecycle] = {}
        for start in range(0, len(wanted), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [
                        schema.header_key(by_pk[pk])
                        for pk in wanted[start : start + _BATCH_GET_LIMIT]
                    ],
                    "ConsistentRead": True,
                    "ProjectionExpression": ", ".join(f"#{n}" for n in _LIFECYCLE_ATTRIBUTES),
                    "ExpressionAttributeNames": {f"#{n}": n for n in _LIFECYCLE_ATTRIBUTES},
                }
            }
            for _ in with_backoff(8, base=0.05, cap=1.0, sleep=self._sleep):
                answer = self._client.batch_get_item(RequestItems=request)
                for raw in answer.get("Responses", {}).get(self._table, []):
                    header = from_item(raw)
                    found[by_pk[header["pk"]]] = schema.lifecycle_from_item(header)
                request = dict(answer.get("UnprocessedKeys") or {})
                if not request:
                    break
            else:
                raise RuntimeError("DynamoDB kept order reads unprocessed")
        return found

    def start_notice_attempts(self, attempts: Sequence[NoticeAttempt], now: datetime) -> list[bool]:
        """``start_notice_attempt`` for each of ``attempts``, side by side; whether each one
        was counted, in the same order."""
        return _each(
            lambda attempt: self.start_notice_attempt(
                attempt.key, attempt.notice, attempt.seen_attempts, now
            ),
            attempts,
        )

    def record_notices(self, records: Sequence[NoticeRecord]) -> list[bool]:
        """``record_notice`` for each of ``records``, side by side; whether each one was
        written, in the same order."""
        return _each(
            lambda record: self.record_notice(
                record.key, record.notice, record.recorded, expected=record.expected
            ),
            records,
        )

    def mark_made(self, key: OrderKey, made_by: str, now: datetime) -> Transition:
        """``GENERATED -> MADE``, with ``make_finish`` PENDING; a ``MADE`` order again is a
        repeat. Raises ``OrderNotFound`` or ``OrderStateConflict``."""
        pending = schema.notice_map(Notice(NoticeState.PENDING, updated_at=now))
        old = self._step(
            key,
            "SET #status = :made, made_at = :now, made_by = :by, updated_at = :now,"
            f" {schema.NOTIFICATIONS} = :notices",
            "#status = :generated",
            {
                ":made": OrderStatus.MADE.value,
                ":generated": OrderStatus.GENERATED.value,
                ":by": made_by,
                ":now": _iso(now),
                ":notices": {PlatformNotice.MAKE_FINISH.value: pending},
            },
        )
        if old is None:
            return Transition(key, OrderStatus.MADE, changed=True)
        status = OrderStatus(old["status"])
        if status is OrderStatus.MADE:
            return Transition(key, status, changed=False)
        raise OrderStateConflict(
            f"order {key.making_card_no} is {status.value}: only a GENERATED order can be made",
            status.value,
        )

    def ship(self, key: OrderKey, waybill: Waybill, now: datetime) -> Transition:
        """``MADE -> SHIPPED`` with its waybill, with ``status_sended`` PENDING; the same
        waybill again on a ``SHIPPED`` order is a repeat, another is a conflict."""
        pending = schema.notice_map(Notice(NoticeState.PENDING, updated_at=now))
        old = self._step(
            key,
            "SET #status = :shipped, shipped_at = :now, updated_at = :now,"
            " logistics_company = :company, logistics_order_id = :waybill,"
            f" {schema.NOTIFICATIONS}.#notice = :pending",
            f"#status = :made AND attribute_exists({schema.NOTIFICATIONS})",
            {
                ":shipped": OrderStatus.SHIPPED.value,
                ":made": OrderStatus.MADE.value,
                ":company": waybill.logistics_company,
                ":waybill": waybill.logistics_order_id,
                ":now": _iso(now),
                ":pending": pending,
            },
            {"#notice": PlatformNotice.STATUS_SENDED.value},
        )
        if old is None:
            return Transition(key, OrderStatus.SHIPPED, changed=True)
        status = OrderStatus(old["status"])
        shipped = schema.lifecycle_from_item(old).waybill
        if status is OrderStatus.SHIPPED and shipped == waybill:
            return Transition(key, status, changed=False)
        if status in (OrderStatus.SHIPPED, OrderStatus.CONFIRMED):
            raise OrderStateConflict(
                f"order {key.making_card_no} was shipped with another waybill", status.value
            )
        raise OrderStateConflict(
            f"order {key.making_card_no} is {status.value}: only a MADE order can be shipped",
            status.value,
        )

    def confirm(self, key: OrderKey, now: datetime) -> Transition:
        """``MADE`` or ``SHIPPED -> CONFIRMED`` (the buyer confirmed receipt); a
        ``CONFIRMED`` order again is a repeat."""
        old = self._step(
            key,
            "SET #status = :confirmed, confirmed_at = :now, updated_at = :now",
            "#status IN (:made, :shipped)",
            {
                ":confirmed": OrderStatus.CONFIRMED.value,
                ":made": OrderStatus.MADE.value,
                ":shipped": OrderStatus.SHIPPED.value,
                ":now": _iso(now),
            },
        )
        if old is None:
            return Transition(key, OrderStatus.CONFIRMED, changed=True)
        status = OrderStatus(old["status"])
        if status is OrderStatus.CONFIRMED:
            return Transition(key, status, changed=False)
        raise OrderStateConflict(
            f"order {key.making_card_no} is {status.value}: its cards are not made yet",
            status.value,
        )

    def record_notice(
        self,
        key: OrderKey,
        notice: PlatformNotice,
        recorded: Notice,
        *,
        expected: Collection[NoticeState],
    ) -> bool:
        """Put ``recorded`` as the notification's state if it is now in one of ``expected``;
        False (nothing written) otherwise, or if the order owes no such notification."""
        states = {f":state{index}": state.value for index, state in enumerate(expected)}
        path = f"{schema.NOTIFICATIONS}.#notice"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=schema.header_key(key),
                UpdateExpression=f"SET {path} = :recorded, updated_at = :now",
                ConditionExpression=f"{path}.#state IN ({', '.join(states)})",
                ExpressionAttributeNames={"#notice": notice.value, "#state": "state"},
                ExpressionAttributeValues=to_item(
                    {
                        ":recorded": schema.notice_map(recorded),
                        ":now": _iso(recorded.updated_at)
                        if recorded.updated_at
                        else schema.now_iso(),
                        **states,
                    }
                ),
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return False
        return True

    def start_notice_attempt(
        self, key: OrderKey, notice: PlatformNotice, seen_attempts: int, now: datetime
    ) -> bool:
        """Count one more attempt at a PENDING notification whose count is still
        ``seen_attempts``: False (nothing written) when another attempt counted first or it
        is no longer PENDING. The notification stays PENDING, so a crash after this never
        makes a retry skip the call; two attempts at once cannot both go ahead."""
        path = f"{schema.NOTIFICATIONS}.#notice"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=schema.header_key(key),
                UpdateExpression=f"SET {path}.attempts = :next, {path}.updated_at = :now,"
                " updated_at = :now",
                ConditionExpression=f"{path}.#state = :pending AND {path}.attempts = :seen",
                ExpressionAttributeNames={"#notice": notice.value, "#state": "state"},
                ExpressionAttributeValues=to_item(
                    {
                        ":next": seen_attempts + 1,
                        ":seen": seen_attempts,
                        ":pending": NoticeState.PENDING.value,
                        ":now": _iso(now),
                    }
                ),
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return False
        return True

    def _step(
        self,
        key: OrderKey,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Apply a step to an existing header: None when applied, else the header as it was
        (plain). Raises ``OrderNotFound`` when there is no such order."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=schema.header_key(key),
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists(pk) AND {condition}",
                ExpressionAttributeNames={"#status": "status", **(names or {})},
                ExpressionAttributeValues=to_item(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            old = failed_condition_item(error)
            if not old:
                raise OrderNotFound(
                    f"order {key.card_order_id} ({key.own_sign}) does not exist"
                ) from None
            return from_item(old)
        return None


def _each(write: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``write`` for each item, up to ``WRITERS`` at once, answers in the items' order; the
    first error is raised once every write has ended (none is left running behind it). The
    threads are named after the caller's, so that logs and crash points can tell them."""
    if len(items) <= 1:
        return [write(item) for item in items]
    prefix = f"{threading.current_thread().name}-writes"
    with ThreadPoolExecutor(min(WRITERS, len(items)), thread_name_prefix=prefix) as pool:
        futures = [pool.submit(write, item) for item in items]
    return [future.result() for future in futures]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
