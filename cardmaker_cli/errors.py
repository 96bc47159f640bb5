"""The one error the command reports: a message for the operator, never a traceback."""

from __future__ import annotations


class CliError(Exception):
    """Something the operator can fix; printed as ``error: <message>``, exit code 1 (2 for
    bad usage, as click does)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
