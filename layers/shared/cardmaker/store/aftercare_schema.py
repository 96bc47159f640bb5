"""The attributes the later notices leave on a delivery item: ``resend``, ``validity``,
``last_change``, ``refund`` (maps, one of each: replaced, never appended to) and
``aftercare_revision`` (the count a refund's card update is conditional on)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cardmaker.deliveries.aftercare import (
    Aftercare,
    ChangeRecord,
    RefundRecord,
    ResendOutcome,
    ResendRecord,
    Validity,
)
from cardmaker.store.items import to_item

REVISION = "aftercare_revision"


def record_value(record: ResendRecord | Validity | ChangeRecord | RefundRecord) -> dict[str, Any]:
    """A record as a low-level map value (members that are None left out)."""
    plain = {name: value for name, value in asdict(record).items() if value is not None}
    value: dict[str, Any] = to_item({"record": plain})["record"]
    return value


def aftercare_of(item: dict[str, Any]) -> Aftercare:
    """The records of a delivery item already turned into plain values (``from_item``)."""
    resend = item.get("resend")
    validity = item.get("validity")
    change = item.get("last_change")
    refund = item.get("refund")
    return Aftercare(
        resend=None
        if resend is None
        else ResendRecord(
            count=int(resend["count"]),
            last_at=resend["last_at"],
            notice=resend["notice"],
            outcome=ResendOutcome(resend["outcome"]),
            code=resend.get("code"),
        ),
        validity=None
        if validity is None
        else Validity(
            valid_start=validity.get("valid_start"),
            valid_ends=validity.get("valid_ends"),
            method=validity["method"],
            notice_time=validity["notice_time"],
            changed_at=validity["changed_at"],
        ),
        last_change=None
        if change is None
        else ChangeRecord(
            method=change["method"],
            notice_time=change["notice_time"],
            received_at=change["received_at"],
            sub_method=change.get("sub_method"),
            data=change.get("data"),
            left_num=None if change.get("left_num") is None else int(change["left_num"]),
        ),
        refund=None
        if refund is None
        else RefundRecord(voided=int(refund["voided"]), last_at=refund["last_at"]),
        revision=int(item.get(REVISION, 0)),
    )
