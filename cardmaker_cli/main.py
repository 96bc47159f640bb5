"""Entry point of the `cardmaker` command."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Cardmaker operator tool.")


@app.callback()
def root() -> None:
    """Cardmaker operator tool."""


def main() -> None:
    app()
