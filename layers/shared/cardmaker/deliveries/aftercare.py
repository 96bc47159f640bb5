"""What the platform's later notices left on a notice delivery (``resend``, ``cancel``,
``modified``, ``order_modify``): the last of each kind, never a growing list, so an item
stays the same size however many notices an order gets.

Each record names the notice it came from (its digest, cut short) and the notice's own
``timestamp``: a replayed notice is recognised, and an older one arriving late never
overwrites a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ResendOutcome(StrEnum):
    RESENT = "RESENT"  # the platform took the same cards again
    REFUSED = "REFUSED"  # the platform said it cannot (e.g. no-can-resend-code): not retried


@dataclass(frozen=True)
class ResendRecord:
    """The resends of a delivery: how many went out, and the last one."""

    count: int  # resends the platform took
    last_at: str  # ISO 8601, UTC: when the last resend was acted on
    notice: str  # the last resend notice's digest (cut short): a replay of it is not resent
    outcome: ResendOutcome
    code: str | None = None  # the platform's code when it refused


@dataclass(frozen=True)
class Validity:
    """The e-voucher's validity as the platform last changed it (``modified``, or an
    ``order_modify`` with ``sub_method`` 1)."""

    valid_start: str | None
    valid_ends: str | None
    method: str  # the notice that changed it
    notice_time: str  # that notice's ``timestamp`` (yyyy-MM-dd HH:mm:ss, Asia/Shanghai)
    changed_at: str  # ISO 8601, UTC: when it was recorded


@dataclass(frozen=True)
class ChangeRecord:
    """The last ``modified`` / ``order_modify`` notice, as received (never the buyer's mobile:
    personal parameters are not kept)."""

    method: str
    notice_time: str
    received_at: str
    sub_method: str | None = None  # order_modify: 1 validity changed, 2 dispute upheld
    data: str | None = None  # order_modify's ``data``, as received (bounded by the adapter)
    left_num: int | None = None  # modified: the redeemable units left


@dataclass(frozen=True)
class RefundRecord:
    """The refunds (``cancel`` notices) acted on: how many cards they voided in all."""

    voided: int
    last_at: str


@dataclass(frozen=True)
class Aftercare:
    """Everything the later notices left on one delivery (all None: nothing yet)."""

    resend: ResendRecord | None = None
    validity: Validity | None = None
    last_change: ChangeRecord | None = None
    refund: RefundRecord | None = None
    revision: int = 0  # counts the refunds' card updates: each is conditional on the last
