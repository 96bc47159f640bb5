"""What ``GET /audit`` and ``POST /audit`` take and answer. The answers are built by these
models (``AuditEntryView.of``, ``AuditList.of``), which the OpenAPI document is generated
from too."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from cardmaker.api_models import left_out
from cardmaker.audit.trail import (
    MAX_DETAIL_LENGTH,
    MAX_DETAILS,
    MAX_SUBJECT_LENGTH,
    AuditAction,
    AuditEntry,
    ListedEntries,
)
from cardmaker.deliveries.api_models import RequesterView
from cardmaker.orders.models import MAX_ORDER_ID

# CM-<own_sign>-<card_order_id>, as every answer about an order names it.
MAKING_CARD_NO_PATTERN = r"^CM-(daily|pre|online)-[1-9][0-9]{0,18}$"
MakingCardNo = Annotated[str, StringConstraints(pattern=MAKING_CARD_NO_PATTERN, max_length=40)]
EXAMPLE_MAKING_CARD_NO = "CM-daily-16002"

DetailName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# Strict: a JSON true is no number, a number no text.
DetailText = Annotated[StrictStr, StringConstraints(max_length=MAX_DETAIL_LENGTH)]
DetailNumber = Annotated[StrictInt, Field(ge=0, le=MAX_ORDER_ID)]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUBJECT_LENGTH)]
ReportedAction = Literal["cards.exported", "dlq.redriven", "dlq.reopened"]


class AuditEntryView(BaseModel):
    """One operator action on record. Never a card secret, TOP secret or token."""

    model_config = ConfigDict(extra="forbid")

    entry_id: str = Field(description="AU- and a random id")
    at: str = Field(description="When (ISO 8601, UTC, milliseconds)")
    action: AuditAction = Field(description="What was done")
    who: RequesterView = Field(
        description="The IAM principal who signed the request (locally: the local user)"
    )
    source: Literal["api", "cli"] = Field(
        description="`api`: the operator API did it and recorded it; `cli`: the cardmaker "
        "command did it straight against AWS and reported it (POST /audit)"
    )
    subject: str = Field(
        description="What it was done to: a delivery id, an order, a merchant code, a "
        "failed batch's message id..."
    )
    making_card_no: str | SkipJsonSchema[None] = left_out("The order it concerns, if any")
    details: dict[str, str | int] = Field(description="A few named values; never a secret")

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryView:
        return cls(
            entry_id=entry.entry_id,
            at=entry.at,
            action=entry.action,
            who=RequesterView.of(entry.who),
            source=entry.source,
            subject=entry.subject,
            making_card_no=entry.order.making_card_no if entry.order else None,
            details=dict(entry.details),
        )


class AuditList(BaseModel):
    """A page of the audit trail, newest first."""

    model_config = ConfigDict(extra="forbid")

    entries: list[AuditEntryView]
    next: str | SkipJsonSchema[None] = left_out(
        "Pass it back as `next` (with the same order) for the following page; left out on "
        "the last page"
    )

    @classmethod
    def of(cls, listed: ListedEntries) -> AuditList:
        return cls(entries=[AuditEntryView.of(e) for e in listed.entries], next=listed.next_token)


class AuditReport(BaseModel):
    """``POST /audit``: an action the cardmaker command did straight against AWS (a print
    run's export, a redrive, a reopen), reported to be put on record. Who did it is the IAM
    principal who signs this request, never a field of it."""

    model_config = ConfigDict(extra="forbid")

    action: ReportedAction = Field(description="What the command did")
    subject: Subject = Field(description="What it did it to")
    making_card_no: MakingCardNo | None = Field(
        default=None, description="The order it concerns, if any"
    )
    details: dict[DetailName, DetailText | DetailNumber] = Field(
        default_factory=dict,
        max_length=MAX_DETAILS,
        description="A few named values (snake_case names). Names with secret, token, "
        "password, session, signature, credential, key or pin in them are refused",
    )


EXAMPLE_REPORT = {
    "action": "cards.exported",
    "subject": "CM-daily-16002/3010030E05",
    "making_card_no": EXAMPLE_MAKING_CARD_NO,
    "details": {"template_no": "3010030E05", "cards": 200, "format": "csv"},
}
