"""Lambda's DynamoDB event source mapping, played locally.

moto keeps DynamoDB streams but runs event source mappings only in Docker, so the local stack
polls each function's streams itself. Everything comes from the function's ``Type: DynamoDB``
event in the template (batch size, filters, retries, bisection, record age, the on-failure
queue), and the function sees the event Lambda would deliver: ``{"Records": [...]}`` with
``eventSourceARN``, ``eventVersion`` 1.1 and ``ApproximateCreationDateTime`` in epoch seconds,
none of which moto's raw records have.

A poller runs on a daemon thread (``start()`` / ``stop()``) or, in tests, one ``poll_once()``
at a time.
"""

from __future__ import annotations

import json
import logging
import operator
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config

from cardmaker_cli.stream_records import StreamRecord, lambda_record
from local.http_api import Invocable
from local.template import ACCOUNT, REGION, StreamSource

PAGE_LIMIT = 1000  # GetRecords' maximum
POLL_INTERVAL = 0.05
# Lambda polls a shard four times a second; idle pollers slow down to that. Besides, moto keeps
# every shard iterator it ever hands out (about 1.5 KB each), so polling fast forever leaks.
MAX_IDLE_INTERVAL = 0.25
# Lambda polls a shard four times a second, busy or idle: a reader's reads begin at least
# this far apart, however often invocations wake it (every read is a GetRecords per shard,
# answered by the moto that serves the functions, on the same CPU: reading after every
# invocation cost more than half of an e-voucher's calls). Someone waiting for the stream to
# drain (``wait_caught_up``) is not kept waiting for it; a full page is read on at once.
READ_SPACING = 0.25
RETRY_DELAY = 0.05
MAX_RETRY_DELAY = 1.0
SHARD_REFRESH_SECONDS = 1.0
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
RESPONSE_TYPES = ("ReportBatchItemFailures",)

_log = logging.getLogger(__name__)


class StreamMappingError(ValueError):
    """The template asks for an event source mapping the local poller will not play."""


# --- settings -----------------------------------------------------------------------------

_HANDLED = frozenset(
    {
        "Stream",
        "StartingPosition",
        "BatchSize",
        "FilterCriteria",
        "FunctionResponseTypes",
        "MaximumRetryAttempts",
        "BisectBatchOnFunctionError",
        "MaximumRecordAgeInSeconds",
        "DestinationConfig",
        "Enabled",
    }
)
# They change throughput, latency or encryption at rest, never which records a function sees
# nor what happens when it fails: safe to ignore locally.
_IGNORED = frozenset(
    {"ParallelizationFactor", "MaximumBatchingWindowInSeconds", "KmsKeyArn", "MetricsConfig"}
)


@dataclass(frozen=True)
class MappingSettings:
    """A ``Type: DynamoDB`` event's properties, checked and normalised."""

    batch_size: int
    starting_position: str
    filters: tuple[EventPattern, ...]
    report_item_failures: bool
    max_retries: int
    bisect: bool
    max_record_age: int | None  # seconds; None: no limit
    on_failure_arn: str | None


def mapping_settings(properties: Mapping[str, Any]) -> MappingSettings:
    """Check a stream event's properties; raise ``StreamMappingError`` for anything the local
    poller would play differently from Lambda, and for unbounded retries."""
    unknown = set(properties) - _HANDLED - _IGNORED
    if unknown:
        raise StreamMappingError(f"unsupported stream event properties: {sorted(unknown)}")
    if not _boolean(properties.get("Enabled", True), "Enabled"):
        raise StreamMappingError("Enabled: false is not supported by the local stream poller")
    return MappingSettings(
        batch_size=_integer(properties.get("BatchSize", 100), "BatchSize", 1, 10_000),
        starting_position=_starting_position(properties.get("StartingPosition")),
        filters=_filters(properties.get("FilterCriteria")),
        report_item_failures=_response_types(properties.get("FunctionResponseTypes", [])),
        max_retries=_max_retries(properties.get("MaximumRetryAttempts")),
        bisect=_boolean(
            properties.get("BisectBatchOnFunctionError", False), "BisectBatchOnFunctionError"
        ),
        max_record_age=_max_record_age(properties.get("MaximumRecordAgeInSeconds", -1)),
        on_failure_arn=_on_failure(properties.get("DestinationConfig")),
    )


