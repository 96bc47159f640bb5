"""`cardmaker cards export`: an order's cards, secrets in clear, for the print shop."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from cardmaker_cli.context import target
from cardmaker_cli.errors import CliError
from cardmaker_cli.export import encrypted_entry, print_run_messages, print_runs, write_csv
from cardmaker_cli.options import OrderArgument, OwnSignOption, order_key
from cardmaker_cli.output import stderr, stdout
from cardmaker_cli.safe_file import exclusive_file, refuse_existing

cards_app = typer.Typer(no_args_is_help=True, help="Cards: export a generated order's cards.")

PASSWORD_ENV = "CARDMAKER_EXPORT_PASSWORD"  # noqa: S105 - the variable's name, not a password
MIN_PASSWORD_LENGTH = 12


@cards_app.command("export")
def export(
    ctx: typer.Context,
    order: OrderArgument,
    template: Annotated[str, typer.Option("--template", help="The template to export.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="The CSV file to create (never overwritten).")
    ] = None,
    encrypt_to: Annotated[
        Path | None,
        typer.Option(
            "--encrypt-to",
            help=f"Write an AES-256 ZIP archive instead (password from ${PASSWORD_ENV} or "
            "asked twice).",
        ),
    ] = None,
    own_sign: OwnSignOption = None,
) -> None:
    """Write the cards of a GENERATED order's template with their secrets in clear
    (template_no, par_value, position, card_no, card_secret), for the print shop.

    The first export of a template claims every card no delivery holds yet (deliveries then
    find no stock): a printed card is never also handed out. Exporting again writes the same
    cards. The file is created owner-only (0600) and never overwrites anything."""
    if (out is None) == (encrypt_to is None):
        raise typer.BadParameter("give exactly one of --out and --encrypt-to")
    destination = encrypt_to or out
    assert destination is not None
    key = order_key(ctx, order, own_sign)
    refuse_existing(destination)
    password = _archive_password() if encrypt_to else None
    runs = print_runs(target(ctx))
    # The file exists (empty, 0600) before the cards are claimed for print: an export that
    # cannot write claims nothing.
    with exclusive_file(destination) as file, print_run_messages():
        run = runs.claim(key, template)
        with _progress(run.count) as advance:
            cards = runs.cards(run)
            if password is None:
                written = write_csv(cards, file, advance)
            else:
                name = f"{key.making_card_no}-{template}.csv"
                with encrypted_entry(file, name, password) as entry:
                    written = write_csv(cards, entry, advance)
    stdout.print(
        f"wrote {written} cards of {template} ({key.making_card_no}) to {destination}",
        markup=False,
    )
    if written < run.count:  # a gap would have stopped the export: these were voided
        stdout.print(
            f"({run.count - written} of the print run's cards were voided by e-voucher refunds "
            "and are not in the file: a voided card is never handed out)"
        )
    if run.handed_out_before:
        stdout.print(
            f"(the first {run.handed_out_before} of its {run.generated} cards were handed out "
            "by deliveries before this print run and are not in the file)"
        )


def _archive_password() -> str:
    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        "archive password", hide_input=True, confirmation_prompt=True, err=True
    )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CliError(f"the archive password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields the function that advances it."""
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=False) as progress:
        task = progress.add_task("cards", total=total)
        yield lambda done: progress.advance(task, done)
