"""The card writer against the cards table (moto): a partition key (a bucket of 1,000
positions) takes 1,000 writes a second on DynamoDB, so the writer never offers one more."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Any

from cardmaker import CardBatch, DynamoDBCardRepository, OrderKey

ORDER = OrderKey("daily", 16003)
BUCKETS = 3
PER_BUCKET = 300  # three parts of 100 per bucket
KEY_RATE = 1000  # items a second a bucket takes
PART = 100  # items per writer task: what may go at once


class WatchedWrites:
    """The real (moto) client, with each BatchWriteItem's partition keys, time and size noted,
    and how many calls of each key were in flight at once."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()
        self.sent: dict[str, list[tuple[float, int]]] = defaultdict(list)

    def batch_write_item(self, **kwargs: Any) -> Any:
        (requests,) = kwargs["RequestItems"].values()
        keys = {request["PutRequest"]["Item"]["pk"]["S"] for request in requests}
        with self._lock:
            for key in keys:
                self._in_flight[key] += 1
                self.most_in_flight[key] = max(self.most_in_flight[key], self._in_flight[key])
                self.sent[key].append((time.monotonic(), len(requests)))
        try:
            return self._real.batch_write_item(**kwargs)
        finally:
            with self._lock:
                for key in keys:
                    self._in_flight[key] -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def batches() -> list[CardBatch]:
    """Three buckets' first 300 positions, in batches of 150 as the generator makes them."""
    made = []
    for bucket in range(BUCKETS):
        for start in range(bucket * 1000, bucket * 1000 + PER_BUCKET, 150):
            made.append(
                CardBatch(
                    order=ORDER,
                    template_no="T1",
                    par_value="100",
                    chunk_id="1.0",
                    first_position=start,
                    card_numbers=[f"{3101 * 10**15 + n}" for n in range(start, start + 150)],
                    sealed_secrets=[bytes(44)] * 150,
                    created_at="2026-11-30T18:00:00.000+00:00",
                )
            )
    return made


def test_the_writer_paces_each_bucket_and_never_has_two_of_its_calls_in_flight(stack, dynamodb):
    table = stack.physical["CardsTable"]
    watched = WatchedWrites(dynamodb)
    store = DynamoDBCardRepository(table, watched)  # type: ignore[arg-type]

    written = store.write_cards(batches())

    assert written == BUCKETS * PER_BUCKET
    assert len(watched.sent) == BUCKETS
    # one call of a bucket at a time (8 writers on one key were 8 calls at once)
    assert set(watched.most_in_flight.values()) == {1}
    # and no bucket offered more than its rate: by any time t after its first call, at most a
    # part plus KEY_RATE a second (20 ms of slack for the threads' own start-up)
    for key, sends in watched.sent.items():
        first = sends[0][0]
        total = 0
        for at, items in sorted(sends):
            total += items
            assert total <= PART + KEY_RATE * (at - first + 0.02), (key, total, at - first)
    # every card written once, at its position
    for bucket in range(BUCKETS):
        positions = range(bucket * 1000, bucket * 1000 + PER_BUCKET)
        cards = store.read_cards(ORDER, "T1", positions)
        assert [card.position for card in cards] == list(positions)
