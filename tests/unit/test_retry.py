"""The one retry loop: how many attempts, when it waits, how long at most."""

from __future__ import annotations

import pytest

from cardmaker.retry import with_backoff


def test_each_attempt_after_the_first_waits_a_growing_capped_jittered_delay():
    waits: list[float] = []
    attempts = list(with_backoff(6, base=0.05, cap=0.2, sleep=waits.append))
    assert attempts == [0, 1, 2, 3, 4, 5]
    # a loop that runs out waited after every attempt, the last one included
    assert len(waits) == 6
    assert all(0 <= wait <= min(0.2, 0.05 * 2**n) for n, wait in enumerate(waits))


def test_a_loop_that_settles_waits_no_more():
    waits: list[float] = []
    for attempt in with_backoff(8, base=0.05, cap=2.0, sleep=waits.append):
        if attempt == 2:
            break
    assert len(waits) == 2  # before the second and the third attempt only

    waits.clear()

    def give_up_at_the_second() -> None:
        for attempt in with_backoff(8, base=0.05, cap=2.0, sleep=waits.append):
            if attempt == 1:
                raise KeyError("given up")

    with pytest.raises(KeyError):
        give_up_at_the_second()
    assert len(waits) == 1
