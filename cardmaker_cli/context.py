"""The target of a command: resolved from the global options on first use, so that `--help`
and bad usage never touch AWS or the local state file."""

from __future__ import annotations

import typer

from cardmaker_cli.target import Target, resolve_target


class LazyTarget:
    """The root command's options, turned into a ``Target`` when a command first asks."""

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
