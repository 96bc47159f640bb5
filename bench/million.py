"""A million cards on AWS, in simulation: how long does a 1,000,000-card order take to
generate on a new on-demand cards table, and on one pre-warmed with warm throughput?

The real planner and generator (``CardGenerator.plan`` / ``generate``, the real card store
``DynamoDBCardRepository`` with its eight writers, ``card_items`` and ``batch_write``'s
backoff) write to ``SimulatedDynamoDB``, a stand-in for the DynamoDB client that enforces
AWS's limits in simulated time (nothing sleeps; the model and its sources are in
docs/design.md, "A million cards on AWS"):

* every physical partition takes at most 1,000 write units a second (3,000 read units);
* the table takes at most its ceiling: a new on-demand table 4,000 write units a second
  (double its initial "previous peak" of 2,000), doubling at most once per 30 minutes of
  traffic at the ceiling; a pre-warmed table its warm throughput at once, with a partition per
  1,000 write units of it;
* what a second has no room for is answered as ``UnprocessedItems`` (the caller retries it,
  as ``batch_write`` does, with its full-jitter backoff advancing simulated time);
* chunks run as Lambda runs them: the generator's stream mapping (``ParallelizationFactor``
  from template.yaml) times the orders stream's shards, one chunk per invocation
  (``BatchSize`` 1); a chunk that fails is retried by the stream, and after the generator's
  ``max_attempts`` the order fails.

Printed: ``million_card_order_new_table_s``, ``million_card_order_prewarmed_s`` (goal <= 60)
and ``hottest_partition_load_ratio`` (pre-warmed: the busiest partition's write units
offered in its busiest second, throttled ones included, over its 1,000; goal <= 1.0).
"""

from __future__ import annotations

import hashlib
import heapq
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bench.goals import Goal, report
from cardmaker import (
    CardGenerator,
    CardOrderMakeRequest,
    DynamoDBCardRepository,
    Order,
    OrderKey,
    OrderStatus,
    StoredOrder,
)
from cardmaker.cards.keys import DataKey
from cardmaker.cards.numbering import CardNumberer, CardNumberScheme
from cardmaker.generation.plan import Chunk, ChunkProgress
from cardmaker.store import cards as card_store
from cardmaker_cli.samples import sample_order
from local.template import load_template

CARDS = 1_000_000
TEMPLATES = 100  # of 10,000 cards: 200 chunks of 5,000
CHUNK_SIZE = 5000  # the generator's CHUNK_SIZE in template.yaml
PARTITION_WRITE_UNITS = 1000  # per physical partition per second
PARTITION_READ_UNITS = 3000
NEW_TABLE_PREVIOUS_PEAK = 2000  # write units: a new on-demand table starts at double this
DOUBLING_AFTER_S = (
    1800.0  # "throttling can occur if you exceed double your previous peak within 30 minutes"
)
ORDERS_STREAM_SHARDS = 4  # a new on-demand orders table: 4,000 WCU / 1,000 a partition
WARM_WRITE_UNITS = 40_000  # the template's CardsTableWarmWrites when pre-warming
WARM_READ_UNITS = 12_000
BATCH_WRITE_LATENCY_S = 0.015  # one BatchWriteItem round trip from Lambda
SMALL_CALL_S = 0.005  # GetItem / UpdateItem round trip
KMS_CALL_S = 0.015  # GenerateDataKey
CPU_PER_CARD_S = 4e-6  # numbers + secrets + sealing on a 1 GB Lambda (about 0.6 of a core)
STREAM_POLL_S = 0.25  # Lambda polls a shard about 4 times a second
TIME_GOAL = Goal("million_card_order_prewarmed_s", "<=", 60)
PARTITION_GOAL = Goal("hottest_partition_load_ratio", "<=", 1.0)


