"""The audit trail: every operator action, recorded once with who and when, never changed.

An entry is appended by the one who saw the action happen: the operator API for what it does
itself (a delivery created, an order made or shipped, a product mapped), and, for what the
``cardmaker`` command does straight against AWS (a print run's export, a redrive, a reopen),
the same API when the command reports it (``POST /audit``): either way the "who" is the IAM
principal API Gateway authenticated, never a name the client wrote.

An entry says what was done in the business's words and never carries a secret: its details
are a few short named values, and names that smell of one (secret, token, password, session,
sign) are refused before anything is written.

The trail is read newest first, all of it or one order's, a page at a time; a page's position
travels as an opaque ``next`` token bound to its filter (the orders list's scheme).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from cardmaker.errors import AuditRefused, PageTokenInvalid
from cardmaker.paging import NOT_OURS, TOKEN_VERSION, open_page_token, seal_page_token

if TYPE_CHECKING:
    from cardmaker.deliveries.delivery import Requester
    from cardmaker.orders.order import OrderKey
    from cardmaker.ports import AuditLog

DEFAULT_AUDIT_PAGE = 50
MAX_AUDIT_PAGE = 100
MAX_DETAILS = 12
MAX_DETAIL_LENGTH = 200
MAX_SUBJECT_LENGTH = 128
# A detail's name: a short snake_case word (what it is, never free text).
DETAIL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# Words of a name a secret would travel under: refused, whatever the value (a card secret,
# the TOP app secret or session key, an e-voucher token, an archive password, a signature).
_SECRET_WORDS = frozenset(
    {"secret", "secrets", "token", "tokens", "password", "passwd", "session", "signature"}
    | {"credential", "credentials", "key", "keys", "pin"}
)
_LISTING = b"cm-audit-page"  # personalises the tokens' digest (cardmaker.paging)

Source = Literal["api", "cli"]
DetailValue = str | int


class AuditAction(StrEnum):
    """What an operator did."""

    DELIVERY_CREATED = "delivery.created"
    ORDER_MADE = "order.made"
    ORDER_SHIPPED = "order.shipped"
    PRODUCT_MAPPED = "product.mapped"
    CARDS_EXPORTED = "cards.exported"  # a print run: the cards claimed and written out
    DLQ_REDRIVEN = "dlq.redriven"
    DLQ_REOPENED = "dlq.reopened"
    DELIVERY_CANCELLED = "delivery.cancelled"
    PRINT_CLAIM_RELEASED = "print_claim.released"


# What the `cardmaker` command does straight against AWS and reports through POST /audit; the
# rest the operator API records itself (reporting them would let a client claim them).
REPORTED_ACTIONS = frozenset(
    {AuditAction.CARDS_EXPORTED, AuditAction.DLQ_REDRIVEN, AuditAction.DLQ_REOPENED}
)


@dataclass(frozen=True)
class AuditEntry:
    """One action on record: what (``action`` on ``subject``, of ``order`` when it concerns
    one, with ``details``), who (the IAM principal) and when (``at``, UTC). ``source`` says
    who saw it happen: the operator API itself (``api``) or the ``cardmaker`` command that
    did it and reported it (``cli``)."""

    entry_id: str
    at: str  # ISO 8601, UTC, milliseconds: the trail's order
    action: AuditAction
    who: Requester
    subject: str
    order: OrderKey | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    source: Source = "api"


@dataclass(frozen=True)
class AuditPage:
    """Up to a page of entries, newest first; ``after`` is the last one's position (its
    ``at`` and id) when there are more."""

    entries: list[AuditEntry]
    after: str | None


@dataclass(frozen=True)
class ListedEntries:
    entries: list[AuditEntry]
    next_token: str | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def new_entry_id() -> str:
    return "AU-" + secrets.token_hex(12)


class AuditTrail:
    """Appends operator actions to the trail and reads them back."""

    def __init__(
        self,
        log: AuditLog,
        clock: Callable[[], datetime] = _utc_now,
        new_id: Callable[[], str] = new_entry_id,
    ) -> None:
        self._log = log
        self._clock = clock
        self._new_id = new_id

    def record(
        self,
        action: AuditAction,
        who: Requester,
        subject: str,
        *,
        order: OrderKey | None = None,
        details: Mapping[str, DetailValue] | None = None,
        source: Source = "api",
    ) -> AuditEntry:
        """Append one entry: ``who`` did ``action`` to ``subject`` (of ``order``), now.
        Raises ``AuditRefused`` (nothing written) for a detail that is not a short named
        value, or whose name says it could hold a secret."""
        checked = _checked_details(details or {})
        if not subject or len(subject) > MAX_SUBJECT_LENGTH or not subject.isprintable():
            raise AuditRefused("subject", f"must be 1 to {MAX_SUBJECT_LENGTH} printable characters")
        entry = AuditEntry(
            entry_id=self._new_id(),
            at=self._clock().astimezone(UTC).isoformat(timespec="milliseconds"),
            action=action,
            who=who,
            subject=subject,
            order=order,
            details=checked,
            source=source,
        )
        self._log.append(entry)
        return entry

    def page(
        self,
        order: OrderKey | None = None,
        limit: int = DEFAULT_AUDIT_PAGE,
        next_token: str | None = None,
    ) -> ListedEntries:
        """A page of the trail (of ``order`` only, if given), newest first, continuing the
        listing ``next_token`` came from. Raises ``PageTokenInvalid``."""
        if not 1 <= limit <= MAX_AUDIT_PAGE:
            raise ValueError(f"limit must be 1..{MAX_AUDIT_PAGE}")
        making_card_no = order.making_card_no if order else None
        after = read_audit_token(next_token, making_card_no) if next_token else None
        page = self._log.page(making_card_no, limit, after)
        token = audit_token(making_card_no, page.after) if page.after else None
        return ListedEntries(page.entries, token)


def _checked_details(details: Mapping[str, DetailValue]) -> dict[str, DetailValue]:
    if len(details) > MAX_DETAILS:
        raise AuditRefused("details", f"at most {MAX_DETAILS} details")
    checked: dict[str, DetailValue] = {}
    for name, value in details.items():
        if not DETAIL_NAME.fullmatch(name):
            raise AuditRefused("details", "a detail's name is a short snake_case word")
        if _SECRET_WORDS & set(name.split("_")):
            raise AuditRefused("details", f"{name} could hold a secret: never recorded")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise AuditRefused("details", f"{name} must be text or a whole number")
        if isinstance(value, str) and (len(value) > MAX_DETAIL_LENGTH or not value.isprintable()):
            raise AuditRefused(
                "details", f"{name} must be at most {MAX_DETAIL_LENGTH} printable characters"
            )
        checked[name] = value
    return checked


# --- the next token -----------------------------------------------------------------------


def audit_token(making_card_no: str | None, after: str) -> str:
    """The opaque ``next`` token for the page after position ``after`` of this listing."""
    return seal_page_token(_LISTING, {"order": making_card_no, "after": after})


def read_audit_token(token: str, making_card_no: str | None) -> str:
    """The position ``token`` names, if it is a whole token of this very listing; else
    ``PageTokenInvalid`` (the caller's text is never echoed)."""
    try:
        parsed = json.loads(open_page_token(token, _LISTING))
    except ValueError:
        raise PageTokenInvalid(NOT_OURS) from None
    if (
        not isinstance(parsed, dict)
        or parsed.get("v") != TOKEN_VERSION
        or not isinstance(parsed.get("after"), str)
        or not 0 < len(parsed["after"]) <= 80
    ):
        raise PageTokenInvalid(NOT_OURS)
    if parsed.get("order") != making_card_no:
        raise PageTokenInvalid("next belongs to another listing: ask again with the same order")
    return str(parsed["after"])
