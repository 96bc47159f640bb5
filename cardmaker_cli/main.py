"""Entry point of the `cardmaker` command: global options, the sub-commands, and the one
place errors become messages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from cardmaker_cli import __version__, card_state
from cardmaker_cli.audit import show_audit
from cardmaker_cli.cards import cards_app
from cardmaker_cli.context import LazyTarget, TargetOptions
from cardmaker_cli.deliveries import deliveries_app
from cardmaker_cli.dlq import dlq_app
from cardmaker_cli.errors import AWS_ERRORS, CliError, from_aws_error
from cardmaker_cli.eticket import eticket_app
from cardmaker_cli.events import show_events
from cardmaker_cli.help import finish_help, quiet_flags
from cardmaker_cli.options import OWN_SIGN_ENVVAR, OwnSign
from cardmaker_cli.orders import orders_app
from cardmaker_cli.output import print_error
from cardmaker_cli.platform import platform_app
from cardmaker_cli.products import products_app
from cardmaker_cli.top_secret import secrets_app

if TYPE_CHECKING:
    # Typer vendors its own click (no `click` package is installed with it): its groups are
    # invoked with that click's Context.
    pass

__all__ = ["app", "main"]


class _ReportingGroup(TyperGroup):
    """Every command runs inside this group: expected failures (``CliError``, AWS errors)
    become ``error: <message>`` and an exit code, never a traceback, whether the command
    runs from the console script or from a test's CliRunner."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        finish_help(self)  # the examples and quiet flags of every command's --help

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:  # type: ignore[override]
        # typer adds --install-completion / --show-completion after the group is made.
        quiet_flags(self)
        super().format_help(ctx, formatter)

    # typer hands its own Context (its base click class is vendored and private: not named here)
    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except CliError as error:
            _report(error)
        except AWS_ERRORS as error:
            _report(from_aws_error(error))


def _report(error: CliError) -> None:
    print_error(error.message)
    raise typer.Exit(error.exit_code)


app = typer.Typer(
    cls=_ReportingGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Cardmaker operator tool: the local stack (make serve) or a deployed stack (--stack).",
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"cardmaker {__version__}")
        raise typer.Exit


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
    region: Annotated[
        str | None,
        typer.Option(envvar="AWS_REGION", help="The deployed stack's AWS region."),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(envvar="AWS_PROFILE", help="The AWS profile whose credentials to use."),
    ] = None,
    own_sign: Annotated[
        OwnSign | None,
        typer.Option(
            envvar=OWN_SIGN_ENVVAR,
            help="The environment every command works in when it names none (default daily "
            "on the local stack, as the platform simulator sends; online on a deployed stack).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the command's version and exit.",
        ),
    ] = False,
) -> None:
    """Cardmaker operator tool."""
    options: TargetOptions = {
        "stack": stack,
        "local_state": local_state,
        "api_url": api_url,
        "region": region,
        "profile": profile,
    }
    # Resolved on first use: `--help` and bad usage never touch AWS.
    ctx.obj = LazyTarget(options, own_sign.value if own_sign is not None else None)


app.add_typer(platform_app, name="platform")
app.add_typer(orders_app, name="orders")
app.add_typer(deliveries_app, name="deliveries")
eticket_app.add_typer(products_app, name="products")  # beside notices
app.add_typer(eticket_app, name="eticket")
cards_app.command("show")(card_state.show)
cards_app.command("release")(card_state.release)
app.add_typer(cards_app, name="cards")
app.add_typer(dlq_app, name="dlq", help="Failed stream batches: list and replay them.")
app.add_typer(secrets_app, name="secrets")
app.command("events")(show_events)
app.command("audit")(show_audit)


def main() -> None:
    try:
        app(standalone_mode=True)
    except CliError as error:  # raised outside a command (e.g. while building the app)
        print_error(error.message)
        sys.exit(error.exit_code)
