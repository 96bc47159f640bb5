"""The card writer's pacer per partition key, on a simulated clock: no real sleeping."""

from __future__ import annotations

import pytest

from cardmaker.store.pacing import KeyPacer


class SimulatedTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_key_is_offered_at_most_its_rate_and_other_keys_do_not_wait_for_it():
    time = SimulatedTime()
    pacer = KeyPacer(1000, clock=time.clock, sleep=time.sleep)

    for _ in range(4):
        pacer.wait("bucket-0", 25)  # 100 items of one key: 0.1 s at 1,000 a second
    pacer.wait("bucket-1", 25)  # another key: at once

    assert time.slept == pytest.approx([0.025, 0.025, 0.025])
    assert time.now == pytest.approx(100.075)


def test_a_throttled_key_slows_down_by_half_and_recovers_step_by_step():
    time = SimulatedTime()
    pacer = KeyPacer(1000, clock=time.clock, sleep=time.sleep)
    pacer.wait("bucket-0", 25)
    pacer.taken("bucket-0", 25, refused=10)  # DynamoDB left some unprocessed: 500 a second

    pacer.wait("bucket-0", 25)  # still at the former pace: reserved before the answer
    pacer.wait("bucket-0", 25)  # now 25 items take 0.05 s
    pacer.taken("bucket-0", 25, refused=0)  # taken whole: 525 a second
    pacer.wait("bucket-0", 25)

    pacer.wait("bucket-0", 25)

    # the third wait is what was reserved before the answer; the last one, 25 items at 525
    assert time.slept == pytest.approx([0.025, 0.05, 0.05, 25 / 525])
