"""Backing off before a retry: the one rule every retry loop of the package uses."""

from __future__ import annotations

import secrets

_random = secrets.SystemRandom()


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff before retry number ``attempt`` (0 for the first
    retry): uniform in ``[0, min(cap, base * 2**attempt)]``, so that many callers retrying at
    once spread out instead of colliding again."""
    return _random.uniform(0.0, min(cap, base * 2**attempt))
