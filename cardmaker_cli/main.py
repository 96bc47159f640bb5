"""Entry point of the `cardmaker` command: global options, the sub-commands, and the one
place errors become messages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cardmaker_cli.errors import CliError
from cardmaker_cli.target import Target, resolve_target

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Cardmaker operator tool: the local stack (make serve) or a deployed stack (--stack).",
)
stderr = Console(stderr=True)


@app.callback()
def root(
    ctx: typer.Context,
    stack: Annotated[
        str | None,
        typer.Option(envvar="CARDMAKER_STACK", help="A deployed stack's name (CloudFormation)."),
    ] = None,
    local_state: Annotated[
        Path | None,
        typer.Option(
            envvar="CARDMAKER_LOCAL_STATE",
            help="The local stack's outputs file (default .cardmaker/local-stack.json).",
        ),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(envvar="CARDMAKER_API_URL", help="Override the API's URL.")
    ] = None,
    region: Annotated[str | None, typer.Option(envvar="AWS_REGION")] = None,
    profile: Annotated[str | None, typer.Option(envvar="AWS_PROFILE")] = None,
) -> None:
    """Cardmaker operator tool."""
    options = {
        "stack": stack,
        "local_state": local_state,
        "api_url": api_url,
        "region": region,
        "profile": profile,
    }
    # Resolved on first use: `--help` and bad usage never touch AWS.
    ctx.obj = _LazyTarget(options)


class _LazyTarget:
    def __init__(self, options: dict[str, object]) -> None:
        self._options = options
        self._target: Target | None = None

    def get(self) -> Target:
        if self._target is None:
            self._target = resolve_target(**self._options)  # type: ignore[arg-type]
        return self._target


def target(ctx: typer.Context) -> Target:
    """The stack the command works on (for sub-commands)."""
    return ctx.find_root().obj.get()


def main() -> None:
    try:
        app(standalone_mode=True)
    except CliError as error:
        stderr.print(f"[bold red]error:[/] {error.message}", highlight=False)
        sys.exit(error.exit_code)
