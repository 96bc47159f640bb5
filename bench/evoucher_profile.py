"""``python -m bench.evoucher_profile``: where the e-voucher pipeline's time goes, per e-voucher.

Runs ``bench.evoucher``'s pipeline (``BENCH_EVOUCHERS``, default 200 here) on a local stack
and reports:

- every AWS API call the process made while the e-vouchers went through, by the thread that
  made it (the HTTP API's request threads, each stream reader, each stream poller: the
  function it invokes), operation and table, per e-voucher, with its mean time;
- the process's CPU time over the run's wall time: everything here (moto's server, the HTTP
  API, the gateway, the functions) shares one interpreter, so a busy pipeline is CPU-bound
  on one core, and every AWS call costs CPU on both its sides.

With ``--cpu``: cProfile in every thread (started before the stack, timed by each thread's
own CPU clock, so waiting costs nothing), the CPU time per e-voucher by area (moto's server,
the HTTP servers, the AWS clients, Powertools, pydantic, the layer, the local stack) and the
top functions by their own CPU time. cProfile slows everything about twofold: the shares
count, not the totals. (A sampling profile of ``sys._current_frames()`` was tried and
dropped: a thread blocked in C, on a lock, a socket or ``time.sleep``, shows its Python
caller as running, so it counted waits.)

Not part of ``make bench`` (counting slows what it watches); the figures before
and after a change are kept in docs/design.md (E-voucher fulfilment: performance).
"""

from __future__ import annotations

import collections
import contextlib
import cProfile
import io
import os
import pstats
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import botocore.client

from bench import evoucher


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


# Own CPU time is put in the first area whose marker its file's path holds.
AREAS = (
    ("/moto/", "moto (the AWS services)"),
    ("/werkzeug/", "HTTP servers (werkzeug, http.server, socketserver)"),
    ("/http/server.py", "HTTP servers (werkzeug, http.server, socketserver)"),
    ("/socketserver.py", "HTTP servers (werkzeug, http.server, socketserver)"),
    ("/botocore/", "AWS clients (botocore, urllib3)"),
    ("/boto3/", "AWS clients (botocore, urllib3)"),
    ("/urllib3/", "AWS clients (botocore, urllib3)"),
    ("/aws_lambda_powertools/", "Powertools"),
    ("/pydantic", "pydantic"),
    ("/cardmaker/", "the layer (cardmaker)"),
    ("/functions/", "the functions' handlers"),
    ("/local/", "the local stack (streams, HTTP API, gateway)"),
    ("/requests/", "the bench's HTTP posts (requests)"),
)
TOP = 30


class ThreadProfiles:
    """cProfile in every thread started after ``install()``, timed by the thread's CPU."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []

    def install(self) -> None:
        def start(*_: object) -> None:
            sys.setprofile(None)
            profile = cProfile.Profile(time.thread_time)
            self.profiles.append(profile)
            profile.enable()

        threading.setprofile(start)
        main_profile = cProfile.Profile(time.thread_time)
        self.profiles.append(main_profile)
        main_profile.enable()

    def stats(self) -> pstats.Stats:
        threading.setprofile(None)
        for profile in self.profiles:
            profile.disable()  # only the calling thread's stops; the others are done
        return pstats.Stats(*self.profiles)


def _area(path: str) -> str:
    for marker, area in AREAS:
        if marker in path:
            return area
    return "other (the standard library, json, ssl, ...)"


def print_cpu(stats: pstats.Stats, count: int) -> None:
    rows = stats.stats.items()  # type: ignore[attr-defined]
    areas: collections.Counter[str] = collections.Counter()
    total = 0.0
    for (path, _, _), (_, _, own, _, _) in rows:
        areas[_area(path)] += own
        total += own
    print()
    print(f"CPU per e-voucher by area (cProfile, every thread): {total / count * 1000:.0f} ms")
    for area, own in areas.most_common():
        print(f"  {own / count * 1000:7.1f} ms {own / total:6.1%}  {area}")
    print()
    print("top functions by own CPU: ms per e-voucher, calls per e-voucher")
    ranked = sorted(rows, key=lambda item: item[1][2], reverse=True)
    for (path, line, name), (_, calls, own, _, _) in ranked[:TOP]:
        where = f"{'/'.join(path.split('/')[-2:])}:{line}({name})" if line else name
        print(f"  {own / count * 1000:7.2f} {calls / count:8.1f}  {where}")


def main() -> int:
    cpu_profile = ThreadProfiles() if "--cpu" in sys.argv[1:] else None
    if cpu_profile is not None:
        cpu_profile.install()
    count = int(os.environ.get("BENCH_EVOUCHERS", "200"))
    calls = ApiCalls()
    with (
        contextlib.redirect_stdout(io.StringIO()),
        evoucher.quiet_stack() as stack,
        calls.installed(),
    ):
        started = time.perf_counter()
        cpu = time.process_time()
        seconds, _ = evoucher.pipeline(stack, count)
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
    if cpu_profile is not None:
        print_cpu(cpu_profile.stats(), count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