def _integer(value: Any, name: str, low: int, high: int) -> int:
    # Values from a Number parameter arrive as strings.
    try:
        if isinstance(value, bool):
            raise TypeError
        number = int(value)
    except (TypeError, ValueError):
        raise StreamMappingError(f"{name} must be an integer, not {value!r}") from None
    if not low <= number <= high:
        raise StreamMappingError(f"{name} must be between {low} and {high}, not {number}")
    return number


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise StreamMappingError(f"{name} must be true or false, not {value!r}")


def _starting_position(value: Any) -> str:
    if value not in STARTING_POSITIONS:
        raise StreamMappingError(
            f"StartingPosition must be one of {STARTING_POSITIONS} for DynamoDB, not {value!r}"
        )
    return value


def _response_types(value: Any) -> bool:
    if not isinstance(value, list) or set(value) - set(RESPONSE_TYPES):
        raise StreamMappingError(f"FunctionResponseTypes must list only {RESPONSE_TYPES}")
    return "ReportBatchItemFailures" in value


def _max_retries(value: Any) -> int:
    if value is None or str(value).strip() == "-1":
        # Lambda's default retries a failing batch until its records expire (a day), holding
        # up the shard all along: the template must always say how many times.
        raise StreamMappingError(
            "MaximumRetryAttempts must be set to a bound (0 to 10000): without one Lambda "
            "retries a failing batch until its records expire"
        )
    return _integer(value, "MaximumRetryAttempts", 0, 10_000)


def _max_record_age(value: Any) -> int | None:
    if str(value).strip() == "-1":
        return None
    return _integer(value, "MaximumRecordAgeInSeconds", 60, 604_800)


def _on_failure(config: Any) -> str | None:
    if not config:
        return None
    destination = (config.get("OnFailure") or {}).get("Destination")
    if not isinstance(destination, str) or not destination.startswith("arn:aws:sqs:"):
        raise StreamMappingError(
            f"only SQS on-failure destinations are supported locally, not {destination!r}"
        )
    return destination


def _filters(criteria: Any) -> tuple[EventPattern, ...]:
    if not criteria:
        return ()
    filters = criteria.get("Filters") or []
    if not all(isinstance(item, dict) for item in filters):
        raise StreamMappingError("FilterCriteria.Filters must be a list of {Pattern: ...}")
    return tuple(EventPattern.parse(item.get("Pattern")) for item in filters)


# --- event filtering --------------------------------------------------------------------

_NUMERIC = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_OPERATORS = ("exists", "prefix", "anything-but", "numeric")
_ABSENT = object()

Path = tuple[str, ...]


@dataclass(frozen=True)
class EventPattern:
    """One ``FilterCriteria`` pattern, matched as Lambda's event filtering does.

    Supported: nested objects, lists of exact values (strings, numbers, null), ``exists``,
    ``prefix``, ``anything-but`` (values only) and ``numeric``. Like EventBridge, matching
    works on leaf paths: a field holding an object is not a value (``exists: true`` on it does
    not match), and a list in the record matches when any of its items does. A DynamoDB
    ``{"N": "5"}`` is a string, so ``numeric`` never matches it (as on AWS).
    """

    leaves: tuple[tuple[Path, tuple[Any, ...]], ...]

    @classmethod
    def parse(cls, pattern: Any) -> EventPattern:
        """A pattern from its JSON text (or an already decoded object)."""
        if isinstance(pattern, str):
            try:
                pattern = json.loads(pattern)
            except json.JSONDecodeError as error:
                raise StreamMappingError(f"filter pattern is not JSON: {error}") from None
        if not isinstance(pattern, dict) or not pattern:
            raise StreamMappingError("a filter pattern must be a non-empty JSON object")
        return cls(tuple(_pattern_leaves(pattern, ())))

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether a Lambda-shaped record passes this pattern."""
        return all(
            any(_matcher_matches(matcher, _values_at(record, path)) for matcher in matchers)
            for path, matchers in self.leaves
        )


def passes(filters: Sequence[EventPattern], record: Mapping[str, Any]) -> bool:
    """Lambda's rule: no filters lets everything through, several are OR-ed."""
    return not filters or any(pattern.matches(record) for pattern in filters)


