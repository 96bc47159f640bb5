"""The one error the command reports: a message for the operator, never a traceback."""

from __future__ import annotations

import botocore.exceptions


class CliError(Exception):
    """Something the operator can fix; printed as ``error: <message>``, exit code 1 (2 for
    bad usage, as click does)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


# What any AWS call may raise; turned into a message in one place (main.py).
AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


def from_aws_error(error: Exception, doing: str = "") -> CliError:
    """The operator's message for a failed AWS call (no credentials, unreachable, refused),
    after ``doing`` (what the command was at) when given."""
    prefix = f"{doing}: " if doing else ""
    if isinstance(
        error, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
    ):
        return CliError(
            f"{prefix}no AWS credentials: set a profile (--profile / AWS_PROFILE) or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(error, botocore.exceptions.EndpointConnectionError):
        return CliError(f"{prefix}cannot reach {error.kwargs.get('endpoint_url', 'AWS')}")
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        operation = error.operation_name or "an AWS call"
        return CliError(
            f"{prefix}AWS refused {operation}: {details.get('Code', '?')}: "
            f"{details.get('Message', '')}"
        )
    return CliError(f"{prefix}AWS call failed: {error}")
