"""Faults scripted per delivery for the fake TOP gateway (``FakeTopGateway.fail_by``).

A delivery's calls carry its business id (``outer_id`` / ``out_biz_id``), so each delivery
gets its own list of faults, consumed one per call in the order its calls arrive, whatever
the other deliveries do meanwhile: a seeded schedule then replays the same way every run.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from local.top_gateway import Fault

# A step: a fault, or a function of the call's cards that makes one (a partial bind names
# some of them), or None for a call that goes through.
Step = Fault | Callable[[tuple[str, ...]], Fault] | None


class FaultPlan:
    """The gateway's schedule: ``gateway.fail_by(plan)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: dict[str, deque[Step]] = {}
        self._then: dict[str, Fault] = {}
        self._calls: dict[str, int] = {}

    def script(self, business_id: str, *steps: Step, then: Fault | None = None) -> None:
        """The faults of the delivery's next calls, one per call; ``then`` for every call
        after those (an outage that does not end until ``lift``)."""
        with self._lock:
            self._steps.setdefault(business_id, deque()).extend(steps)
            if then is not None:
                self._then[business_id] = then

    def lift(self, business_id: str) -> None:
        """Forget what is left of the delivery's faults: its next calls go through."""
        with self._lock:
            self._steps.pop(business_id, None)
            self._then.pop(business_id, None)

    def calls(self, business_id: str) -> int:
        """How many calls of the delivery the gateway asked this plan about."""
        with self._lock:
            return self._calls.get(business_id, 0)

    def __call__(self, method: str, business_id: str, cards: tuple[str, ...]) -> Fault | None:
        with self._lock:
            self._calls[business_id] = self._calls.get(business_id, 0) + 1
            steps = self._steps.get(business_id)
            step = steps.popleft() if steps else self._then.get(business_id)
        if callable(step):
            return step(cards)
        return step
