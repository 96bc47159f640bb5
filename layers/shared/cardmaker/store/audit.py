"""The audit trail in its own table, which the functions may only append to.

Every entry is one item in one partition, ``pk`` ``TRAIL``, sorted by ``sk``
``<at>#<entry_id>`` (ISO time first: the partition reads newest first with
``ScanIndexForward=False``; the random id after it keeps two entries of the same millisecond
apart). Entries about an order also carry ``making_card_no``, the hash key of the sparse
``ByOrder`` index (sorted by the same ``sk``), which lists one order's entries.

One partition takes about 1,000 writes a second: operators act a few times a minute (a
redrive of a full queue, a few hundred). Nothing grows but the partition itself, which a table
without local indexes holds without a size limit.

An entry is written with ``attribute_not_exists(pk)``, so it never overwrites another; IAM
cannot demand that condition (no condition key names a ``ConditionExpression``), so the grants
pin what they can (template.yaml ``AuditAppend``): PutItem only, into the ``TRAIL`` partition
(``dynamodb:LeadingKeys``), with these attributes only (``dynamodb:Attributes``:
``ENTRY_ATTRIBUTES``), returning no old item (``dynamodb:ReturnValues``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardmaker.audit.trail import AuditAction, AuditEntry, AuditPage
from cardmaker.deliveries.delivery import Requester
from cardmaker.orders.order import OrderKey
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.conditions import condition_failed
from cardmaker.store.items import from_item, to_item
from cardmaker.store.keys import PK, SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TRAIL = "TRAIL"
BY_ORDER_INDEX = "ByOrder"
# Every attribute an entry may have: template.yaml's AuditAppend grant allows these and no
# other (tests/integration/test_audit_api.py compares the two).
ENTRY_ATTRIBUTES = (
    PK,
    SK,
    "entry_id",
    "at",
    "action",
    "who",
    "subject",
    "making_card_no",
    "details",
    "source",
)


class AuditEntryTaken(RuntimeError):
    """An entry's key was already taken (two random 96-bit ids alike): nothing overwritten."""


class DynamoDBAuditLog:
    """Appends entries to the audit table and pages through them, newest first."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def append(self, entry: AuditEntry) -> None:
        item = entry_item(entry)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PK},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            # botocore retries a put whose answer was lost after DynamoDB applied it: the
            # retry meets its own entry, which is then on record as asked.
            if self._stored(item) != item:
                raise AuditEntryTaken(f"audit entry {entry.entry_id} exists") from None

    def _stored(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """The entry stored under ``item``'s key (a consistent one-item Query: the trail's
        grants read by Query only)."""
        found = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#pk = :pk AND #sk = :sk",
            ExpressionAttributeNames={"#pk": PK, "#sk": SK},
            ExpressionAttributeValues={":pk": item[PK], ":sk": item[SK]},
            ConsistentRead=True,
        )["Items"]
        return found[0] if found else None

    def page(self, making_card_no: str | None, limit: int, after: str | None) -> AuditPage:
        """Up to ``limit`` entries after position ``after`` (an entry's ``sk``), newest
        first; one more is asked for, so that the last page says it is the last."""
        query: dict[str, Any] = {"TableName": self._table, "ScanIndexForward": False}
        if making_card_no is None:
            # The trail's own partition: read as written (an entry just made is listed).
            query["KeyConditionExpression"] = "#pk = :trail"
            query["ExpressionAttributeNames"] = {"#pk": PK}
            query["ExpressionAttributeValues"] = {":trail": {"S": TRAIL}}
            query["ConsistentRead"] = True
        else:
            query["IndexName"] = BY_ORDER_INDEX
            query["KeyConditionExpression"] = "making_card_no = :order"
            query["ExpressionAttributeValues"] = {":order": {"S": making_card_no}}
        if after is not None:
            start = {PK: {"S": TRAIL}, SK: {"S": after}}
            if making_card_no is not None:
                start["making_card_no"] = {"S": making_card_no}
            query["ExclusiveStartKey"] = start
        found: list[dict[str, Any]] = []
        while len(found) <= limit:
            query["Limit"] = limit + 1 - len(found)
            answer = self._client.query(**query)
            found += [from_item(raw) for raw in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                break
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        entries = [entry_from_item(item) for item in found[:limit]]
        more = len(found) > limit
        return AuditPage(entries, str(found[limit - 1][SK]) if more else None)


def entry_item(entry: AuditEntry) -> dict[str, Any]:
    who = entry.who
    return to_item(
        {
            PK: TRAIL,
            SK: f"{entry.at}#{entry.entry_id}",
            "entry_id": entry.entry_id,
            "at": entry.at,
            "action": entry.action.value,
            "who": {
                name: value
                for name, value in (
                    ("user_arn", who.user_arn),
                    ("caller_id", who.caller_id),
                    ("account_id", who.account_id),
                    ("principal_org_id", who.principal_org_id),
                )
                if value
            },
            "subject": entry.subject,
            "making_card_no": entry.order.making_card_no if entry.order else None,
            "details": dict(entry.details) or None,
            "source": entry.source,
        }
    )


def entry_from_item(item: dict[str, Any]) -> AuditEntry:
    who = item["who"]
    making_card_no = item.get("making_card_no")
    return AuditEntry(
        entry_id=str(item["entry_id"]),
        at=str(item["at"]),
        action=AuditAction(item["action"]),
        who=Requester(
            user_arn=str(who["user_arn"]),
            caller_id=str(who.get("caller_id", "")),
            account_id=str(who.get("account_id", "")),
            principal_org_id=str(who.get("principal_org_id", "")),
        ),
        subject=str(item["subject"]),
        order=_order_key(str(making_card_no)) if making_card_no else None,
        details=dict(item.get("details") or {}),
        source="cli" if item.get("source") == "cli" else "api",
    )


def _order_key(making_card_no: str) -> OrderKey:
    """``CM-<own_sign>-<card_order_id>`` back to the order's key (as ``entry_item`` wrote
    it)."""
    _, own_sign, card_order_id = making_card_no.split("-", 2)
    return OrderKey(own_sign, int(card_order_id))  # type: ignore[arg-type]
