"""DynamoDB faults injected into a real client (moto's server behind it) through botocore's own
event hooks, so that botocore's retries and the store's own see them exactly as on AWS.

Kinds of fault:

- ``throttle`` / ``throttling``: a 400 ``ProvisionedThroughputExceededException`` /
  ``ThrottlingException`` before DynamoDB sees the request (nothing applied); botocore's
  standard retry mode backs off and tries again, up to its 5 attempts.
- ``conflict``: a 400 ``TransactionConflictException``, nothing applied: DynamoDB's answer to
  a single-item write while a transaction holds the item; botocore does not retry it: the
  caller's retry (the stream's, the platform's) does.
- ``cancelled``: a transaction (``TransactWriteItems``: a claim on a template's cards)
  cancelled, nothing applied, every item's reason ``TransactionConflict``: DynamoDB's answer
  when another transaction holds one of its items. The claim tries again itself.
- ``lost``: the request IS sent and applied (to moto's server, over HTTP), and its answer
  replaced by a 500 (an answer lost on the way back); botocore retries, and the retry meets
  its own write: conditions must resolve it.
- withholding: a share (or all) of a ``BatchWriteItem`` / ``BatchGetItem`` call's items never
  reaches DynamoDB and comes back as ``UnprocessedItems`` / ``UnprocessedKeys``.

Shared by ``tests/reliability/test_dynamodb_faults.py`` and ``chaos/dynamodb_faults.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
import botocore.endpoint
import urllib3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from cardmaker import retry

ERROR_CODES = {
    "throttle": (400, "ProvisionedThroughputExceededException"),
    "throttling": (400, "ThrottlingException"),
    "conflict": (400, "TransactionConflictException"),
    "cancelled": (400, "TransactionCanceledException"),
    "lost": (500, "InternalServerError"),
}
_HTTP = urllib3.PoolManager(maxsize=16)
BATCH_OPERATIONS = {"BatchWriteItem": "UnprocessedItems", "BatchGetItem": "UnprocessedKeys"}

# (operation, request parameters) -> a fault kind of ERROR_CODES for this HTTP attempt, or None
AttemptRule = Callable[[str, dict[str, Any]], str | None]
# (operation, request parameters) -> the share of a batch call's items to withhold (0: none)
WithholdRule = Callable[[str, dict[str, Any]], float]


class _RawBody:
    """The raw body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _error_body(code: str, params: dict[str, Any]) -> bytes:
    body: dict[str, Any] = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code}
    if code == "TransactionCanceledException":
        body["CancellationReasons"] = [
            {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
            for _ in params.get("TransactItems", ())
        ]
    return json.dumps(body).encode()


@dataclass
class _Answer:
    """The HTTP side of an answer given without asking DynamoDB (all items withheld)."""

    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class DynamoDBFaults:
    """Faults on one DynamoDB client (all the functions share one per process), or on every
    client a boto3 session creates from now on.

    ``attempts`` counts HTTP attempts per operation, ``faults`` the faults injected per kind,
    ``withheld`` the items answered as unprocessed."""

    def __init__(
        self,
        client: Any,
        on_attempt: AttemptRule | None = None,
        withhold: WithholdRule | None = None,
    ) -> None:
        self._on_attempt = on_attempt or (lambda _operation, _params: None)
        self._withhold = withhold or (lambda _operation, _params: 0.0)
        self._lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.withheld = 0
        self.calls_faulted = 0
        # A client, or a boto3 session: then every client it creates afterwards.
        events = client.events if isinstance(client, boto3.Session) else client.meta.events
        events.register_first("before-parameter-build.dynamodb", self._before_build)
        # botocore-stubs type handlers as returning None; these answer in botocore's place.
        events.register_first("before-call.dynamodb", self._before_call)  # type: ignore[arg-type]
        events.register_first("before-send.dynamodb", self._before_send)  # type: ignore[arg-type]
        events.register_first("after-call.dynamodb", self._after_call)

    # --- withholding batch items ----------------------------------------------------------

    def _before_build(self, params: dict[str, Any], model: Any, context: dict, **_: Any) -> None:
        operation = model.name
        if operation not in BATCH_OPERATIONS:
            return
        share = self._withhold(operation, params)
        if share <= 0:
            return
        withheld: dict[str, Any] = {}
        for table, requests in list(params["RequestItems"].items()):
            entries = requests["Keys"] if operation == "BatchGetItem" else requests
            cut = round(len(entries) * min(share, 1.0))
            if not cut:
                continue
            kept, held = entries[: len(entries) - cut], entries[len(entries) - cut :]
            if operation == "BatchGetItem":
                withheld[table] = {**requests, "Keys": held}
                requests["Keys"] = kept
                if not kept:
                    del params["RequestItems"][table]
            else:
                withheld[table] = held
                params["RequestItems"][table] = kept
                if not kept:
                    del params["RequestItems"][table]
        if not withheld:
            return
        context["cardmaker_withheld"] = withheld
        context["cardmaker_all_withheld"] = not params["RequestItems"]
        with self._lock:
            self.withheld += sum(
                len(held["Keys"] if operation == "BatchGetItem" else held)
                for held in withheld.values()
            )
            self.faults["withheld_call"] += 1
            self.calls_faulted += 1

    def _before_call(
        self, model: Any, context: dict, **_: Any
    ) -> tuple[_Answer, dict[str, Any]] | None:
        if not context.get("cardmaker_all_withheld"):
            return None
        # Everything withheld: DynamoDB would refuse an empty request, so answer here.
        return _Answer(), {BATCH_OPERATIONS[model.name]: {}}

    def _after_call(self, parsed: dict[str, Any], model: Any, context: dict, **_: Any) -> None:
        withheld = context.get("cardmaker_withheld")
        if not withheld:
            return
        key = BATCH_OPERATIONS[model.name]
        unprocessed = parsed.setdefault(key, {})
        for table, held in withheld.items():
            if model.name == "BatchGetItem":
                previous = unprocessed.get(table, {"Keys": []})
                unprocessed[table] = {**held, "Keys": previous["Keys"] + held["Keys"]}
            else:
                unprocessed[table] = unprocessed.get(table, []) + held

    # --- errors per HTTP attempt ----------------------------------------------------------

    def _before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        params = json.loads(request.body or b"{}")
        kind = self._on_attempt(operation, params)
        with self._lock:
            self.attempts[operation] += 1
            if kind is not None:
                self.faults[kind] += 1
                self.calls_faulted += 1
        if kind is None:
            return None
        if kind == "lost":
            # Delivered for real (DynamoDB applies it), then the answer goes missing.
            headers = {
                name: value.decode() if isinstance(value, bytes) else value
                for name, value in request.headers.items()
            }
            _HTTP.request(request.method, request.url, body=request.body, headers=headers)
        status, code = ERROR_CODES[kind]
        headers = {"x-amzn-ErrorType": code, "content-type": "application/x-amz-json-1.0"}
        return AWSResponse(
            request.url, status, HTTPHeaders.from_dict(headers), _RawBody(_error_body(code, params))
        )


@dataclass
class Backoffs:
    """The delays botocore's retries and the store's own retry rule asked for."""

    botocore: list[float] = field(default_factory=list)
    store: list[tuple[int, float]] = field(default_factory=list)  # (attempt, delay)


@contextmanager
def recorded_backoffs(scale: float = 0.0) -> Iterator[Backoffs]:
    """Record every backoff: botocore's (its endpoint sleeps between attempts; the sleep is
    ``scale`` times the asked delay, 0 in tests) and the store's (``cardmaker.retry``'s rule,
    used by the batch writers and readers and for writes DynamoDB did not apply, slept in
    full)."""
    recorded = Backoffs()

    class _Clock:
        """In place of the ``time`` module botocore's endpoint imported."""

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            recorded.botocore.append(seconds)
            time.sleep(seconds * scale)

    original = retry.backoff_delay

    def delay(attempt: int, base: float, cap: float) -> float:
        value = original(attempt, base, cap)
        recorded.store.append((attempt, value))
        return value

    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(botocore.endpoint, "time", _Clock()))
        # The one rule every store retry loop asks (``with_backoff``).
        patches.enter_context(mock.patch.object(retry, "backoff_delay", delay))
        yield recorded


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll ``check`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()
