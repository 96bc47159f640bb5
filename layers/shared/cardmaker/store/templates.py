"""The template registry on the orders table: each environment's announced card templates.

A template is an item collection of its own, ``TEMPLATE#<own_sign>#<template_no>``:

* ``CURRENT``: the latest version (its announcement, version number and content hash);
* ``VERSION#<n>`` (zero-padded): every version ever announced, immutable, the history.

A new version is one transaction: its ``VERSION#<n>`` item (new) and ``CURRENT`` (moved from
version n-1), so two announcements racing cannot both become version n, and the history never
misses a version the current item went through. The orders stream carries these items too; no
stream function's filter takes them (entity ``TEMPLATE``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cardmaker.orders.templates import Announced, CardTemplate, CardTemplateAnnouncement
from cardmaker.retry import with_backoff
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.conditions import cancellation_reasons
from cardmaker.store.items import from_item, to_item
from cardmaker.store.keys import PK, SK, item_key

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_dynamodb import DynamoDBClient

TEMPLATE_ENTITY = "TEMPLATE"
CURRENT_SK = "CURRENT"
VERSION_SK_PREFIX = "VERSION#"
_BATCH_GET_LIMIT = 100  # DynamoDB's limit per BatchGetItem call
_ANNOUNCE_ATTEMPTS = 8


class TemplateRaceLost(RuntimeError):
    """Announcements of one template kept racing: nothing was written (the caller retries)."""


def template_pk(own_sign: str, template_no: str) -> str:
    return f"TEMPLATE#{own_sign}#{template_no}"


def version_sk(version: int) -> str:
    return f"{VERSION_SK_PREFIX}{version:06d}"


class DynamoDBTemplateRegistry:
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()
        self._sleep = sleep

    def announce(self, announcement: CardTemplateAnnouncement, now: datetime) -> Announced:
        """Register ``announcement``: a replay if it is the current content, else its next
        version (the first, for a template never announced)."""
        for _ in with_backoff(_ANNOUNCE_ATTEMPTS, base=0.02, cap=0.5, sleep=self._sleep):
            current = self.get(announcement.own_sign, announcement.template_no)
            if current is not None and _same(current.announcement, announcement):
                return Announced(current, replayed=True)
            version = 1 if current is None else current.version + 1
            template = CardTemplate(announcement, version, now)
            if self._write_version(template):
                return Announced(template, replayed=False)
        raise TemplateRaceLost(
            f"template {announcement.template_no} ({announcement.own_sign}) is being announced"
            " by other calls"
        )

    def get(self, own_sign: str, template_no: str) -> CardTemplate | None:
        raw = self._client.get_item(
            TableName=self._table,
            Key=item_key(template_pk(own_sign, template_no), CURRENT_SK),
            ConsistentRead=True,
        ).get("Item")
        return _template(from_item(raw)) if raw else None

    def get_many(self, own_sign: str, template_nos: Iterable[str]) -> dict[str, CardTemplate]:
        """The registered ones of ``template_nos``, by number (missing ones left out)."""
        wanted = list(dict.fromkeys(template_nos))
        found: dict[str, CardTemplate] = {}
        for start in range(0, len(wanted), _BATCH_GET_LIMIT):
            keys = [
                item_key(template_pk(own_sign, number), CURRENT_SK)
                for number in wanted[start : start + _BATCH_GET_LIMIT]
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for _ in with_backoff(8, base=0.05, cap=1.0, sleep=self._sleep):
                answer = self._client.batch_get_item(RequestItems=request)
                for raw in answer.get("Responses", {}).get(self._table, []):
                    template = _template(from_item(raw))
                    found[template.template_no] = template
                request = dict(answer.get("UnprocessedKeys") or {})
                if not request:
                    break
            else:
                raise RuntimeError("DynamoDB kept template reads unprocessed")
        return found

    def history(self, own_sign: str, template_no: str) -> list[CardTemplate]:
        """Every version of the template, oldest first (empty if never announced)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{PK} = :pk AND begins_with({SK}, :versions)",
            "ExpressionAttributeValues": to_item(
                {":pk": template_pk(own_sign, template_no), ":versions": VERSION_SK_PREFIX}
            ),
            "ConsistentRead": True,
        }
        versions: list[CardTemplate] = []
        while True:
            page = self._client.query(**query)
            versions.extend(_template(from_item(raw)) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return versions
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _write_version(self, template: CardTemplate) -> bool:
        """Write ``template`` as the next version; False if another announcement moved the
        template first (nothing written)."""
        announcement = template.announcement
        pk = template_pk(announcement.own_sign, announcement.template_no)
        attributes = _attributes(template)
        current: dict[str, Any] = {
            "TableName": self._table,
            "Item": {**item_key(pk, CURRENT_SK), **attributes},
            "ConditionExpression": f"attribute_not_exists({PK})",
        }
        if template.version > 1:
            current["ConditionExpression"] = "version = :previous"
            current["ExpressionAttributeValues"] = {":previous": {"N": str(template.version - 1)}}
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {**item_key(pk, version_sk(template.version)), **attributes},
                            "ConditionExpression": f"attribute_not_exists({PK})",
                        }
                    },
                    {"Put": current},  # type: ignore[typeddict-item]
                ]
            )
        except ClientError as error:
            if cancellation_reasons(error) is None:
                raise
            return False
        return True


def _same(stored: CardTemplateAnnouncement, announced: CardTemplateAnnouncement) -> bool:
    return stored.content_hash == announced.content_hash


def _attributes(template: CardTemplate) -> dict[str, Any]:
    return to_item(
        {
            "entity": TEMPLATE_ENTITY,
            "own_sign": template.own_sign,
            "template_no": template.template_no,
            "version": template.version,
            "announced_at": template.announced_at.isoformat(timespec="milliseconds"),
            "content_hash": template.announcement.content_hash,
            "announcement": template.announcement.model_dump(mode="json", exclude_none=True),
        }
    )


def _template(item: dict[str, Any]) -> CardTemplate:
    return CardTemplate(
        announcement=CardTemplateAnnouncement.model_validate(item["announcement"]),
        version=int(item["version"]),
        announced_at=datetime.fromisoformat(item["announced_at"]),
    )
