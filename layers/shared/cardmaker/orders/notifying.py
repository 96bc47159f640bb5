"""Telling the platform an order moved on: the notifier's side of the outbox.

A step that owes the platform a call (``MADE``: ``make.finish``; ``SHIPPED``:
``status.sended``) writes that notification as ``PENDING`` in the same conditional update as
the step (``store.lifecycle``). The notifier follows the orders stream a batch at a time: it
re-reads the headers of the batch's orders in one consistent read and sends what is still
``PENDING``, in order within each order (``make_finish`` before ``status_sended``: an order
may be shipped before ``make.finish`` went out), a wave at a time (attempts counted
together, calls made, outcomes recorded together), and records each one ``SENT``.

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

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cardmaker.deliveries.platform_codes import recorded_code, refused_call
from cardmaker.errors import (
    NotificationDeferred,
    OrderNotFound,
    OrderStateConflict,
    PlatformNoticeFailed,
    TopConfigError,
    TopError,
    TopOutcomeUnknown,
    TopUnavailable,
)
from cardmaker.orders.lifecycle import MADE_BY_TEST_TEMPLATES, needs_no_physical_cards
from cardmaker.orders.order import (
    Notice,
    NoticeAttempt,
    NoticeRecord,
    NoticeState,
    OrderStatus,
    PlatformNotice,
)
from cardmaker.top.calls import CardOrderNoticeResult, MakeFinishRequest, StatusSendedRequest
from cardmaker.top.client import retryable_top_error
from cardmaker.top.timestamps import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
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
    """What notifying did for one stream record: the notifications the platform accepted
    for its order in this batch (reported on the order's first record only, so that they
    are counted once; a duplicate record finds them SENT already and sends nothing), and
    why the record must fail, if it must (the stream retries it, or it ends in the failure
    queue)."""

    sent: tuple[PlatformNotice, ...]
    failure: Exception | None = None


# An order's notifications are attempted this many at a time: each wave's attempts are
# counted together, called one after another, and recorded together. The function stops
# starting waves when less time is left than a wave may take (``wave_seconds``).
WAVE = 10


@dataclass
class _OrderRun:
    """One order of a batch: where its notifications stand, as read and as moved here."""

    key: OrderKey
    life: Lifecycle | None
    position: int = 0
    sent: list[PlatformNotice] = field(default_factory=list)
    failure: Exception | None = None
    done: bool = False

    def due(self) -> tuple[PlatformNotice, Notice] | None:
        """The next notification to attempt (PENDING, nothing before it unsent), if any."""
        while not self.done and self.life is not None and self.position < len(NOTICE_ORDER):
            notice = NOTICE_ORDER[self.position]
            current = self.life.notices.get(notice)
            if current is None or current.state is NoticeState.SENT:
                self.position += 1
            elif current.state is NoticeState.PENDING:
                return notice, current
            else:
                break  # FAILED: holds the later ones back
        self.done = True
        return None

    def stop(self, failure: Exception | None = None) -> None:
        self.done = True
        self.failure = self.failure or failure


@dataclass(frozen=True)
class _Outcome:
    """An attempt's end: what to record (None: nothing, the stream retries) and why the
    order's records fail (None: they do not)."""

    recorded: Notice | None
    failure: Exception | None = None


