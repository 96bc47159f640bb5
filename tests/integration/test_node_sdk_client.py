"""A real Node TOP SDK client calls the fake TOP gateway over HTTP on 127.0.0.1.

The npm package ``node-taobao-topclient`` (pinned below) is installed into a temporary folder
by this test; its own ``TopClient`` signs every call (``node_sdk_call.js`` says which call
does what): form bodies, multipart/form-data bodies with a file part, and epoch-millisecond
timestamps. Skipped, saying why, where ``node``/``npm`` or the npm registry is not available.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.top_gateway import FakeTopGateway

PACKAGE = "node-taobao-topclient@0.1.7"
DRIVER = Path(__file__).with_name("node_sdk_call.js")
APP_KEY = "12345678"
SECRET = "node-sdk-secret-5c2a"
SESSION = "node-sdk-session-e81f"


@pytest.fixture(scope="module")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run a real Node TOP SDK client (not on PATH)")
    folder = tmp_path_factory.mktemp("node-sdk")
    try:
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefer-offline", PACKAGE],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=180,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        output = getattr(error, "stderr", b"") or b""
        pytest.skip(
            f"npm could not install {PACKAGE} (registry unreachable?): "
            f"{output.decode(errors='replace').strip()[-300:]}"
        )
    return folder / "node_modules"


@pytest.fixture
def gateway() -> Iterator[FakeTopGateway]:
    with FakeTopGateway(APP_KEY, SECRET, SESSION) as started:
        yield started


def run_sdk(node_modules: Path, gateway: FakeTopGateway) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None
    # TZ: the SDK formats its host's local time, and TOP wants GMT+8.
    environment = {**os.environ, "TZ": "Asia/Shanghai"}
    result = subprocess.run(
        [node, str(DRIVER), str(node_modules), gateway.url, APP_KEY, SECRET],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    answers: dict[str, Any] = json.loads(result.stdout)
    return answers


def test_the_node_sdk_calls_the_gateway_with_forms_multipart_and_epoch_ms(node_modules, gateway):
    answers = run_sdk(node_modules, gateway)
    for name in ("form", "form-epoch-ms", "multipart", "multipart-epoch-ms"):
        assert answers[name]["ok"], (name, answers[name])
    calls = {call.business_id: call for call in gateway.calls}
    for business_id in ("NODE-FORM", "NODE-FORM-MS", "NODE-MULTIPART", "NODE-MULTIPART-MS"):
        call = calls[business_id]
        assert call.sign_valid, business_id
        assert call.accepted == ("3101790202036006151",)
    assert calls["NODE-FORM-MS"].params["timestamp"].isdigit()
    assert calls["NODE-MULTIPART-MS"].params["timestamp"].isdigit()
    assert calls["NODE-FORM"].params["timestamp"][4] == "-"
    # The file part arrived, and was not signed (the sign checked out without it).
    assert calls["NODE-MULTIPART"].files == {"img_bytes": 7}
    assert "img_bytes" not in calls["NODE-MULTIPART"].params


def test_a_call_tampered_after_the_sdk_signed_it_is_refused(node_modules, gateway):
    answers = run_sdk(node_modules, gateway)
    assert answers["multipart-tampered"] == {"ok": False, "code": 25}
    tampered = next(call for call in gateway.calls if call.business_id == "NODE-TAMPEREDX")
    assert not tampered.sign_valid
    assert tampered.accepted == ()
