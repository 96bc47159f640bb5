"""The `cardmaker` command against one in-process local stack (started once per test
process, over real HTTP on 127.0.0.1), holding one small generated order."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cardmaker_cli.main import app
from local.serve import write_state
from local.stack import LocalStack
from tests.conftest import send_accepted_order

ORDER_ID = 17001
OWN_SIGN = "daily"
TEMPLATES = [("3010030E02", 1203, "100"), ("3010030E05", 7, "5000")]


@dataclass(frozen=True)
class Cli:
    """Runs `cardmaker --local-state <the stack's outputs> ...` in-process."""

    state: Path

    def __call__(
        self, *args: str, env: dict[str, str | None] | None = None, input: str | None = None
    ) -> Result:
        runner = CliRunner()
        return runner.invoke(
            app,
            ["--local-state", str(self.state), *args],
            env=env,
            input=input,
            catch_exceptions=False,
        )


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replaces the suite's: the session's local stack owns the AWS environment (endpoint,
    fake credentials) for as long as it runs. Only the CLI's own variables are cleared."""
    for name in (
        "TOP_APP_KEY",
        "TOP_APP_SECRET",
        "ETICKET_NOTICE_SECRET",
        "AWS_PROFILE",
        "CARDMAKER_EXPORT_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "CARDMAKER_STACK",
        "CARDMAKER_LOCAL_STATE",
        "CARDMAKER_API_URL",
        "CARDMAKER_OWN_SIGN",
    ):
        monkeypatch.delenv(name, raising=False)


# Package scope, not session: one LocalStack per process, and the e2e and integration tests
# that run after these start stacks of their own.
@pytest.fixture(scope="package")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The local stack, with a GENERATED order of two templates (1,203 + 7 cards)."""
    with LocalStack(port=0, log=io.StringIO()) as stack:
        # The functions run in this process: their metric lines (printed to sys.stdout) would
        # land in the output of a command running meanwhile. Metrics are not under test here.
        # (The stack puts the environment back when it stops.)
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        send_accepted_order(stack, ORDER_ID, TEMPLATES, OWN_SIGN)
        stack.wait_idle(60)
        yield stack


@pytest.fixture(scope="package")
def state_file(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cardmaker") / "local-stack.json"
    write_state(path, local_stack)
    return path


@pytest.fixture
def cli(state_file: Path) -> Cli:
    return Cli(state_file)


def json_output(result: Result) -> dict:
    return json.loads(result.stdout)
