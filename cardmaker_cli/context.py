"""The target of a command: resolved from the global options on first use, so that `--help`
and bad usage never touch AWS or the local state file."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import typer

from cardmaker_cli.target import Target, resolve_target

if TYPE_CHECKING:
    from pathlib import Path


class TargetOptions(TypedDict):
    """The root command's options that name the target (``resolve_target``'s arguments)."""

    stack: str | None
    local_state: Path | None
    api_url: str | None
    region: str | None
    profile: str | None


class LazyTarget:
    """The root command's options, turned into a ``Target`` when a command first asks."""

    def __init__(self, options: TargetOptions, own_sign: str | None = None) -> None:
        self._options = options
        # The root's --own-sign / CARDMAKER_OWN_SIGN: every command's default environment.
        self.own_sign = own_sign
        self._target: Target | None = None

    def get(self) -> Target:
        if self._target is None:
            self._target = resolve_target(**self._options)
        return self._target


def target(ctx: typer.Context) -> Target:
    """The stack the command works on (for sub-commands)."""
    lazy: LazyTarget = ctx.find_root().obj  # set by the root command (main.root)
    return lazy.get()
