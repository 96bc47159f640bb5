"""``python -m bench.evoucher_profile``: where the e-voucher pipeline's time goes, per e-voucher.

Runs ``bench.evoucher``'s pipeline (``BENCH_EVOUCHERS``, default 200 here) on a local stack
and reports:

- every AWS API call the process made while the e-vouchers went through, by the thread that
  made it (the HTTP API's request threads, each stream reader, each stream poller: the
  function it invokes), operation and table, per e-voucher, with its mean time;
- the process's CPU time over the run's wall time: everything here (moto's server, the HTTP
  API, the gateway, the functions) shares one interpreter, so a busy pipeline is CPU-bound
  on one core, and every AWS call costs CPU on both its sides.

A sampling profile (``sys._current_frames()``) was tried and dropped: a thread blocked in C
(a lock, a socket, ``time.sleep``) shows its Python caller as running, so it counted waits.

Not part of ``make bench`` (counting slows what it watches); the figures before
and after a change are kept in docs/design.md (E-voucher fulfilment: performance).
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from types import FrameType
from typing import Any

import botocore.client

from bench import evoucher
from local.stack import LocalStack


class ApiCalls:
    """Every botocore call of the process: count and seconds by (thread, operation, table)."""

    def __init__(self) -> None:
        self.count: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.seconds: dict[tuple[str, str, str], float] = collections.defaultdict(float)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return original(client, operation, params)
            finally:
                elapsed = time.perf_counter() - started
                key = (_thread_role(), operation, f"{_table(params)} {_caller()}")
                with self._lock:
                    self.count[key] += 1
                    self.seconds[key] += elapsed

        client_class: Any = botocore.client.BaseClient
        client_class._make_api_call = counted
        try:
            yield
        finally:
            client_class._make_api_call = original


def _thread_role() -> str:
    name = threading.current_thread().name
    for prefix in ("stream-", "shards-", "schedule-", "invoke-"):
        if name.startswith(prefix):
            return name
    return "http/bench" if not name.startswith("Thread-") else "http request"


def _caller() -> str:
    """The product code that made the call: its innermost frame in the layer or a function."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if "/cardmaker/" in path or "/functions/" in path:
            return f"<- {'/'.join(path.split('/')[-2:])}:{frame.f_code.co_name}"
        frame = frame.f_back
    return ""


def _table(params: dict[str, Any]) -> str:
    name = params.get("TableName") or params.get("StreamArn") or params.get("ShardIterator")
    if "TransactItems" in params:
        tables = {
            part.get("TableName", "")
            for item in params["TransactItems"]
            for part in item.values()
            if isinstance(part, dict)
        }
        name = "+".join(sorted(tables))
    if "RequestItems" in params:
        name = "+".join(sorted(params["RequestItems"]))
    if not isinstance(name, str):
        return ""
    if "/stream/" in name:  # a stream ARN: its table
        return name.split(":table/")[-1].split("/")[0] + " (stream)"
    if params.get("ShardIterator"):
        return "(a shard iterator)"
    return name.rsplit("-", 1)[0] if name.count("-") >= 2 else name


def main() -> int:
    count = int(os.environ.get("BENCH_EVOUCHERS", "200"))
    evoucher.COUNT = count
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    calls = ApiCalls()
    with (
        contextlib.redirect_stdout(io.StringIO()),
        LocalStack(
            port=0, log=io.StringIO(), access_log=False, log_level="ERROR",
            environment={"POWERTOOLS_METRICS_DISABLED": "true"},
        ) as stack,
        calls.installed(),
    ):  # fmt: skip
        started = time.perf_counter()
        cpu = time.process_time()
        seconds, _ = evoucher.pipeline(stack)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    print(f"profile: {count} e-vouchers through the pipeline in {seconds:.1f} s")
    print(f"  {count / seconds:.2f} /s; process CPU {cpu:.1f} s over {wall:.1f} s wall")
    print(f"  (wall and CPU include set-up: the stock order of {count} cards, the mapping)")
    print()
    print("AWS calls per e-voucher (thread, operation, table): calls, mean ms")
    total = 0
    for key, number in sorted(calls.count.items(), key=lambda item: -calls.seconds[item[0]]):
        total += number
        role, operation, table = key
        mean = calls.seconds[key] / number * 1000
        print(f"  {number / count:7.2f} {mean:7.1f}  {role:<44} {operation:<20} {table}")
    print(f"  {total / count:7.2f} calls per e-voucher in all (set-up included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
