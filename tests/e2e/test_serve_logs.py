"""`make serve`'s log: a line before the stack starts, then a quiet, readable log by default
(a line per request and stream batch, no JSON) and the functions' JSON logs and metrics with
``--json-logs`` (`make serve LOGS=json`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from cardmaker_cli.samples import sample_order
from local.platform import sign_demo_call
from tests.e2e.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


def serve(tmp_path: Path, *arguments: str) -> tuple[list[str], str]:
    """Runs serve, sends an order, waits until it is generated, stops: (stdout's lines,
    stderr)."""
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "CARDMAKER_LOCAL_STATE": str(tmp_path / "local-stack.json"),
        "PYTHONUNBUFFERED": "1",
    }
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.serve", *arguments],
            cwd=REPO, env=env, stdout=stdout, stderr=stderr,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while "READY" not in out.read_text(encoding="utf-8"):
                assert process.poll() is None, err.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, out.read_text(encoding="utf-8")
                time.sleep(0.2)
            call = sign_demo_call(sample_order(16031, templates=[("3010030E02", 3, "100")]))
            requests.post(call.url(url), data=call.body, headers=call.headers, timeout=10)
            while (
                requests.get(f"{url}/orders/16031", {"own_sign": "daily"}, timeout=10).json()[
                    "status"
                ]
                != "GENERATED"
            ):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return out.read_text(encoding="utf-8").splitlines(), err.read_text(encoding="utf-8")


@pytest.mark.parametrize("json_logs", [False, True], ids=["quiet", "json"])
def test_serve_says_it_starts_and_logs_quietly_unless_asked(tmp_path, json_logs):
    lines, errors = serve(tmp_path, *(["--json-logs"] if json_logs else []))

    assert lines[0].startswith("starting the local stack on 127.0.0.1:")
    assert "POST /top/spi -> 200" in errors  # one line per request, either way
    json_lines = [line for line in lines if line.startswith("{")]
    if json_logs:
        assert any('"level":"INFO"' in line for line in json_lines)
        assert any('"CloudWatchMetrics"' in line for line in json_lines)
    else:
        assert json_lines == []
        assert "UserWarning" not in errors
