"""Failures waiting for a redrive: how many failed batches each on-failure queue holds.

Each stream function leaves what it gave up on in its own SQS queue (the queues `cardmaker
dlq` lists and redrives, by the same names). The console and ``GET /failures`` show only how
many are waiting there, from the queues' approximate counts: reading the messages themselves
would hide them from a redrive for their visibility timeout, and they carry stream records,
which are not the console's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cardmaker.ports import QueueDepths

# The queues by the names `cardmaker dlq --queue` takes, in the pipeline's order.
FAILURE_QUEUES = ("generator", "delivery", "events", "notifier", "fulfilment")


@dataclass(frozen=True)
class WaitingFailures:
    """One on-failure queue: the failed batches waiting in it, and those a redrive (or a
    `dlq list`) is reading right now (SQS's approximate counts: a few seconds behind)."""

    queue: str
    waiting: int
    in_flight: int


class FailureQueues:
    def __init__(self, urls: Mapping[str, str], depths: QueueDepths) -> None:
        unknown = set(urls) - set(FAILURE_QUEUES)
        if unknown:
            raise ValueError(f"not an on-failure queue: {sorted(unknown)}")
        self._urls = urls
        self._depths = depths

    def waiting(self) -> list[WaitingFailures]:
        """Every queue's count, in the pipeline's order."""
        found: list[WaitingFailures] = []
        for queue in FAILURE_QUEUES:
            url = self._urls.get(queue)
            if url is not None:
                waiting, in_flight = self._depths.depth(url)
                found.append(WaitingFailures(queue, waiting, in_flight))
        return found