class Timeline:
    """The simulated clock of one invocation: its own, and while the card store's writers run
    (``SimulatedWriters``), one per writer, each moved on by its own calls and backoff waits."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.lanes: list[float] = []
        self.lane: int | None = None  # the writer whose call is being made

    def take(self, seconds: float) -> float:
        """Advance the clock of whoever calls by ``seconds``; return the time the step began."""
        if self.lane is None:
            began = self.now
            self.now += seconds
            return began
        began = self.lanes[self.lane]
        self.lanes[self.lane] += seconds
        return began

    def clock(self) -> float:
        """The time of whoever calls: the writer whose call is being made, or the invocation."""
        return self.now if self.lane is None else self.lanes[self.lane]


class SimulatedWriters:
    """Stands in for the card store's ``ThreadPoolExecutor``: each part goes to the writer
    that is free first in simulated time, and runs there to its end (its retries included),
    so ``writers`` calls are in flight at once as on Lambda, in one thread, deterministically."""

    timeline: Timeline  # the invocation running now (set by ``simulate``)

    def __init__(self, max_workers: int, thread_name_prefix: str = "") -> None:
        self._writers = max_workers

    def __enter__(self) -> SimulatedWriters:
        self.timeline.lanes = [self.timeline.now] * self._writers
        return self

    def __exit__(self, *exc_info: object) -> None:
        timeline = self.timeline
        timeline.now, timeline.lanes, timeline.lane = max(timeline.lanes), [], None

    def submit(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        timeline = self.timeline
        timeline.lane = min(range(self._writers), key=timeline.lanes.__getitem__)
        done: Future[Any] = Future()
        try:
            done.set_result(work(*args, **kwargs))
        except Exception as error:
            done.set_exception(error)
        finally:
            timeline.lane = None
        return done


@dataclass
class TableModel:
    """A table's write limits: its partitions and its ceiling over time."""

    partitions: int
    ceiling: int  # write units a second, now
    doubles: bool  # on-demand growth (a new table), or fixed (warm throughput)
    at_ceiling_since: float | None = None

    @classmethod
    def new_on_demand(cls) -> TableModel:
        ceiling = 2 * NEW_TABLE_PREVIOUS_PEAK
        return cls(math.ceil(ceiling / PARTITION_WRITE_UNITS), ceiling, doubles=True)

    @classmethod
    def warm(cls, write_units: int, read_units: int) -> TableModel:
        partitions = max(
            math.ceil(write_units / PARTITION_WRITE_UNITS),
            math.ceil(read_units / PARTITION_READ_UNITS),
        )
        return cls(partitions, write_units, doubles=False)


@dataclass
class Ledger:
    """Write units used and offered, per second, per partition and for the table."""

    used: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    offered: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    table: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    throttled: int = 0
    accepted: int = 0


class SimulatedDynamoDB:
    """The calls the card store makes, answered as DynamoDB would under its limits. Card items
    are counted, not kept (a million of them would only cost memory)."""

    def __init__(self, model: TableModel) -> None:
        self.model = model
        self.ledger = Ledger()
        self.timeline = Timeline(0.0)
        self._partition_of: dict[str, int] = {}
        self._counters: dict[str, int] = defaultdict(int)
        self._chunk_keys: dict[str, tuple[bytes, int]] = {}

    def partition(self, partition_key: str) -> int:
        """DynamoDB hashes the partition key to a partition: md5 stands in for its hash."""
        found = self._partition_of.get(partition_key)
        if found is None:
            digest = hashlib.md5(partition_key.encode(), usedforsecurity=False).digest()
            found = int.from_bytes(digest[:8], "big") % self.model.partitions
            self._partition_of[partition_key] = found
        return found

    def sleep(self, seconds: float) -> None:
        """The store's backoff and pacing: one writer waits, the others go on."""
        self.timeline.take(seconds)

    def clock(self) -> float:
        """The store's clock (its writers' pacing), in simulated time."""
        return self.timeline.clock()

    def batch_write_item(self, RequestItems: Mapping[str, list[Any]]) -> dict[str, Any]:
        (table, requests), *others = RequestItems.items()
        if others or len(requests) > 25:
            raise ValueError("the card store writes one table, 25 items a call")
        at = self.timeline.take(BATCH_WRITE_LATENCY_S)
        second = int(at)
        unprocessed = []
        ceiling = self._ceiling(at, second)
        ledger = self.ledger
        for request in requests:
            item = request["PutRequest"]["Item"]
            units = write_units(item)
            part = self.partition(item["pk"]["S"])
            ledger.offered[second, part] += units
            if (
                ledger.used[second, part] + units > PARTITION_WRITE_UNITS
                or ledger.table[second] + units > ceiling
            ):
                unprocessed.append(request)
                ledger.throttled += 1
                continue
            ledger.used[second, part] += units
            ledger.table[second] += units
            ledger.accepted += 1
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}

    def _ceiling(self, at: float, second: int) -> int:
        """The table's ceiling at ``at``: on demand, it doubles (with a partition more per
        1,000 units) once traffic has pressed against it for ``DOUBLING_AFTER_S``."""
        model = self.model
        if model.doubles and self.ledger.table[second] >= model.ceiling:
            if model.at_ceiling_since is None:
                model.at_ceiling_since = at
            elif at - model.at_ceiling_since >= DOUBLING_AFTER_S:
                model.ceiling *= 2
                model.partitions = math.ceil(model.ceiling / PARTITION_WRITE_UNITS)
                model.at_ceiling_since = None
                self._partition_of.clear()  # a split moves keys to the new partitions
        return model.ceiling

    def update_item(self, **call: Any) -> dict[str, Any]:
        """The sequence counter, the numbering key check and the chunks' data keys."""
        self.timeline.take(SMALL_CALL_S)
        key = call["Key"]["pk"]["S"]
        values = call.get("ExpressionAttributeValues", {})
        if "next_sequence" in call["UpdateExpression"]:
            self._counters[key] += int(values[":count"]["N"])
            return {"Attributes": {"next_sequence": {"N": str(self._counters[key])}}}
        if "wrapped_key" in call["UpdateExpression"]:
            wrapped, attempts = self._chunk_keys.get(key, (values[":key"]["B"], 0))
            self._chunk_keys[key] = (wrapped, attempts + 1)
            return {
                "Attributes": {
                    "wrapped_key": {"B": wrapped},
                    "attempts": {"N": str(attempts + 1)},
                }
            }
        return {}  # the numbering key check: one key here