def _pattern_leaves(pattern: Mapping[str, Any], path: Path) -> Iterator[tuple[Path, tuple]]:
    for key, value in pattern.items():
        here = (*path, key)
        where = ".".join(here)
        if key.startswith("$"):
            raise StreamMappingError(f"unsupported filter operator {key!r} at {where}")
        if isinstance(value, dict):
            if not value:
                raise StreamMappingError(f"empty object in filter pattern at {where}")
            yield from _pattern_leaves(value, here)
        elif isinstance(value, list) and value:
            for matcher in value:
                _check_matcher(matcher, where)
            yield here, tuple(value)
        else:
            raise StreamMappingError(
                f"filter values must be a non-empty array, at {where}: {value!r}"
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_exact(value: Any) -> bool:
    return value is None or isinstance(value, str) or _is_number(value)


def _check_matcher(matcher: Any, where: str) -> None:
    if _is_exact(matcher):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise StreamMappingError(f"unsupported filter value at {where}: {matcher!r}")
    ((name, argument),) = matcher.items()
    checks: dict[str, Callable[[Any], bool]] = {
        "exists": lambda a: isinstance(a, bool),
        "prefix": lambda a: isinstance(a, str),
        "anything-but": _anything_but_argument,
        "numeric": _numeric_argument,
    }
    if name not in checks:
        raise StreamMappingError(
            f"unsupported filter operator {name!r} at {where} (supported: {_OPERATORS})"
        )
    if not checks[name](argument):
        raise StreamMappingError(
            f"unsupported {name!r} argument in filter pattern at {where}: {argument!r}"
        )


def _anything_but_argument(argument: Any) -> bool:
    values = argument if isinstance(argument, list) else [argument]
    return bool(values) and all(isinstance(v, str) or _is_number(v) for v in values)


def _numeric_argument(argument: Any) -> bool:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        return False
    pairs = zip(argument[::2], argument[1::2], strict=True)
    return all(op in _NUMERIC and _is_number(bound) for op, bound in pairs)


def _values_at(record: Any, path: Path) -> list[Any]:
    nodes = [record]
    for key in path:
        nodes = [
            item[key]
            for node in nodes
            for item in (node if isinstance(node, list) else [node])
            if isinstance(item, dict) and key in item
        ]
    return [value for node in nodes for value in _scalars(node)]


def _scalars(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return []
    if isinstance(node, list):
        return [value for item in node for value in _scalars(item)]
    return [node]


def _matcher_matches(matcher: Any, values: list[Any]) -> bool:
    if not isinstance(matcher, dict):
        return any(_same(value, matcher) for value in values)
    ((name, argument),) = matcher.items()
    if name == "exists":
        return bool(values) == argument
    if name == "prefix":
        return any(isinstance(value, str) and value.startswith(argument) for value in values)
    if name == "anything-but":
        excluded = argument if isinstance(argument, list) else [argument]
        return any(
            _is_exact(value) and not any(_same(value, other) for other in excluded)
            for value in values
        )
    bounds = list(zip(argument[::2], argument[1::2], strict=True))
    return any(
        _is_number(value) and all(_NUMERIC[op](value, bound) for op, bound in bounds)
        for value in values
    )


def _same(value: Any, expected: Any) -> bool:
    if expected is None:
        return value is None
    if _is_number(expected):
        return _is_number(value) and value == expected
    return isinstance(value, str) and value == expected


# --- the reader -------------------------------------------------------------------------


@dataclass
class _ShardLog:
    """One shard as read so far: the records some follower has not settled yet."""

    shard_id: str
    parent_id: str | None
    iterator: str | None  # the next read; None once a closed shard has been read to its end
    records: list[dict[str, Any]] = field(default_factory=list)
    base: int = 0  # the position in the shard of records[0] (earlier ones are dropped)

    @property
    def end(self) -> int:
        return self.base + len(self.records)


@dataclass
class _Reading:
    """What the reader's waiters read; guarded by the reader's condition."""

    cycles: int = 0  # read cycles started
    last_drained: int = 0  # the last cycle that refreshed the shards and found nothing new
    drained_ends: dict[str, int] = field(default_factory=dict)  # shard ends at that cycle
    quiet: bool = False  # the last finished cycle found nothing new
    waiters: int = 0


class StreamReader:
    """Reads one stream for every event source mapping that follows it (``StreamPoller``):
    each shard once per cycle, whatever the number of mappings, each mapping then settling
    the records at its own pace from its own checkpoint.

    Reading once is what makes several mappings on one stream cheap locally (moto answers
    every GetRecords over HTTP, and four mappings on the orders stream read it four times);
    it changes nothing a function sees. The records every follower has settled are dropped.
    Reads run on a daemon thread while a follower's thread runs, or one ``read()`` at a time.
    """

    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        *,
        poll_interval: float = POLL_INTERVAL,
        read_spacing: float = READ_SPACING,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """``streams``: a DynamoDB Streams client (``streams_client``). ``read_spacing``:
        the least time from the start of a read to the next (unless one is awaited)."""
        self.stream_arn = stream_arn
        self.name = stream_arn.rsplit("/", 3)[-3] if stream_arn.count("/") >= 3 else stream_arn
        self._streams = streams
        self._poll_interval = poll_interval
        self._read_spacing = read_spacing
        self._log = log or _log.info
        self._shards: dict[str, _ShardLog] = {}
        self._followers: list[StreamPoller] = []
        self._running: set[int] = set()  # ids of the followers whose threads run
        self._refreshed_at = 0.0
        self._primed = False
        self._read_lock = threading.Lock()
        # One condition for the reader and its followers: records read, records settled.
        self.state = threading.Condition()
        self._reading = _Reading()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, follower: StreamPoller) -> None:
        with self.state:
            self._followers.append(follower)

    def wake(self) -> None:
        """Read now rather than after the idle wait (something was written, or is awaited)."""
        self._wake.set()

    # --- what followers read (with ``state`` held) ----------------------------------------

    def shards(self) -> list[_ShardLog]:
        return list(self._shards.values())

    def shard(self, shard_id: str) -> _ShardLog | None:
        return self._shards.get(shard_id)

    @property
    def quiet(self) -> bool:
        return self._reading.quiet

    def drained_since(self, target: int) -> dict[str, int] | None:
        """The shard ends of a cycle numbered ``target`` or later that found nothing new."""
        if self._reading.last_drained < target:
            return None
        return self._reading.drained_ends

    def settled(self) -> None:
        """A follower moved its checkpoint: drop what every follower has settled."""
        for shard in self._shards.values():
            lowest = min(
                (follower.checkpoint(shard) for follower in self._followers), default=shard.end
            )
            if lowest > shard.base:
                del shard.records[: lowest - shard.base]
                shard.base = lowest
        self.state.notify_all()

    # --- reading --------------------------------------------------------------------------

    def prime(self) -> None:
        """Find the shards (once), positioned at their trim horizon."""
        with self._read_lock:
            if not self._primed:
                self._refresh_shards()
                self._primed = True

    def request_cycle(self) -> int:
        """Ask for a cycle that refreshes the shards; returns its number (``state`` held)."""
        self._reading.waiters += 1
        self._wake.set()
        return self._reading.cycles + 1

    def done_waiting(self) -> None:
        self._reading.waiters -= 1

    def read(self, *, refresh: bool) -> int:
        """Read every shard to its current end once; return how many records were new."""
        with self._read_lock:
            with self.state:
                self._reading.cycles += 1
                number = self._reading.cycles
                refresh = refresh or self._reading.waiters > 0
            if not self._primed:
                self._refresh_shards()
                self._primed = True
            elif refresh:
                self._refresh_shards()
            new = self._read_shards()
            with self.state:
                self._reading.quiet = new == 0
                if new == 0 and refresh:
                    self._reading.last_drained = number
                    self._reading.drained_ends = {
                        shard.shard_id: shard.end for shard in self._shards.values()
                    }
                self.state.notify_all()
            return new

    def _refresh_shards(self) -> None:
        # Shards that appear later (a split) are read from their start, after their parent,
        # as Lambda does. Followers position themselves (StartingPosition) in what was read.
        for description in self._describe_shards():
            shard_id = description["ShardId"]
            if shard_id in self._shards:
                continue
            iterator = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            with self.state:
                self._shards[shard_id] = _ShardLog(
                    shard_id, description.get("ParentShardId"), iterator
                )
        self._refreshed_at = time.monotonic()

    def _describe_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    def _read_shards(self) -> int:
        # A child shard becomes readable once its parent is read to its end, possibly in
        # this very cycle.
        new = 0
        read: set[str] = set()
        parents = {shard.parent_id for shard in self._shards.values()}
        while ready := [
            shard
            for shard in self._shards.values()
            if shard.iterator is not None
            and shard.shard_id not in read
            and parent_finished(self._shards, shard)
        ]:
            for shard in ready:
                new += self._read(shard, closed=shard.shard_id in parents)
                read.add(shard.shard_id)
        return new

    def _read(self, shard: _ShardLog, *, closed: bool) -> int:
        """One GetRecords, as Lambda's poller makes per shard and poll, and more while pages
        come back full; a closed shard (a split's parent) is read to its end, so that its
        children follow in the same cycle."""
        new = 0
        while shard.iterator is not None and not self._stopping.is_set():
            page = self._streams.get_records(ShardIterator=shard.iterator, Limit=PAGE_LIMIT)
            records = page.get("Records", [])
            with self.state:
                shard.records.extend(records)
                shard.iterator = page.get("NextShardIterator")
                if records:
                    self.state.notify_all()
            new += len(records)
            if not records or (len(records) < PAGE_LIMIT and not closed):
                break
        return new

    # --- the thread -----------------------------------------------------------------------

    def start(self, follower: StreamPoller) -> None:
        """Read on a daemon thread while at least one follower's thread runs."""
        with self.state:
            self._running.add(id(follower))
            if self._thread is not None:
                return
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"shards-{self.name}", daemon=True
            )
            self._thread.start()

    def stop(self, follower: StreamPoller | None = None, timeout: float = 10.0) -> None:
        """A follower's thread stopped (None: all of them); the last one stops the reading."""
        with self.state:
            if follower is None:
                self._running.clear()
            else:
                self._running.discard(id(follower))
            thread = self._thread
            if thread is None or self._running:
                return
            self._stopping.set()
            self._wake.set()
        thread.join(timeout)
        with self.state:
            self._thread = None
            self.state.notify_all()

    def _run(self) -> None:
        interval = self._poll_interval
        failing = ""  # the error reading fails with, logged once until it recovers
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                refresh = started - self._refreshed_at >= SHARD_REFRESH_SECONDS
                new = self.read(refresh=refresh)
                failing = ""
            except Exception as error:  # keep reading: a passing fault must not end it
                if type(error).__name__ != failing:
                    failing = type(error).__name__
                    self._log(f"[stream] {self.name}: reading failed\n{error_trace(error)}")
                new = 0
                interval = MAX_IDLE_INTERVAL
            self._wait_spacing(started + self._read_spacing)
            if new:
                interval = self._poll_interval
                continue
            remaining = started + interval - time.monotonic()
            if remaining > 0:
                self._wake.wait(remaining)
            self._wake.clear()
            interval = min(interval * 2, MAX_IDLE_INTERVAL)

    def _wait_spacing(self, until: float) -> None:
        # Wakes from invocations are absorbed: the read at ``until`` sees their writes.
        while not self._stopping.is_set():
            remaining = until - time.monotonic()
            with self.state:
                if remaining <= 0 or self._reading.waiters > 0:
                    return
            self._wake.wait(remaining)
            self._wake.clear()


