"""`cardmaker cards export`: an order's cards, secrets in clear, for the print shop."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from cardmaker_cli.audit import put_on_record
from cardmaker_cli.context import target
from cardmaker_cli.errors import CliError
from cardmaker_cli.export import encrypted_entry, print_run_messages, print_runs, write_csv
from cardmaker_cli.options import OrderArgument, OwnSignOption, order_key
from cardmaker_cli.output import stderr, stdout
from cardmaker_cli.safe_file import exclusive_file, refuse_existing

if TYPE_CHECKING:
    from cardmaker import PrintPlan

cards_app = typer.Typer(
    no_args_is_help=True,
    help="Cards: export a generated order's cards, show a card by its number, release a print run.",
)

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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Say what the export would claim and what it leaves for deliveries; claim "
            "nothing, write nothing.",
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Claim without asking (only a terminal is asked anyway)."),
    ] = False,
) -> None:
    """Write the cards of a GENERATED order's template with their secrets in clear
    (template_no, par_value, position, card_no, card_secret), for the print shop.

    The first export of a template claims every card no delivery holds yet (deliveries then
    find no stock): a printed card is never also handed out. Exporting again writes the same
    cards. The command says what it claims before it claims it, and on a terminal asks first
    (--yes does not ask; without a terminal, a script, it does not ask either). --dry-run
    only says it. The file is created owner-only (0600) and never overwrites anything. Each
    export is put on record (`cardmaker audit`) before a card is written."""
    destination = _destination(out, encrypt_to, dry_run)
    key = order_key(ctx, order, own_sign)
    if destination is not None:
        refuse_existing(destination)
    stack = target(ctx)
    runs = print_runs(stack)
    with print_run_messages():
        plan = runs.plan(key, template)
    if dry_run:
        for line in claim_summary(plan):
            stdout.print(line, markup=False)
        stdout.print("dry run: nothing was claimed and nothing was written")
        return
    for line in claim_summary(plan):
        stderr.print(line, markup=False)
    if not (yes or plan.already_claimed or _confirmed()):
        raise CliError("not exported: nothing was claimed and nothing was written")
    assert destination is not None
    password = _archive_password() if encrypt_to else None
    # The file exists (empty, 0600) before the cards are claimed for print: an export that
    # cannot write claims nothing.
    with exclusive_file(destination) as file, print_run_messages():
        run = runs.claim(key, template)
        if run.positions != plan.positions:  # deliveries claimed meanwhile
            stderr.print(
                f"(deliveries took cards meanwhile: the print run holds {_span(run.positions)})",
                markup=False,
            )
        # On record before a secret is read: an export that cannot be recorded writes no card
        # (the claim stays; exporting again claims the same cards and records it then).
        put_on_record(
            stack,
            "cards.exported",
            f"{key.making_card_no}/{template}",
            order=key,
            details={
                "template_no": template,
                "claimed": run.count,
                "first_position": run.positions.start,
                "format": "zip" if password is not None else "csv",
                "file": destination.name[:200],
            },
        )
        with _progress(run.count) as advance:
            cards = runs.cards(run)
            if password is None:
                written = write_csv(cards, file, advance)
            else:
                name = f"{key.making_card_no}-{template}.csv"
                with encrypted_entry(file, name, password) as entry:
                    written = write_csv(cards, entry, advance)
            # Written: the print run is PRINTED from now on, unless it was released meanwhile
            # (then this fails and the file is removed: its cards may be handed out).
            runs.confirm(run, datetime.now(UTC).isoformat())
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


def _destination(out: Path | None, encrypt_to: Path | None, dry_run: bool) -> Path | None:
    """Where the export writes: exactly one of the two, or none for a dry run."""
    if dry_run:
        if out is not None and encrypt_to is not None:
            raise typer.BadParameter("give at most one of --out and --encrypt-to")
    elif (out is None) == (encrypt_to is None):
        raise typer.BadParameter("give exactly one of --out and --encrypt-to")
    return encrypt_to or out


def claim_summary(plan: PrintPlan) -> list[str]:
    """What the export claims and what that leaves for deliveries, in the operator's words."""
    order, template = plan.order.making_card_no, plan.template_no
    if plan.already_claimed:
        return [
            f"the print run of template {template} ({order}) already holds "
            f"{_span(plan.positions)}: this export writes them again and claims nothing more",
            f"deliveries of {template} from {order} have 0 of its {plan.generated} cards left",
        ]
    lines = [
        f"this export claims {_span(plan.positions)} of template {template} ({order}) "
        "for print, for good"
    ]
    if plan.handed_out_before:
        lines.append(
            f"(the first {plan.handed_out_before} of its {plan.generated} cards are held by "
            "deliveries: not in the print run)"
        )
    lines.append(
        f"those cards can no longer be delivered: deliveries of {template} from {order} will "
        f"have 0 cards left (now {plan.left_for_deliveries}); one asking for more waits for "
        "stock (`cardmaker deliveries cancel` stops it)"
    )
    return lines


def _span(positions: range) -> str:
    count = len(positions)
    cards = "1 card" if count == 1 else f"{count} cards"
    return f"{cards} (positions {positions.start}-{positions.stop - 1})"


def stdin_is_terminal() -> bool:
    """Whether someone can answer a question: scripts and pipes are not asked."""
    return sys.stdin.isatty()


def _confirmed() -> bool:
    """Asked on a terminal (the answer defaults to no); a script, without one, is not."""
    if not stdin_is_terminal():
        return True
    return typer.confirm("claim these cards for print?", default=False, err=True)


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
