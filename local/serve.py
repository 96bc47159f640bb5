"""``make serve``: the local stack in the foreground on 127.0.0.1:$PORT (default 3000).

The TOP credentials come from ``TOP_APP_KEY``, ``TOP_APP_SECRET``, ``TOP_SESSION_KEY``,
``TOP_GATEWAY_URL`` and ``TOP_SIGN_METHOD`` (the demo ones by default); the secret reaches
the function through the local Secrets Manager, as on AWS. Prints ``READY <url>`` once it
accepts connections; stops cleanly on Ctrl-C or SIGTERM.

While it runs, the stack's outputs (the same names as a deployed stack's CloudFormation
outputs) are in ``.cardmaker/local-stack.json`` (or ``$CARDMAKER_LOCAL_STATE``): that is how
the ``cardmaker`` command finds it.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from local.stack import LocalStack, LocalStackError, TopConfig

DEFAULT_PORT = 3000
DEFAULT_STATE = Path(".cardmaker/local-stack.json")


def main() -> int:
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
        return _serve(stack, port, stop, state)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(stack: LocalStack, port: int, stop: threading.Event, state: Path) -> int:
    try:
        stack.start()
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
        print(f"READY {stack.url}", flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping", flush=True)
    finally:
        state.unlink(missing_ok=True)
        stack.stop()
    print("stopped", flush=True)
    return 0


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
