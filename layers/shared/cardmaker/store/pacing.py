"""Paces writes per partition key: DynamoDB takes at most 1,000 write units a second on one
partition, and a partition key never spans two. Sending faster only buys ``UnprocessedItems``
and backoff, and throttled writes crowd out the other keys that share the partition.

Keys of other writers (other chunks, other Lambdas) may hash to the same partition, and a new
table's ceiling is lower than its partitions' sum: so each key's rate also adapts, as TCP's
congestion window does (additive increase, multiplicative decrease): halved when DynamoDB
leaves items unprocessed, raised a little after each call it takes whole."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Item writes a second one partition key is offered at most; a card item is under 1 KB (one
# write unit), so this is DynamoDB's per-partition limit of 1,000 write units a second.
KEY_WRITE_RATE = 1000.0
# A key throttled again and again still gets through: at 10 a second, chunks on a new table
# (4,000 writes/s between 40 of them) crawled past the generator's 60 s timeout; at 100 they
# failed their BatchWriteItem attempts so often that an order failed (bench/million.py).
LOWEST_RATE = 25.0
RATE_STEP = 25.0  # items a second more after a call taken whole


class KeyPacer:
    """Spaces the writes of each key so that none is offered more than its rate (at most
    ``rate`` items a second): a write of ``items`` waits until the key's earlier writes have
    had their share of time. The clock and the sleep are injected, so a simulation's time
    drives it and tests need no real sleeping."""

    def __init__(
        self,
        rate: float = KEY_WRITE_RATE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a key's write rate must be positive")
        self._most = rate
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}  # per key: when its next write may go
        self._rate: dict[str, float] = {}  # per key: its rate now
        self._lock = threading.Lock()

    def wait(self, key: str, items: int) -> None:
        """Return when ``items`` writes of ``key`` may go, having reserved their time."""
        with self._lock:  # the reservation, not the wait: other keys go on meanwhile
            now = self._clock()
            start = max(now, self._next.get(key, now))
            self._next[key] = start + items / self._rate.get(key, self._most)
        if start > now:
            self._sleep(start - now)

    def taken(self, key: str, items: int, refused: int) -> None:
        """What DynamoDB did with a write of ``items``: ``refused`` of them came back."""
        with self._lock:
            rate = self._rate.get(key, self._most)
            if refused:
                self._rate[key] = max(LOWEST_RATE, rate / 2)
            else:
                self._rate[key] = min(self._most, rate + RATE_STEP)
