"""Backing off before a retry: the one rule, and the one loop, every hand-written retry of the
package uses (BatchWriteItem's and BatchGetItem's unprocessed remainders, writes DynamoDB did
not apply)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_random = secrets.SystemRandom()


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff before retry number ``attempt`` (0 for the first
    retry): uniform in ``[0, min(cap, base * 2**attempt)]``, so that many callers retrying at
    once spread out instead of colliding again."""
    return _random.uniform(0.0, min(cap, base * 2**attempt))


def with_backoff(
    attempts: int, *, base: float, cap: float, sleep: Callable[[float], None]
) -> Iterator[int]:
    """The attempt numbers of a retry loop, ``0 .. attempts - 1``.

    Each time the loop comes back for more, the wait of ``backoff_delay`` comes first; a loop
    that settles (returns, breaks or raises) waits no more. So the caller decides what is
    retried::

        for attempt in with_backoff(8, base=0.05, cap=2.0, sleep=time.sleep):
            remainder = send(remainder)
            if not remainder:
                return
        raise GaveUp(remainder)  # after the last attempt's wait, like every other one
    """
    for attempt in range(attempts):
        yield attempt
        sleep(backoff_delay(attempt, base, cap))
