"""Where the command writes: results on stdout, progress and errors on stderr (so a result
can be piped while the operator still sees what happens)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """The API's answer as it came, for scripts (plain JSON, never wrapped or coloured)."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def fields_table(title: str, fields: Iterable[tuple[str, Any]]) -> Table:
    """Two columns, name and value; absent values are left out."""
    table = Table(title=Text(title), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in fields:
        if value is not None and value != "":
            table.add_row(name, _text(value))
    return table


def rows_table(title: str, columns: list[str], rows: Iterable[Iterable[Any]]) -> Table:
    table = Table(title=Text(title), title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_text(value) for value in row))
    return table


def _text(value: Any) -> Text:
    """A cell as plain text: values come from the API (card names, TOP's messages) and must
    never be read as rich markup."""
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, dict | list):
        return Text(json.dumps(value, ensure_ascii=False))
    return Text(str(value))


def print_error(message: str) -> None:
    """``error: <message>`` on stderr (the message is text, never markup)."""
    stderr.print(f"[bold red]error:[/] {escape(message)}")
