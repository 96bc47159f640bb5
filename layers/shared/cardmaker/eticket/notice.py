"""A send-code notice (发码通知) as Cardmaker keeps it, whatever its wire format.

The notice's wire format is documented only by public integrations of the older e-voucher
family (platform-apis.md §4, confidence M): reading it from the HTTP body, checking its
signature and timestamp belong to one adapter (``cardmaker.eticket.wire``); everything after
that works on ``Notice``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class NoticeMethod(StrEnum):
    """The notice's ``method`` parameter (§4.2). Anything else is ``OTHER``: recorded and
    answered, never acted on (the platform says more cases may be added later)."""

    SEND = "send"
    RESEND = "resend"
    CANCEL = "cancel"
    MODIFIED = "modified"
    ORDER_MODIFY = "order_modify"
    OTHER = "other"

    @classmethod
    def of(cls, method: str) -> NoticeMethod:
        try:
            return cls(method)
        except ValueError:
            return cls.OTHER


class NoticeOutcome(StrEnum):
    """What became of a recorded notice (shown by ``GET /eticket/notices/{order_id}``)."""

    RECORDED = "RECORDED"  # durably stored, not yet acted on
    DELIVERY_CREATED = "DELIVERY_CREATED"  # send: its delivery exists (see delivery_id)
    RESENT = "RESENT"  # resend: the same cards went out again
    VOIDED = "VOIDED"  # cancel: the delivery's cards are void for good
    CHANGED = "CHANGED"  # modified / order_modify: recorded on the delivery
    IGNORED = "IGNORED"  # nothing to act on (an unknown method, or no delivery yet)


# Parameters that identify a person: never stored, logged or shown (§4.2). ``mobile`` is the
# buyer's number in clear; the masked and hashed forms are personal data too.
PERSONAL_PARAMETERS = frozenset({"mobile", "encrypt_mobile", "md5_mobile"})


@dataclass(frozen=True)
class Notice:
    """One verified notice. ``parameters`` holds every received parameter except ``sign``
    and the personal ones (as text, as they arrived); ``digest`` identifies this exact
    notice, so that a replay of it is recognised whatever its method."""

    method: str
    order_id: str
    received_at: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def of(cls, parameters: Mapping[str, str], received_at: str) -> Notice:
        """From a verified notice's parameters (``sign`` already checked and dropped)."""
        kept = {
            name: value
            for name, value in parameters.items()
            if name != "sign" and name not in PERSONAL_PARAMETERS
        }
        return cls(
            method=kept.get("method", ""),
            order_id=kept.get("order_id", ""),
            received_at=received_at,
            parameters=kept,
            digest=notice_digest(parameters),
        )

    @property
    def kind(self) -> NoticeMethod:
        return NoticeMethod.of(self.method)

    @property
    def token(self) -> str | None:
        return self.parameters.get("token") or None

    @property
    def num(self) -> int | None:
        """``num`` (the quantity bought), None if absent or not a whole number."""
        value = self.parameters.get("num", "")
        return int(value) if value.isascii() and value.isdigit() and len(value) <= 6 else None

    @property
    def merchant_code(self) -> str | None:
        """The product's merchant code: the SKU's (``sub_outer_iid``), else the item's."""
        return self.parameters.get("sub_outer_iid") or self.parameters.get("outer_iid") or None

    @property
    def record_id(self) -> str:
        """Where the notice is recorded under its order: one ``send`` per order (a repeat is
        the same record, §4.5); any other method once per distinct notice, so that a second
        legitimate ``resend`` is kept and a replay of the same one is not."""
        if self.kind is NoticeMethod.SEND:
            return "SEND"
        return f"{self.kind.value.upper()}#{self.digest[:32]}"


def notice_digest(parameters: Mapping[str, str]) -> str:
    """SHA-256 over the sorted parameters except ``sign`` (personal ones included: two
    notices differing only there are different notices)."""
    digest = hashlib.sha256()
    for name in sorted(parameters):
        if name == "sign":
            continue
        digest.update(name.encode() + b"\x00" + parameters[name].encode() + b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True)
class NoticeRecord:
    """A recorded notice with what became of it (``GET /eticket/notices/{order_id}``):
    ``delivery_id`` is the delivery it made or concerns, once fulfilment knows it."""

    notice: Notice
    outcome: NoticeOutcome = NoticeOutcome.RECORDED
    delivery_id: str | None = None
    updated_at: str | None = None
