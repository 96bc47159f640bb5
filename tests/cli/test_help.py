"""Every command's `--help`: an example to copy, a description for every option, and no
`<bool>` after the flags; `cardmaker --version`."""

from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cardmaker_cli import __version__
from cardmaker_cli.help import commands
from cardmaker_cli.main import app

ROOT = get_command(app)
PATHS = [path for path, _ in commands(ROOT)]  # type: ignore[arg-type]
GROUPS = ["", "platform", "platform notice", "orders", "deliveries", "deliveries create"]


def help_of(path: str) -> str:
    result = CliRunner().invoke(app, [*path.split(), "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", PATHS)
def test_every_command_shows_an_example_and_no_bool_noise(path):
    shown = help_of(path)

    assert "Examples:" in shown
    assert f"cardmaker {path} " in shown or shown.rstrip().endswith(f"cardmaker {path}")
    assert "<bool>" not in shown


@pytest.mark.parametrize("path", GROUPS)
def test_groups_show_no_bool_noise(path):
    assert "<bool>" not in help_of(path)


def test_every_option_and_argument_has_a_description():
    undescribed = [
        f"{path or 'cardmaker'} {param.name}"
        for path, command in [("", ROOT), *commands(ROOT)]  # type: ignore[arg-type]
        for param in command.params
        if not getattr(param, "help", None)
    ]
    assert undescribed == []


def test_version():
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.output == f"cardmaker {__version__}\n"
    assert __version__ != "unknown"