def parent_finished(shards: Mapping[str, _ShardLog], shard: _ShardLog) -> bool:
    """Whether a shard's parent (if still known) was read to its end."""
    parent = shards.get(shard.parent_id or "")
    return parent is None or parent.iterator is None


# --- the poller -------------------------------------------------------------------------


@dataclass
class _Batch:
    """Records of one shard on their way to the function, with their failure history."""

    shard_id: str
    records: list[StreamRecord]
    retries: int = 0
    invocations: int = 0
    function_error: bool = False


@dataclass(frozen=True)
class _Outcome:
    done: bool
    function_error: bool = False
    retry_from: int = 0  # index of the first record to retry
    note: str = "ok"


def streams_client(session: Any, endpoint_url: str | None = None) -> Any:
    """A DynamoDB Streams client for moto. Recent botocore sends Streams calls to account-based
    endpoints (``<account>.streams-ddb...``), which moto's in-process mock does not route."""
    return session.client(
        "dynamodbstreams",
        region_name=REGION,
        endpoint_url=endpoint_url,
        config=Config(account_id_endpoint_mode="disabled"),
    )


@dataclass
class _Progress:
    """What ``wait_caught_up`` and ``idle`` read; guarded by the reader's condition."""

    consumed: int = 0  # records taken off the stream (delivered, given up or filtered out)
    delivering: bool = False  # records taken from the reader, not yet settled


