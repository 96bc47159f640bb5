"""Telling the platform an order moved on: the notifier's side of the outbox.

A step that owes the platform a call (``MADE``: ``make.finish``; ``SHIPPED``:
``status.sended``) writes that notification as ``PENDING`` in the same conditional update as
the step (``store.lifecycle``). The notifier follows the orders stream and, for each order
with a notification still ``PENDING``, re-reads the header and sends them in order
(``make_finish`` before ``status_sended``: an order may be shipped before ``make.finish`` went
out), then records each one ``SENT``.

Exactly one accepted call per notification:

* Before a call, only the attempt is counted (``start_notice_attempt``: conditional on the
  count it read). The notification stays ``PENDING``, so a crash anywhere before the ``SENT``
  record leaves it to the stream's retry, which calls again; and two attempts at once (a
  duplicate record, a redrive beside the live stream) cannot both call: the second one's count
  is stale and it stands down.
* After a crash between the platform's answer and our record, the retry makes the same call
  again (same ``card_order_id``, same waybill): we assume the platform takes a repeat as the
  same notification (platform-apis.md §7.3 says this is unconfirmed; docs/design.md).
* A duplicate stream record finds the notification ``SENT`` and sends nothing.

Failures: platform-side and transport trouble is raised so that the stream retries it (the TOP
client has already retried where that is safe); on the last attempt (the stream's retries,
``StreamMaxRetries``) the notification is recorded ``FAILED`` with the code and raised, so
that its record lands in the failure queue. A refusal (an ``isv.*`` error, ``success:
false``) is not retried: recorded ``FAILED`` and raised at once. ``cardmaker dlq redrive
--reopen`` puts a ``FAILED`` notification back to ``PENDING`` and replays it. What is recorded
is a code and our own words, never the platform's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from cardmaker.deliveries.platform_codes import recorded_code, refused_call
from cardmaker.errors import (
    OrderNotFound,
    OrderStateConflict,
    PlatformNoticeFailed,
    TopConfigError,
    TopError,
    TopOutcomeUnknown,
    TopUnavailable,
)
from cardmaker.orders.lifecycle import MADE_BY_TEST_TEMPLATES, needs_no_physical_cards
from cardmaker.orders.order import Notice, NoticeState, OrderStatus, PlatformNotice
from cardmaker.top.calls import CardOrderNoticeResult, MakeFinishRequest, StatusSendedRequest
from cardmaker.top.client import retryable_top_error
from cardmaker.top.timestamps import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from cardmaker.orders.order import Lifecycle, OrderKey
    from cardmaker.ports import NoticeOutbox, TemplateRegistry, TopCaller

# The order notifications go out in: make.finish first, whatever the order's status now.
NOTICE_ORDER = (PlatformNotice.MAKE_FINISH, PlatformNotice.STATUS_SENDED)

# Our codes and words for failures that carry no platform code.
NOT_SUCCESSFUL = "not-successful"
UNAVAILABLE = "unavailable"
OUTCOME_UNKNOWN = "outcome-unknown"
NO_SESSION = "no-session"
NO_WAYBILL = "no-waybill"
ENVIRONMENT_NOT_SERVED = "environment-not-served"
_WORDS = {
    NOT_SUCCESSFUL: "the platform answered that the notification did not succeed",
    UNAVAILABLE: "the platform could not be reached",
    OUTCOME_UNKNOWN: "no answer came back from the platform",
    NO_SESSION: "a TOP session is configured for the notifications but there is none",
    NO_WAYBILL: "the order was shipped without a waybill",
    ENVIRONMENT_NOT_SERVED: "this environment's orders are not notified through the "
    "configured TOP gateway (TOP_GATEWAY_URL)",
}


@dataclass(frozen=True)
class Notified:
    """What one ``notify`` call did: the notifications the platform accepted from it (a
    duplicate record finds them SENT already and sends nothing)."""

    sent: tuple[PlatformNotice, ...]


class PlatformNotifier:
    """Sends an order's PENDING platform notifications; makes orders of test templates MADE."""

    def __init__(
        self,
        outbox: NoticeOutbox,
        templates: TemplateRegistry,
        top: TopCaller,
        *,
        with_session: bool = False,
        max_attempts: int = 5,
        serves_environment: Callable[[str], bool] = lambda _own_sign: True,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``with_session``: send the notices with the TOP session key (whether the platform
        wants one is unconfirmed; off unless configured). ``max_attempts``: the stream's
        attempts at a record (``StreamMaxRetries`` + 1); the last one records FAILED."""
        self._outbox = outbox
        self._templates = templates
        self._top = top
        self._with_session = with_session
        self._max_attempts = max_attempts
        self._serves_environment = serves_environment
        self._clock = clock

    def make_test_order(self, key: OrderKey) -> bool:
        """A GENERATED order all of whose templates are registered test templates becomes
        MADE by itself (its MADE record then comes back on the stream and is notified).
        True when this call made it MADE."""
        stored = self._outbox.get(key)
        if stored is None or stored.order.status is not OrderStatus.GENERATED:
            return False
        order = stored.order
        registered = self._templates.get_many(
            key.own_sign, [template.template_no for template in order.templates]
        )
        if not needs_no_physical_cards(order, registered):
            return False
        try:
            return self._outbox.mark_made(key, MADE_BY_TEST_TEMPLATES, self._clock()).changed
        except OrderStateConflict:  # moved on meanwhile (an operator was quicker)
            return False

    def notify(self, key: OrderKey, seen: Mapping[PlatformNotice, int] | None = None) -> Notified:
        """Send the order's PENDING notifications, in order. ``seen``: the notifications the
        stream record showed PENDING, with their attempt counts then.

        Raises what the stream should retry, and ``PlatformNoticeFailed`` once one is
        recorded FAILED. A FAILED notification holds the later ones back (whether
        ``status.sended`` may come without ``make.finish`` is not documented); a record whose
        own attempt failed it, or that brought a notification it holds back, keeps failing
        so that it ends in the failure queue, where the operator's redrive sends them all."""
        lifecycle = self._outbox.lifecycle(key)
        if lifecycle is None:
            return Notified(())
        seen = seen or {}
        sent = []
        for index, notice in enumerate(NOTICE_ORDER):
            current = lifecycle.notices.get(notice)
            if current is None or current.state is NoticeState.SENT:
                continue
            if current.state is NoticeState.FAILED:
                failed_here = notice in seen and current.attempts == seen[notice] + 1
                held = [
                    later
                    for later in NOTICE_ORDER[index + 1 :]
                    if later in seen
                    and (waiting := lifecycle.notices.get(later)) is not None
                    and waiting.state is NoticeState.PENDING
                ]
                if failed_here or held:
                    raise PlatformNoticeFailed(notice.value, current.code, current.attempts)
                break
            if self._send(key, notice, current, lifecycle):
                sent.append(notice)
        return Notified(tuple(sent))

    def _send(
        self, key: OrderKey, notice: PlatformNotice, current: Notice, life: Lifecycle
    ) -> bool:
        """One attempt at one notification; True when the platform accepted it here."""
        if not self._outbox.start_notice_attempt(key, notice, current.attempts, self._clock()):
            return False  # another attempt counted first, or it is no longer PENDING
        attempts = current.attempts + 1
        if not self._serves_environment(key.own_sign):
            # Never sent: recorded for the order view; no redrive can change it.
            unserved = ENVIRONMENT_NOT_SERVED
            self._fail(key, notice, attempts, unserved, _WORDS[unserved])
            return False
        method, params = _call(key, notice, life)
        if method is None:
            self._give_up(key, notice, attempts, NO_WAYBILL, _WORDS[NO_WAYBILL])
        try:
            answer = self._top.call(method, params, with_session=self._with_session)
        except TopError as error:
            code = recorded_code(error.sub_code or str(error.top_code))
            if retryable_top_error(error):
                self._retry_or_give_up(key, notice, attempts, code, refused_call(error.top_code))
                raise
            self._give_up(key, notice, attempts, code, refused_call(error.top_code))
        except TopUnavailable:
            self._retry_or_give_up(key, notice, attempts, UNAVAILABLE, _WORDS[UNAVAILABLE])
            raise
        except TopOutcomeUnknown:
            # Maybe processed: the retry repeats the very same call, which the platform is
            # assumed to recognise (docs/design.md).
            self._retry_or_give_up(key, notice, attempts, OUTCOME_UNKNOWN, _WORDS[OUTCOME_UNKNOWN])
            raise
        except TopConfigError:
            self._give_up(key, notice, attempts, NO_SESSION, _WORDS[NO_SESSION])
        if not CardOrderNoticeResult.from_response(answer).success:
            self._give_up(key, notice, attempts, NOT_SUCCESSFUL, _WORDS[NOT_SUCCESSFUL])
        now = self._clock()
        return self._outbox.record_notice(
            key,
            notice,
            Notice(NoticeState.SENT, attempts, updated_at=now, sent_at=now),
            expected={NoticeState.PENDING},
        )

    def _retry_or_give_up(
        self, key: OrderKey, notice: PlatformNotice, attempts: int, code: str | None, words: str
    ) -> None:
        """Worth another attempt: return (the caller raises, the stream retries), unless this
        was the last one."""
        if attempts >= self._max_attempts:
            words = f"gave up after {attempts} attempts: {words}"
            self._give_up(key, notice, attempts, code, words)

    def _give_up(
        self, key: OrderKey, notice: PlatformNotice, attempts: int, code: str | None, words: str
    ) -> NoReturn:
        """Record FAILED and raise: the record goes to the failure queue for an operator."""
        self._fail(key, notice, attempts, code, words)
        raise PlatformNoticeFailed(notice.value, code, attempts)

    def _fail(
        self, key: OrderKey, notice: PlatformNotice, attempts: int, code: str | None, words: str
    ) -> None:
        self._outbox.record_notice(
            key,
            notice,
            Notice(
                NoticeState.FAILED, attempts, updated_at=self._clock(), code=code, message=words
            ),
            expected={NoticeState.PENDING},
        )


def _call(
    key: OrderKey, notice: PlatformNotice, life: Lifecycle
) -> tuple[str | None, dict[str, str]]:
    """The TOP method and business parameters of a notification (None: it cannot be made)."""
    if notice is PlatformNotice.MAKE_FINISH:
        return MakeFinishRequest.METHOD, MakeFinishRequest(
            card_order_id=key.card_order_id
        ).to_params()
    waybill = life.waybill
    if waybill is None:
        return None, {}
    return StatusSendedRequest.METHOD, StatusSendedRequest(
        card_order_id=key.card_order_id,
        logistics_order_id=waybill.logistics_order_id,
        logistics_company=waybill.logistics_company,
    ).to_params()


def reopen_notices(
    outbox: NoticeOutbox, key: OrderKey, now: datetime | None = None
) -> list[PlatformNotice]:
    """An operator's redrive: every FAILED notification of the order back to PENDING with a
    fresh attempt count (so that the stream's attempts start again), nothing else touched.
    The notifications reopened, in sending order. Raises ``OrderNotFound``."""
    stored = outbox.get(key)
    if stored is None:
        raise OrderNotFound(f"order {key.card_order_id} ({key.own_sign}) does not exist")
    moment = now or utc_now()
    return [
        notice
        for notice in NOTICE_ORDER
        if (current := stored.lifecycle.notices.get(notice)) is not None
        and current.state is NoticeState.FAILED
        and outbox.record_notice(
            key,
            notice,
            Notice(NoticeState.PENDING, attempts=0, updated_at=moment),
            expected={NoticeState.FAILED},
        )
    ]
