"""``make serve``: the local stack in the foreground on 127.0.0.1:$PORT (default 3000).

The TOP credentials come from ``TOP_APP_KEY``, ``TOP_APP_SECRET``, ``TOP_SESSION_KEY``,
``TOP_GATEWAY_URL`` and ``TOP_SIGN_METHOD`` (the demo ones by default); the secret reaches
the function through the local Secrets Manager, as on AWS. Prints ``READY <url>`` once it
accepts connections; stops cleanly on Ctrl-C or SIGTERM.

The log is quiet by default: one short line per request and per stream batch (on stderr),
and the functions' warnings and errors as short lines; their JSON logs and metrics, as
CloudWatch would get them, with ``--json-logs`` (``make serve LOGS=json``).

While it runs, the stack's outputs (the same names as a deployed stack's CloudFormation
outputs) are in ``.cardmaker/local-stack.json`` (or ``$CARDMAKER_LOCAL_STATE``): that is how
the ``cardmaker`` command finds it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from types import FrameType
from typing import TextIO

from cardmaker import logger
from local.stack import LocalStack, LocalStackError, TopConfig

DEFAULT_PORT = 3000
DEFAULT_STATE = Path(".cardmaker/local-stack.json")


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    unknown = [argument for argument in arguments if argument != JSON_LOGS]
    if unknown:
        print(f"serve: unknown argument {unknown[0]!r} (only {JSON_LOGS})", file=sys.stderr)
        return 2
    json_logs = JSON_LOGS in arguments
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # the functions' logs, as they happen
    try:
        port = _port(os.environ.get("PORT", str(DEFAULT_PORT)))
        top = TopConfig.from_environ(os.environ)
    except (ValueError, LocalStackError) as error:
        print(f"serve: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        state = Path(os.environ.get("CARDMAKER_LOCAL_STATE") or DEFAULT_STATE)
        stack = LocalStack(top, port=port)
        return _serve(stack, port, stop, state, json_logs=json_logs)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(
    stack: LocalStack, port: int, stop: threading.Event, state: Path, *, json_logs: bool
) -> int:
    # Starting takes seconds (moto, the template's resources, every function imported): say so.
    print(f"starting the local stack on 127.0.0.1:{port} (a few seconds)...", flush=True)
    try:
        stack.start()
        if not json_logs:
            _quiet_logs()
    except (LocalStackError, OSError) as error:
        print(f"serve: cannot start the local stack on port {port}: {error}", file=sys.stderr)
        return 1
    try:
        for line in stack.describe():
            print(line)
        routes = ", ".join(
            route.route_key
            for function in stack.functions.values()
            for route in function.spec.routes
        )
        print(f"HTTP API: {stack.url} ({routes})")
        print(f"console: {stack.url}/console/ (orders, stock, deliveries, failures; live)")
        print("try it with the cardmaker command (another terminal, this folder):")
        print("  .venv/bin/cardmaker platform send-order --card-order-id 16002")
        print("  .venv/bin/cardmaker orders show CM-daily-16002")
        print(
            "  .venv/bin/cardmaker deliveries create bind --order CM-daily-16002 "
            "--template 3010030E02 --quantity 3 --out-biz-id B1 --buyer-nick tracey_05 --wait"
        )
        print(f"  curl '{stack.url}/orders/16002?own_sign=daily'")
        write_state(state, stack)
        print(f"stack outputs for the cardmaker command: {state}")
        print(
            "logs: one line per request and stream batch, warnings and errors"
            if not json_logs
            else "logs: the functions' JSON logs and metrics, as CloudWatch gets them"
        )
        print(f"READY {stack.url}", flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping", flush=True)
    finally:
        state.unlink(missing_ok=True)
        stack.stop()
    print("stopped", flush=True)
    return 0


JSON_LOGS = "--json-logs"


class _ShortLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"[log] {record.levelname} {record.getMessage()}"


class _WithoutMetricLines(io.TextIOBase):
    """stdout without the metrics' EMF lines (Powertools prints them; the cold-start one
    even with metrics disabled). Functions print from several threads: whole lines only."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._pending = (self._pending + text).split("\n")
            for line in lines:
                if not line.startswith('{"_aws":'):
                    self._out.write(line + "\n")
            self._out.flush()
        return len(text)

    def flush(self) -> None:
        self._out.flush()


def _quiet_logs() -> None:
    """The functions' own logs as short lines, warnings and errors only (the stack's access
    lines already say what ran); no metric lines."""
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # read at each flush
    # Powertools warns (stderr) on every invocation that publishes no metric (a lookup, the
    # schedule's tick): noise, not news.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    sys.stdout = _WithoutMetricLines(sys.stdout)
    logger.registered_handler.setLevel(logging.CRITICAL + 1)  # the JSON lines
    short = logging.StreamHandler(sys.stdout)
    short.setLevel(logging.WARNING)
    short.setFormatter(_ShortLine())
    logger.addHandler(short)


def write_state(path: Path, stack: LocalStack) -> None:
    """The stack's outputs, for the ``cardmaker`` command. No secret goes in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs = {**stack.outputs(), "TopAppKey": stack.top.app_key}
    path.write_text(json.dumps(outputs, indent=2) + "\n", encoding="utf-8")


def _port(text: str) -> int:
    if not text.strip().isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"PORT must be a port number (0-65535), not {text!r}")
    return int(text)


if __name__ == "__main__":
    sys.exit(main())
