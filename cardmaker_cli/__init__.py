"""`cardmaker`: the operator's command-line tool for the local stack and deployed stacks."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    # The installed distribution's version (pyproject.toml): what `cardmaker --version` says.
    __version__ = version("cardmaker")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "unknown"
