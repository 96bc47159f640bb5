"""`cardmaker secrets`: put the TOP credentials into the stack's ``TopSecret`` without them
ever touching the command line, the screen or a log.

A value on argv shows in ``ps``, the shell's history and CI logs, so the options only say
WHICH fields to set; the values come from a hidden prompt (asked twice) or, when stdin is not
a terminal, from one JSON object on stdin. The secret's other fields are kept: the current
JSON is read, merged and put back as a new version.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from cardmaker_cli.context import target
from cardmaker_cli.errors import CliError
from cardmaker_cli.output import print_json, rows_table, stdout
from cardmaker_cli.target import Target

secrets_app = typer.Typer(
    no_args_is_help=True,
    help="The TOP secret (TopSecret): set its fields from a hidden prompt or stdin, or list "
    "which are set. Values are never taken from, nor shown on, the command line.",
)

# The fields of the TOP secret, in the order they are asked for. ``notice_secret`` verifies
# the e-voucher notices (ETICKET_NOTICE_SECRET, read from the same secret).
FIELDS = ("app_secret", "session_key", "notice_secret")
_USAGE = (
    "secrets set takes no values on the command line (they would show in ps and the "
    "shell's history): the flags only name the fields; give the values at the hidden prompt "
    "or as a JSON object on stdin"
)
# typer vendors a private click: its usage error is reached through the public BadParameter.
_UsageError: type[Exception] = typer.BadParameter.__mro__[1]
# botocore's DEBUG logs carry request and response bodies: the secret, in clear.
_CHATTY_LOGGERS = ("botocore", "boto3", "urllib3")


class _NoValuesCommand(TyperCommand):
    """A command whose usage errors never repeat what was typed: ``--app-secret=VALUE`` or a
    stray argument may well be the secret itself."""

    # typer hands its own Context (its base click class is vendored and private)
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        try:
            return super().parse_args(ctx, args)
        except _UsageError:
            raise _UsageError(_USAGE, ctx) from None


@secrets_app.command(
    "set",
    cls=_NoValuesCommand,
    help="Set fields of the TOP secret (TopSecret), keeping the others. Without flags each "
    "field is asked for (an empty answer keeps it); a flag asks only for that field. On a "
    "terminal the values are asked hidden, twice; otherwise stdin holds one JSON object "
    '({"app_secret": "..."}; with flags, exactly those fields). Prints the fields changed and '
    "the new version id, never a value.",
)
def set_fields(
    ctx: typer.Context,
    app_secret: Annotated[bool, typer.Option("--app-secret", help="Set app_secret.")] = False,
    session_key: Annotated[
        bool, typer.Option("--session-key", help="Set session_key (ma.send's TOP session).")
    ] = False,
    notice_secret: Annotated[
        bool,
        typer.Option("--notice-secret", help="Set notice_secret (verifies e-voucher notices)."),
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite a current value that is not a JSON object (its content is lost).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    chosen = [
        name
        for name, flag in zip(FIELDS, (app_secret, session_key, notice_secret), strict=True)
        if flag
    ]
    if sys.stdin.isatty():
        values = _asked(chosen or list(FIELDS))
    else:
        values = _from_stdin(sys.stdin.read(), chosen)
    if not values:
        raise CliError("no value given: nothing written")
    stack = target(ctx)
    secret_id = stack.output("TopSecretArn")
    with _quiet_aws_logs():
        current = _current(stack, secret_id, replace=replace)
        version = stack.client("secretsmanager").put_secret_value(
            SecretId=secret_id, SecretString=json.dumps({**current, **values})
        )["VersionId"]
    changed = sorted(values, key=FIELDS.index)
    if as_json:
        print_json({"secret": secret_id, "changed": changed, "version_id": version})
        return
    stdout.print(f"{', '.join(changed)} set in {secret_id}, version {version}", markup=False)
    stdout.print(
        "The functions read it again within SECRET_MAX_AGE_SECONDS (300 s by default).",
        markup=False,
    )


@secrets_app.command(
    "show", help="Which fields the TOP secret (TopSecret) holds, set or empty; never a value."
)
def show_fields(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    stack = target(ctx)
    secret_id = stack.output("TopSecretArn")
    with _quiet_aws_logs():
        current = _current(stack, secret_id, replace=False)
    # A field's state only: "set" says nothing of its value, not even its length.
    names = [*FIELDS, *sorted(name for name in current if name not in FIELDS)]
    state = {name: _is_set(current.get(name)) for name in names}
    if as_json:
        print_json({"secret": secret_id, "fields": state})
        return
    rows = [(name, "set" if is_set else "empty") for name, is_set in state.items()]
    stdout.print(rows_table(f"TOP secret {secret_id}", ["field", "state"], rows))


def _is_set(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _asked(names: Sequence[str]) -> dict[str, str]:
    """Each field asked for hidden, then again to confirm; an empty answer keeps it."""
    values: dict[str, str] = {}
    for name in names:
        value = typer.prompt(
            f"{name} (empty: keep)", default="", show_default=False, hide_input=True, err=True
        )
        if value == "":
            continue
        _check(name, value)
        if (
            typer.prompt(f"{name} again", default="", show_default=False, hide_input=True, err=True)
            != value
        ):
            raise CliError(f"the two {name} entries differ: nothing written")
        values[name] = value
    return values


def _from_stdin(text: str, chosen: Sequence[str]) -> dict[str, str]:
    """One JSON object naming the fields to set; with flags, exactly the flagged ones."""
    try:
        given = json.loads(text)
    except ValueError:
        # The parser's message quotes the text: the secret, perhaps.
        raise CliError(
            'stdin is not a JSON object (give {"app_secret": "..."}): nothing written'
        ) from None
    if not isinstance(given, dict):
        raise CliError('stdin is not a JSON object (give {"app_secret": "..."}): nothing written')
    unknown = sorted(str(name) for name in given if name not in FIELDS)
    if unknown:
        # A field's name is not a secret; a typo's is shown so the operator sees it.
        raise CliError(
            f"unknown field(s) {', '.join(unknown)} on stdin (known: {', '.join(FIELDS)})"
        )
    if chosen and sorted(given) != sorted(chosen):
        raise CliError(
            f"stdin must hold exactly the flagged fields ({', '.join(chosen)}), "
            f"it holds: {', '.join(sorted(given)) or 'none'}"
        )
    for name, value in given.items():
        _check(name, value)
    return dict(given)


def _check(name: str, value: object) -> None:
    """A value TOP can use: a non-blank string without control characters (a pasted newline
    or tab would be signed with and refused as a wrong secret). The value is never quoted."""
    if not isinstance(value, str):
        raise CliError(f"{name} must be a string: nothing written")
    if not value.strip():
        raise CliError(f"{name} is empty or blank: nothing written")
    if value != value.strip():
        raise CliError(f"{name} starts or ends with spaces: nothing written")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise CliError(f"{name} holds a control character (a newline, a tab...): nothing written")


def _current(stack: Target, secret_id: str, *, replace: bool) -> dict[str, Any]:
    """The secret's current JSON object (empty when ``replace`` and it is not one). The
    template gives TopSecret a value at creation, so there always is one to read."""
    text = stack.client("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString")
    try:
        current = json.loads(text or "")
    except ValueError:
        current = None
    if not isinstance(current, dict):
        if replace:
            return {}
        raise CliError(
            "the TOP secret's current value is not a JSON object: nothing written (--replace "
            "overwrites it with the fields given; its current content is lost)"
        )
    return current


@contextlib.contextmanager
def _quiet_aws_logs() -> Iterator[None]:
    """botocore logs request and response bodies at DEBUG: not while a secret is in them."""
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
