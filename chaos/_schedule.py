"""A seeded, reproducible schedule of choices for the chaos runs (which fault, when, where).

Deterministic on purpose: a run is replayed with its seed (``CHAOS_SEED``). It is never used
for anything secret (card numbers and secrets come from ``secrets``); it derives each draw
from SHA-256 of the seed and a counter, so that no pseudo-random module enters the code base.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class Schedule:
    """The few draws the chaos runs make, in the shape of ``random.Random``'s."""

    def __init__(self, seed: int | str) -> None:
        self._seed = str(seed).encode("utf-8")
        self._counter = 0

    def random(self) -> float:
        """A float in [0, 1)."""
        self._counter += 1
        digest = hashlib.sha256(self._seed + b":" + str(self._counter).encode()).digest()
        return (int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53)

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def randint(self, low: int, high: int) -> int:
        """An int in [low, high], both included."""
        return low + min(int(self.random() * (high - low + 1)), high - low)

    def choice(self, items: Sequence[T]) -> T:
        if not items:
            raise IndexError("cannot choose from an empty sequence")
        return items[min(int(self.random() * len(items)), len(items) - 1)]

    def choices(self, items: Sequence[T], weights: Sequence[float]) -> list[T]:
        """One item, drawn by weight (as ``random.choices(items, weights)``)."""
        point = self.random() * sum(weights)
        for item, weight in zip(items, weights, strict=True):
            point -= weight
            if point < 0:
                return [item]
        return [items[-1]]