def write_units(item: Mapping[str, Any]) -> int:
    """Write units of a put: one per KB (rounded up) of attribute names and values."""
    size = 0
    for name, value in item.items():
        (typed,) = value.values()
        size += len(name) + (len(typed) if isinstance(typed, str | bytes) else 21)
    return -(-size // 1024)


class SimulatedOrders:
    """The orders table's part in generation (start, chunks, progress, counts), in memory, each
    call a round trip of simulated time: it is not what limits a big order."""

    def __init__(self, order: Order, clock: Callable[[], Timeline]) -> None:
        self._order = order
        self._clock = clock
        self._first: int | None = None
        self._done: set[str] = set()
        self._total = 0
        self.failed: str | None = None

    def _call(self) -> None:
        self._clock().take(SMALL_CALL_S)

    def get(self, key: OrderKey) -> StoredOrder | None:
        self._call()
        status = OrderStatus.RECEIVED if self._first is None else OrderStatus.GENERATING
        return StoredOrder(replace(self._order, status=status), datetime.now(UTC), {})

    def start(self, order: Order, first_sequence: int, chunk_size: int, chunks_total: int) -> bool:
        self._call()
        self._first, self._total = first_sequence, chunks_total
        return True

    def write_chunks(self, chunks: list[Chunk]) -> None:
        self._clock().take(SMALL_CALL_S * -(-len(chunks) // 25))

    def progress(self, key: OrderKey) -> ChunkProgress:
        self._call()
        status = OrderStatus.FAILED if self.failed else OrderStatus.GENERATING
        if len(self._done) == self._total:
            status = OrderStatus.GENERATED
        return ChunkProgress(status, frozenset(self._done), len(self._done), self._total)

    def count_chunk(self, chunk: Chunk) -> int | None:
        self._call()
        if chunk.chunk_id in self._done:
            return None
        self._done.add(chunk.chunk_id)
        return len(self._done)

    def finish(self, key: OrderKey) -> bool:
        self._call()
        return True

    def fail(self, key: OrderKey, reason: str) -> bool:
        self._call()
        self.failed = reason
        return True


class SimulatedKeys:
    """KMS's data keys: a fixed key (the simulation never opens a card), a round trip each."""

    def __init__(self, clock: Callable[[], Timeline]) -> None:
        self._clock = clock

    def new(self, context: Mapping[str, str]) -> DataKey:
        self._clock().take(KMS_CALL_S)
        return DataKey(
            plaintext=bytes(32), wrapped=b"wrapped:" + "/".join(context.values()).encode()
        )

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> DataKey:
        self._clock().take(KMS_CALL_S)
        return DataKey(plaintext=bytes(32), wrapped=wrapped)


@dataclass(frozen=True)
class Outcome:
    seconds: float  # from the order's stream record to its last chunk counted
    invocations: int
    timeouts: int
    failed: str | None
    ledger: Ledger
    partitions: int


def invocation_timeout() -> float:
    """The generator's ``Timeout``: an invocation past it is stopped and its record retried."""
    resources = load_template()["Resources"]
    return float(resources["CardGeneratorFunction"]["Properties"]["Timeout"])


def concurrency() -> int:
    """Chunk invocations at once: the generator's ParallelizationFactor per orders-stream
    shard (one chunk per invocation: BatchSize 1)."""
    resources = load_template()["Resources"]
    stream = resources["CardGeneratorFunction"]["Properties"]["Events"]["OrdersStream"]
    properties = stream["Properties"]
    if int(properties["BatchSize"]) != 1:
        raise ValueError("the simulation plays one chunk per invocation")
    return int(properties["ParallelizationFactor"]) * ORDERS_STREAM_SHARDS


def simulate(
    model: TableModel, max_attempts: int = 5, *, cards: int = CARDS, templates: int = TEMPLATES
) -> Outcome:
    """One order (a million cards unless told) through the real planner and generator
    against the stand-in."""
    dynamodb = SimulatedDynamoDB(model)
    clock = lambda: dynamodb.timeline  # noqa: E731 (the invocation running now)
    counts = [(f"T{index:03d}", cards // templates, "100") for index in range(templates)]
    request = CardOrderMakeRequest.model_validate(sample_order(9_000_001, templates=counts))
    order = Order.receive(request, datetime.now(UTC))
    orders = SimulatedOrders(order, clock)
    store = DynamoDBCardRepository(
        "cards",
        dynamodb,  # type: ignore[arg-type]
        sleep=dynamodb.sleep,
        clock=dynamodb.clock,
    )
    generator = CardGenerator(
        orders,
        store,
        CardNumberer(CardNumberScheme(), bytes(32)),
        SimulatedKeys(clock),
        chunk_size=CHUNK_SIZE,
        max_attempts=max_attempts,
    )
    # The store's writers, played in simulated time (the store's own code runs unchanged),
    # for this simulation only.
    threads = card_store.ThreadPoolExecutor  # type: ignore[attr-defined]
    card_store.ThreadPoolExecutor = SimulatedWriters  # type: ignore[attr-defined,assignment]
    try:
        return _run(generator, orders, dynamodb, order.key)
    finally:
        card_store.ThreadPoolExecutor = threads  # type: ignore[attr-defined]


def _run(
    generator: CardGenerator, orders: SimulatedOrders, dynamodb: SimulatedDynamoDB, key: OrderKey
) -> Outcome:
    """Plan the order, then run its chunks as the stream fans them out."""
    model = dynamodb.model
    dynamodb.timeline = Timeline(STREAM_POLL_S)  # the order's record: one invocation
    chunks = generator.plan(key).chunks
    planned = dynamodb.timeline.now
    slots = [(planned + STREAM_POLL_S, slot) for slot in range(concurrency())]
    heapq.heapify(slots)
    invocations, finished, timeouts = 0, planned, 0
    timeout = invocation_timeout()
    for chunk in chunks:
        free, slot = heapq.heappop(slots)
        while True:  # the stream retries a failed record in its place, in order
            invocations += 1
            dynamodb.timeline = Timeline(free + CPU_PER_CARD_S * chunk.count)
            SimulatedWriters.timeline = dynamodb.timeline
            try:
                generator.generate(chunk)
            except Exception:  # what the stream sees: the invocation failed
                free = min(dynamodb.timeline.now, free + timeout) + STREAM_POLL_S
                if orders.failed:
                    break
                continue
            if dynamodb.timeline.now - free > timeout:
                # Stopped at its timeout: its record comes again (the simulation ran it to its
                # end, so the retry finds the chunk counted; what a real retry rewrites is
                # not counted here).
                timeouts += 1
                free += timeout + STREAM_POLL_S
                continue
            break
        free = dynamodb.timeline.now
        finished = max(finished, free)
        heapq.heappush(slots, (free + STREAM_POLL_S, slot))
        if orders.failed:
            break
    return Outcome(
        finished, invocations, timeouts, orders.failed, dynamodb.ledger, model.partitions
    )


def hottest_partition_load(ledger: Ledger) -> float:
    """The busiest partition's write units offered in its busiest second, over its limit."""
    return max(ledger.offered.values(), default=0) / PARTITION_WRITE_UNITS


def describe(name: str, outcome: Outcome) -> str:
    ledger = outcome.ledger
    share = ledger.throttled / max(1, ledger.throttled + ledger.accepted)
    state = f"FAILED: {outcome.failed}" if outcome.failed else "GENERATED"
    return (
        f"  {name}: {outcome.partitions} partitions, {outcome.invocations} invocations"
        f" ({outcome.timeouts} timed out),"
        f" {ledger.accepted} cards written, {share:.0%} of write attempts throttled, {state}"
    )


def main() -> int:
    slots = concurrency()
    print(
        f"million: a {CARDS}-card order ({TEMPLATES} templates, chunks of {CHUNK_SIZE}) through"
        f" the real planner and generator, {slots} chunk invocations at once, simulated time"
    )
    new_table = simulate(TableModel.new_on_demand())
    prewarmed = simulate(TableModel.warm(WARM_WRITE_UNITS, WARM_READ_UNITS))
    print(describe("new on-demand table", new_table))
    print(describe(f"warm throughput {WARM_WRITE_UNITS} writes/s", prewarmed))
    hottest = hottest_partition_load(prewarmed.ledger)
    print(f"million_card_order_new_table_s={new_table.seconds:.0f}")
    print(f"million_card_order_prewarmed_s={prewarmed.seconds:.0f}  {TIME_GOAL.describe()}")
    print(f"hottest_partition_load_ratio={hottest:.2f}  {PARTITION_GOAL.describe()}")
    report((TIME_GOAL, prewarmed.seconds), (PARTITION_GOAL, hottest))
    return 1 if new_table.failed or prewarmed.failed else 0


if __name__ == "__main__":
    sys.exit(main())
