"""The template's ``Type: Schedule`` events, played locally: moto cannot run EventBridge
schedules, so the stack invokes each scheduled function itself, on a short period (default 1
second, ``LOCAL_SCHEDULE_SECONDS``) instead of the template's rate: a deadline a test or the
demo sets to a few seconds is noticed within a second."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

DEFAULT_PERIOD_SECONDS = 1.0


class Invocable(Protocol):
    @property
    def name(self) -> str: ...

    def invoke(self, event: dict[str, Any]) -> Any: ...


def scheduled_event(rule: str) -> dict[str, Any]:
    """The event EventBridge hands a function on its schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


class Scheduler:
    """Invokes one function's schedule every ``period`` seconds on a daemon thread, until
    ``stop()``. A failed invocation is logged and the next one comes on time (as
    EventBridge's would)."""

    def __init__(
        self,
        function: Invocable,
        rule: str,
        period: float = DEFAULT_PERIOD_SECONDS,
        log: Callable[[str], None] = print,
    ) -> None:
        self._function = function
        self._rule = rule
        self._period = period
        self._log = log
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"schedule-{function.name}-{rule}", daemon=True
        )
        self.invocations = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped.wait(self._period):
            try:
                self._function.invoke(scheduled_event(self._rule))
            except Exception as error:
                self._log(f"[schedule] {self._function.name} {self._rule}: {error!r}")
            self.invocations += 1
