"""What an operator sees when something is wrong: the installed `cardmaker` command in a
child process, one line `error: ...` (or a usage panel), a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

# The command installed in the venv running the suite (.venv, or .venv-3.13 under `make test`).
CARDMAKER = Path(sys.executable).parent / "cardmaker"


def cardmaker(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # No AWS settings from this process (the local stack's endpoint) or the developer.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "CARDMAKER_", "TOP_"))
    }
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "no-credentials"),
        "AWS_CONFIG_FILE": str(cwd / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(CARDMAKER), *args], capture_output=True, text=True, cwd=cwd, env=env,
        timeout=60, check=False,
    )  # fmt: skip


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_no_local_stack(tmp_path):
    result = cardmaker("orders", "show", "16002", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.startswith("error: no local stack found")
    assert "make serve" in result.stderr
    assert_clean(result)


def test_an_unreachable_api(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"ApiUrl": url, "Region": "us-east-1"}), encoding="utf-8")

    result = cardmaker("--local-state", str(state), "orders", "show", "16002", cwd=tmp_path)

    assert result.returncode == 1
    assert f"error: cannot reach {url} (is `make serve` running?)" in result.stderr
    assert_clean(result)


def test_an_unreachable_aws_endpoint(tmp_path):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    outputs = {
        "ApiUrl": "http://127.0.0.1:1",
        "AwsEndpointUrl": endpoint,
        "OrdersTableName": "orders",
        "CardsTableName": "cards",
        "CardDataKeyId": "key",
        "Region": "us-east-1",
    }
    state = tmp_path / "state.json"
    state.write_text(json.dumps(outputs), encoding="utf-8")

    result = cardmaker(
        "--local-state", str(state), "cards", "export", "1", "--template", "T",
        "--out", str(tmp_path / "cards.csv"), cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 1
    assert "error: cannot reach" in result.stderr
    assert endpoint in result.stderr
    assert not (tmp_path / "cards.csv").exists()
    assert_clean(result)


def test_a_deployed_stack_without_credentials(tmp_path):
    result = cardmaker("--stack", "cardmaker", "--region", "eu-west-1", "orders", "show", "1",
                       cwd=tmp_path)  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.startswith("error: no AWS credentials")
    assert_clean(result)


def test_an_api_url_alone_needs_credentials_for_the_operator_routes(tmp_path):
    result = cardmaker(
        "--api-url", "https://abc123.execute-api.eu-west-1.amazonaws.com",
        "orders", "show", "1", cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 1
    assert "error: no AWS credentials to sign the request" in result.stderr
    assert_clean(result)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["orders", "show", "sixteen"], "is not an order id"),
        (["platform", "sign", "--card-order-id", "1", "--own-sign", "prod"], "prod"),
        (["platform", "sign", "--card-order-id", "1", "--template", "A:zero"], "NO:COUNT"),
        (["cards", "export", "1", "--template", "T"], "exactly one of --out and --encrypt-to"),
    ],
)
def test_bad_option_values_are_usage_errors(tmp_path, args, says):
    result = cardmaker(*args, cwd=tmp_path)

    assert result.returncode == 2
    assert says in result.stderr
    assert_clean(result)