class PlatformNotifier:
    """Sends the PENDING platform notifications of a stream batch's orders; makes orders of
    test templates MADE."""

    def __init__(
        self,
        outbox: NoticeOutbox,
        templates: TemplateRegistry,
        top: TopCaller,
        *,
        with_session: bool = False,
        max_attempts: int = 5,
        serves_environment: Callable[[str], bool] = lambda _own_sign: True,
        wave_seconds: float = 0.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``with_session``: send the notices with the TOP session key (whether the platform
        wants one is unconfirmed; off unless configured). ``max_attempts``: the stream's
        attempts at a record (``StreamMaxRetries`` + 1); the last one records FAILED.
        ``wave_seconds``: the longest a wave of ``WAVE`` calls may take (the TOP client's
        timeouts and retries, each call)."""
        self._outbox = outbox
        self._templates = templates
        self._top = top
        self._with_session = with_session
        self._max_attempts = max_attempts
        self._serves_environment = serves_environment
        self._wave_seconds = wave_seconds
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
        """``notify_all`` for one record; raises its failure."""
        (notified,) = self.notify_all([(key, seen or {})])
        if notified.failure is not None:
            raise notified.failure
        return notified

    def notify_all(
        self,
        records: Sequence[tuple[OrderKey, Mapping[PlatformNotice, int]]],
        time_left: Callable[[], float] = lambda: float("inf"),
    ) -> list[Notified]:
        """Send the PENDING notifications of a batch's orders, in order within each order.
        ``records``: each stream record's order and the notifications it showed PENDING,
        with their attempt counts then. ``time_left``: seconds the function has left.

        One consistent read of every order's header; then in rounds (an order's
        ``make_finish`` in the first, its ``status_sended`` in the second if it was shipped
        before ``make.finish`` went out), a wave at a time: the wave's attempts counted,
        the calls made, their outcomes recorded. What each record is told, in order: a
        record fails with its order's failure (an error the stream retries, or
        ``PlatformNoticeFailed`` once one is recorded FAILED); a FAILED notification holds
        the later ones back, and a record whose own attempt failed it (by its count), or
        that brought a notification it holds back, keeps failing so that it ends in the
        failure queue, where the operator's redrive sends them all."""
        lives = self._outbox.lifecycles(key for key, _ in records)
        runs = {key: _OrderRun(key, lives.get(key)) for key, _ in records}
        slowest: float | None = None  # seconds, the slowest wave so far
        for _round in NOTICE_ORDER:  # at most one notification of an order per round
            due = [(run, *step) for run in runs.values() if (step := run.due()) is not None]
            for start in range(0, len(due), WAVE):
                # The first wave always goes (a batch makes progress); a later one only if
                # the time left covers the slowest wave so far three times over, or the
                # longest a wave can take. A function stopped by its timeout would only cost
                # attempts and repeated calls (as a crash), but that is worth avoiding.
                if slowest is not None and time_left() < min(self._wave_seconds, 3 * slowest):
                    deferred = NotificationDeferred("too little time left to notify the platform")
                    for run, _notice, _current in due[start:]:
                        run.stop(deferred)
                    break
                started = time.monotonic()
                self._wave(due[start : start + WAVE])
                slowest = max(slowest or 0.0, time.monotonic() - started)
        reported: set[OrderKey] = set()
        answers = []
        for key, seen in records:
            run = runs[key]
            sent = () if key in reported else tuple(run.sent)
            reported.add(key)
            answers.append(Notified(sent, run.failure or _held_back(run.life, seen)))
        return answers

    def _wave(self, wave: list[tuple[_OrderRun, PlatformNotice, Notice]]) -> None:
        """Count the wave's attempts, make the calls of those counted, record the ends."""
        counted = self._outbox.start_notice_attempts(
            [NoticeAttempt(run.key, notice, current.attempts) for run, notice, current in wave],
            self._clock(),
        )
        ends: list[tuple[_OrderRun, PlatformNotice, _Outcome]] = []
        for (run, notice, current), stood in zip(wave, counted, strict=True):
            if not stood:  # another attempt counted first, or it is no longer PENDING
                run.stop()
                continue
            assert run.life is not None  # due() only offers orders that were read
            ends.append((run, notice, self._attempt(run.key, notice, current, run.life)))
        to_record = [(run, notice, end) for run, notice, end in ends if end.recorded]
        written = self._outbox.record_notices(
            [
                NoticeRecord(run.key, notice, end.recorded, frozenset({NoticeState.PENDING}))
                for run, notice, end in to_record
                if end.recorded is not None
            ]
        )
        recorded = {
            (run.key, notice) for (run, notice, _), ok in zip(to_record, written, strict=True) if ok
        }
        for run, notice, end in ends:
            if end.failure is not None:
                run.stop(end.failure)
            elif end.recorded is not None and end.recorded.state is NoticeState.SENT:
                if (run.key, notice) in recorded:
                    run.sent.append(notice)
                    run.position += 1
                else:
                    run.stop()  # someone else moved it first
            else:
                run.position += 1  # FAILED but not raised (environment not served): go on

    def _attempt(  # noqa: PLR0911 - one answer per way a call can end
        self, key: OrderKey, notice: PlatformNotice, current: Notice, life: Lifecycle
    ) -> _Outcome:
        """One counted attempt at one notification: the call and what it ends in."""
        attempts = current.attempts + 1
        if not self._serves_environment(key.own_sign):
            # Never sent: recorded for the order view; no redrive can change it.
            return _Outcome(self._failed(attempts, ENVIRONMENT_NOT_SERVED, None))
        method, params = _call(key, notice, life)
        if method is None:
            return self._given_up(notice, attempts, NO_WAYBILL, _WORDS[NO_WAYBILL])
        try:
            answer = self._top.call(method, params, with_session=self._with_session)
        except TopError as error:
            code = recorded_code(error.sub_code or str(error.top_code))
            if retryable_top_error(error):
                return self._retry_or_give_up(
                    notice, attempts, code, refused_call(error.top_code), error
                )
            return self._given_up(notice, attempts, code, refused_call(error.top_code))
        except TopUnavailable as error:
            return self._retry_or_give_up(notice, attempts, UNAVAILABLE, _WORDS[UNAVAILABLE], error)
        except TopOutcomeUnknown as error:
            # Maybe processed: the retry repeats the very same call, which the platform is
            # assumed to recognise (docs/design.md).
            return self._retry_or_give_up(
                notice, attempts, OUTCOME_UNKNOWN, _WORDS[OUTCOME_UNKNOWN], error
            )
        except TopConfigError:
            return self._given_up(notice, attempts, NO_SESSION, _WORDS[NO_SESSION])
        if not CardOrderNoticeResult.from_response(answer).success:
            return self._given_up(notice, attempts, NOT_SUCCESSFUL, _WORDS[NOT_SUCCESSFUL])
        now = self._clock()
        return _Outcome(Notice(NoticeState.SENT, attempts, updated_at=now, sent_at=now))

    def _retry_or_give_up(
        self,
        notice: PlatformNotice,
        attempts: int,
        code: str | None,
        words: str,
        error: Exception,
    ) -> _Outcome:
        """Worth another attempt: nothing recorded, the stream retries on ``error``, unless
        this was the last attempt."""
        if attempts >= self._max_attempts:
            words = f"gave up after {attempts} attempts: {words}"
            return self._given_up(notice, attempts, code, words)
        return _Outcome(None, error)

    def _given_up(
        self, notice: PlatformNotice, attempts: int, code: str | None, words: str
    ) -> _Outcome:
        """Record FAILED, and fail the records: they go to the failure queue for an
        operator."""
        return _Outcome(
            self._failed(attempts, code, words),
            PlatformNoticeFailed(notice.value, code, attempts),
        )

    def _failed(self, attempts: int, code: str | None, words: str | None) -> Notice:
        words = words if words is not None else _WORDS[code or ""]
        return Notice(
            NoticeState.FAILED, attempts, updated_at=self._clock(), code=code, message=words
        )


def _held_back(life: Lifecycle | None, seen: Mapping[PlatformNotice, int]) -> Exception | None:
    """Why a record must fail when its order's notifications were not moved here: a FAILED
    notification the record's own attempt failed (its count is the record's plus one), or
    one that holds back a notification the record brought."""
    if life is None:
        return None
    for index, notice in enumerate(NOTICE_ORDER):
        current = life.notices.get(notice)
        if current is None or current.state is NoticeState.SENT:
            continue
        if current.state is NoticeState.FAILED:
            failed_here = notice in seen and current.attempts == seen[notice] + 1
            held = [
                later
                for later in NOTICE_ORDER[index + 1 :]
                if later in seen
                and (waiting := life.notices.get(later)) is not None
                and waiting.state is NoticeState.PENDING
            ]
            if failed_here or held:
                return PlatformNoticeFailed(notice.value, current.code, current.attempts)
        return None
    return None


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