class StreamPoller:
    """Plays Lambda's event source mapping for one function and one of its stream events.

    The stream is read by a ``StreamReader``, shared by the mappings that follow the stream
    (or one of the poller's own); the poller keeps its own checkpoint per shard and settles
    the records from there: its filters, batch size, retries, bisection, record age and
    on-failure queue.

    Batches run one at a time, whatever ``ParallelizationFactor`` says: the local function
    serializes its invocations anyway (one execution environment), and order per shard is
    then trivially kept.
    """

    def __init__(
        self,
        function: Invocable,
        source: StreamSource,
        *,
        streams: Any = None,
        sqs: Any,
        reader: StreamReader | None = None,
        retry_delay: float = RETRY_DELAY,
        poll_interval: float = POLL_INTERVAL,
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """``streams``: a DynamoDB Streams client (``streams_client``) for a reader of the
        poller's own, or ``reader``: the stream's reader, shared with the other mappings of
        the stream. ``sqs``: an SQS client for the on-failure queue. ``retry_delay`` is the
        first retry's backoff (it doubles, up to a second). Raises ``StreamMappingError`` if
        the event's settings cannot be played."""
        self.function = function
        self.source = source
        self.settings = mapping_settings(source.properties)
        self.name = f"{function.name}/{source.name}"
        self._log = log or _log.info
        if reader is not None and reader.stream_arn != source.stream_arn:
            raise StreamMappingError(f"{self.name}: the reader reads another stream")
        self._reader = reader or StreamReader(
            streams, source.stream_arn, poll_interval=poll_interval, log=self._log
        )
        self._sqs = sqs
        self._retry_delay = retry_delay
        self._clock = clock
        # shard -> the position of the first record not settled yet
        self._checkpoints: dict[str, int] = {}
        self._primed = False
        self._queue_url: str | None = None
        self._traced = False  # whether the batch being delivered had its traceback logged
        self._cycle_lock = threading.Lock()
        self._state = self._reader.state
        self._progress = _Progress()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader.follow(self)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Poll on a daemon thread until ``stop()``. Positions ``LATEST`` now, so records
        written after ``start()`` returns are delivered."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: the poller is already running")
        self._prime()
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.name}", daemon=True)
        self._thread.start()
        self._reader.start(self)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling: a retry's backoff is cut short, a batch in flight finishes first."""
        thread = self._thread
        if thread is None:
            return
        with self._state:
            self._stopping.set()
            self._state.notify_all()
        thread.join(timeout)
        if thread.is_alive():
            self._log(f"[stream] {self.name}: still busy after {timeout:g} s; left behind")
        self._reader.stop(self, timeout)
        with self._state:
            self._thread = None
            self._state.notify_all()
        self._stopping.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def idle(self) -> bool:
        """No batch in flight and the last poll found nothing new."""
        with self._state:
            return self._reader.quiet and not self._progress.delivering and not self._pending()

    @property
    def consumed(self) -> int:
        """Records taken off the stream so far (delivered, given up or filtered out)."""
        with self._state:
            return self._progress.consumed

    def checkpoint(self, shard: _ShardLog) -> int:
        """The position of the first record of ``shard`` not settled yet (``state`` held)."""
        return max(self._checkpoints.get(shard.shard_id, 0), shard.base)

    def poll_once(self) -> int:
        """Process every record available now, synchronously; return how many were taken off
        the stream. For tests without the thread."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: poll_once() while the poller's thread runs")
        with self._cycle_lock:
            self._prime()
            self._reader.read(refresh=True)
            return self._settle_pending()

    def wait_caught_up(self, timeout: float) -> bool:
        """True once a poll that began after this call found nothing new and this mapping
        settled everything it read: every record written before the call has been processed.
        False after ``timeout`` seconds."""
        with self._state:
            if self._thread is None:
                raise RuntimeError(f"{self.name}: the poller is not running")
            target = self._reader.request_cycle()
            try:
                self._state.wait_for(
                    lambda: self._caught_up(target) or self._thread is None, timeout
                )
                return self._caught_up(target)
            finally:
                self._reader.done_waiting()

    def wait_idle(self, timeout: float) -> None:
        """Block until caught up (see ``wait_caught_up``); ``TimeoutError`` after timeout."""
        if not self.wait_caught_up(timeout):
            raise TimeoutError(f"{self.name}: stream not drained within {timeout:g} s")

    def _caught_up(self, target: int) -> bool:
        # A drained cycle since the call, and everything it had read settled here.
        ends = self._reader.drained_since(target)
        if ends is None or self._progress.delivering:
            return False
        return all(
            (shard := self._reader.shard(shard_id)) is None or self.checkpoint(shard) >= end
            for shard_id, end in ends.items()
        )

    def _run(self) -> None:
        failing = ""  # the error settling fails with, logged once until it recovers
        while not self._stopping.is_set():
            with self._state:
                self._state.wait_for(lambda: self._stopping.is_set() or self._pending())
            if self._stopping.is_set():
                break
            try:
                self._settle_pending()
                failing = ""
            except Exception as error:  # keep polling: a passing fault must not end it
                if type(error).__name__ != failing:
                    failing = type(error).__name__
                    self._log(f"[stream] {self.name}: polling failed\n{error_trace(error)}")
                self._stopping.wait(MAX_IDLE_INTERVAL)

    # --- polling --------------------------------------------------------------------------

    def _prime(self) -> None:
        if self._primed:
            return
        if self.settings.on_failure_arn:
            self._queue_url = self._find_queue(self.settings.on_failure_arn)
        if self.settings.starting_position == "LATEST":
            # Everything written so far is read, then passed over.
            self._reader.read(refresh=True)
            with self._state:
                for shard in self._reader.shards():
                    self._checkpoints[shard.shard_id] = shard.end
                self._reader.settled()
        else:
            self._reader.prime()
        self._primed = True

    def _find_queue(self, arn: str) -> str:
        *_, account, name = arn.split(":")
        try:
            found = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
        except Exception as error:
            raise StreamMappingError(f"{self.name}: on-failure queue {arn} not found") from error
        return found["QueueUrl"]

    def _pending(self) -> bool:
        """Records read and not settled, in a shard this mapping may take from (``state``
        held)."""
        return bool(self._ready())

    def _ready(self) -> list[_ShardLog]:
        # A child shard is taken from once its parent is read to its end and settled.
        shards = {shard.shard_id: shard for shard in self._reader.shards()}
        return [
            shard
            for shard in shards.values()
            if self.checkpoint(shard) < shard.end and self._parent_settled(shards, shard)
        ]

    def _parent_settled(self, shards: Mapping[str, _ShardLog], shard: _ShardLog) -> bool:
        parent = shards.get(shard.parent_id or "")
        return parent is None or (parent.iterator is None and self.checkpoint(parent) >= parent.end)

    def _settle_pending(self) -> int:
        consumed = 0
        while not self._stopping.is_set():
            with self._state:
                ready = self._ready()
                if not ready:
                    break
                shard = ready[0]
                start = self.checkpoint(shard)
                page = shard.records[start - shard.base : start - shard.base + PAGE_LIMIT]
                self._progress.delivering = True
            try:
                self._process_page(shard.shard_id, page)
            finally:
                with self._state:
                    self._progress.delivering = False
                    self._state.notify_all()
            if self._stopping.is_set():
                break  # some records were not delivered: settle them again if restarted
            consumed += len(page)
            with self._state:
                self._checkpoints[shard.shard_id] = start + len(page)
                self._progress.consumed += len(page)
                self._reader.settled()
        return consumed

    def _process_page(self, shard_id: str, raw_records: list[dict[str, Any]]) -> None:
        # Records no filter matches are consumed, never delivered (as Lambda does).
        records = [lambda_record(raw, self.source.stream_arn) for raw in raw_records]
        wanted = [r for r in records if passes(self.settings.filters, r.event)]
        size = self.settings.batch_size
        for start in range(0, len(wanted), size):
            if self._stopping.is_set():
                return
            self._deliver(_Batch(shard_id, wanted[start : start + size]))

    # --- delivery -------------------------------------------------------------------------

    def _deliver(self, batch: _Batch) -> None:
        self._traced = False
        pending = deque([batch])
        while pending and not self._stopping.is_set():
            halves = self._settle(pending.popleft())
            pending.extendleft(reversed(halves))

    def _settle(self, batch: _Batch) -> list[_Batch]:
        """Invoke until the batch succeeds, is given up, or is bisected (its halves are
        returned, to be settled in order)."""
        while not self._stopping.is_set():
            if self._too_old(batch):
                self._give_up(batch, "RecordAgeExceeded")
                return []
            outcome = self._invoke(batch)
            if outcome.done:
                return []
            batch.function_error = outcome.function_error
            # Only a function error bisects: batchItemFailures already say where to resume.
            if outcome.function_error and self.settings.bisect and len(batch.records) > 1:
                return self._bisect(batch)
            batch.records = batch.records[outcome.retry_from :]
            if batch.retries >= self.settings.max_retries:
                self._give_up(batch, "RetryAttemptsExhausted")
                return []
            batch.retries += 1
            delay = min(self._retry_delay * 2 ** (batch.retries - 1), MAX_RETRY_DELAY)
            self._stopping.wait(delay)
        return []

    def _bisect(self, batch: _Batch) -> list[_Batch]:
        # AWS: "Splitting batches doesn't consume the retry quota". So a split adds no retry,
        # and each half starts with the retries its parent had used (none, unless a partial
        # failure came first): a poison record is then invoked alone 1 + MaximumRetryAttempts
        # times before it is given up, whatever the batch it arrived in.
        middle = len(batch.records) // 2
        self._log(
            f"[stream] {self.name}: function error; bisecting {len(batch.records)} records "
            f"into {middle} + {len(batch.records) - middle}"
        )
        return [
            _Batch(batch.shard_id, batch.records[:middle], retries=batch.retries),
            _Batch(batch.shard_id, batch.records[middle:], retries=batch.retries),
        ]

    def _too_old(self, batch: _Batch) -> bool:
        limit = self.settings.max_record_age
        return limit is not None and self._clock() - batch.records[0].arrival > limit

    def _invoke(self, batch: _Batch) -> _Outcome:
        batch.invocations += 1
        size = len(batch.records)
        try:
            # Every invocation gets its own decoded JSON payload, and the answer travels
            # back as JSON too (an answer that cannot is a function error on Lambda).
            event = json.loads(json.dumps({"Records": [r.event for r in batch.records]}))
            answer = json.loads(json.dumps(self.function.invoke(event)))
        except Exception as error:
            self._log_function_error(size, error)
            return _Outcome(done=False, function_error=True, note="function error")
        outcome = self._judge(answer, batch.records)
        self._log(f"[stream] {self.name}: batch of {size} -> {outcome.note}")
        return outcome

    def _judge(self, answer: Any, records: Sequence[StreamRecord]) -> _Outcome:
        if not self.settings.report_item_failures or not isinstance(answer, dict):
            return _Outcome(done=True)
        failures = answer.get("batchItemFailures")
        if failures is None or failures == []:
            return _Outcome(done=True)
        positions = {record.sequence_number: index for index, record in enumerate(records)}
        found = [
            _failed_index(failure, positions)
            for failure in (failures if isinstance(failures, list) else [None])
        ]
        if None in found:
            # An empty, null or unknown itemIdentifier fails the whole batch (AWS's rule).
            return _Outcome(done=False, note="invalid batchItemFailures: whole batch failed")
        first = min(index for index in found if index is not None)
        return _Outcome(
            done=False, retry_from=first, note=f"{len(found)} failed, retrying from #{first + 1}"
        )

    def _log_function_error(self, size: int, error: Exception) -> None:
        # Where it failed, once per batch read off the stream (its retries and halves fail
        # alike).
        trace = ""
        if not self._traced:
            trace = "\n" + error_trace(error)
            self._traced = True
        self._log(
            f"[stream] {self.name}: batch of {size} -> function error {type(error).__name__}{trace}"
        )

    # --- giving up --------------------------------------------------------------------------

    def _give_up(self, batch: _Batch, condition: str) -> None:
        where = "discarded (no on-failure destination)"
        if self._queue_url is not None:
            try:
                self._sqs.send_message(
                    QueueUrl=self._queue_url,
                    MessageBody=json.dumps(self._failure_message(batch, condition)),
                )
                where = "sent to the on-failure queue"
            except Exception as error:
                where = f"lost: the on-failure queue refused it ({type(error).__name__})"
        self._log(
            f"[stream] {self.name}: gave up a batch of {len(batch.records)} ({condition}, "
            f"{batch.invocations} invocations); {where}"
        )

    def _failure_message(self, batch: _Batch, condition: str) -> dict[str, Any]:
        """The on-failure message Lambda sends for a stream batch: metadata, no records."""
        first, last = batch.records[0], batch.records[-1]
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if batch.function_error:
            response["functionError"] = "Unhandled"
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function.name}",
                "condition": condition,
                "approximateInvokeCount": batch.invocations,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": _iso(self._clock(), milliseconds=True),
            "DDBStreamBatchInfo": {
                "shardId": batch.shard_id,
                "startSequenceNumber": first.sequence_number,
                "endSequenceNumber": last.sequence_number,
                "approximateArrivalOfFirstRecord": _iso(first.arrival),
                "approximateArrivalOfLastRecord": _iso(last.arrival),
                "batchSize": len(batch.records),
                "streamArn": self.source.stream_arn,
            },
        }


def _failed_index(failure: Any, positions: Mapping[str, int]) -> int | None:
    identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
    return positions.get(identifier) if isinstance(identifier, str) else None


def error_trace(error: BaseException) -> str:
    """The types and frames of an error, of its causes and of the record handler's first
    error inside Powertools' ``BatchProcessingError``; never their messages, which may quote
    the records (pydantic's do), and records hold order data."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < 5:
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"{type(current).__name__}, raised at:\n{frames}")
        current = _first_child(current) or current.__cause__ or current.__context__
    return "".join(parts)


def _first_child(error: BaseException) -> BaseException | None:
    for child in getattr(error, "child_exceptions", None) or []:
        if isinstance(child, tuple) and len(child) == 3 and isinstance(child[1], BaseException):
            return child[1]
    return None


def _iso(epoch: float, *, milliseconds: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if milliseconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
