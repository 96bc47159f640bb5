"""What the reliability tests share: the quiet local stack a module runs on, and the
operator's view of the failed batches (`cardmaker dlq list`).

A module whose local stack outlives each test marks itself ``stack_owns_environment``
(tests/conftest.py): the stack owns the AWS environment while it runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cardmaker_cli.main import app
from chaos._evidence import quiet_stack
from local.serve import write_state
from local.stack import LocalStack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One local stack for the module, its logs, access lines and metric lines kept off
    stdout (``chaos._evidence.quiet_stack``)."""
    with quiet_stack() as running:
        yield running


def dlq_list(stack: LocalStack, state: Path, queue: str) -> list[dict[str, Any]]:
    """The failed batches of an on-failure queue as the operator sees them: the stack's
    outputs written to ``state``, then `cardmaker --local-state <state> dlq list --json`."""
    write_state(state, stack)
    result = CliRunner().invoke(
        app,
        ["--local-state", str(state), "dlq", "list", "--queue", queue, "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
