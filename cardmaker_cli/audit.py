"""`cardmaker audit`: the operators' actions on record (GET /audit); and putting on record what
a command does straight against AWS (POST /audit), under the IAM identity that signs it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cardmaker import DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE
from cardmaker_cli.api import Api
from cardmaker_cli.context import target
from cardmaker_cli.errors import CliError
from cardmaker_cli.options import JsonOption, OwnSignOption, order_key
from cardmaker_cli.output import print_json, rows_table, stderr, stdout

if TYPE_CHECKING:
    from cardmaker import OrderKey
    from cardmaker_cli.target import Target

_COLUMNS = ["at", "action", "who", "subject", "order", "details"]


def show_audit(
    ctx: typer.Context,
    order: Annotated[
        str | None,
        typer.Option(
            "--order",
            metavar="ORDER",
            help="Only this order's actions: its id (16002) or making_card_no (CM-daily-16002).",
        ),
    ] = None,
    own_sign: OwnSignOption = None,
    limit: Annotated[
        int,
        typer.Option(min=1, max=MAX_AUDIT_PAGE, help="Entries per page (per request with --all)."),
    ] = DEFAULT_AUDIT_PAGE,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Follow every page to the start of the trail.")
    ] = False,
    next_token: Annotated[
        str | None,
        typer.Option("--next", help="Go on from a previous page (the token it printed)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The operators' actions on record, newest first: who (the IAM identity; locally the
    local user) did what, to which order, when. Deliveries created, orders made and shipped,
    products mapped (recorded by the API); print runs, redrives and reopens (reported by
    this command when it does them)."""
    params = {"limit": str(limit)}
    if order is not None:
        params["order"] = order_key(ctx, order, own_sign).making_card_no
    elif own_sign is not None:
        raise typer.BadParameter("--own-sign goes with --order")
    api = Api(target(ctx))
    entries, token = api.get_pages("/audit", params, "entries", next_token, all_pages)
    if as_json:
        print_json({"entries": entries, **({"next": token} if token else {})})
        return
    title = "audit trail" + (f" of {params['order']}" if "order" in params else "")
    stdout.print(rows_table(title, _COLUMNS, (_row(entry) for entry in entries)))
    if token:
        stderr.print("more entries: add --next " + token, markup=False, highlight=False)


def _row(entry: dict[str, Any]) -> list[Any]:
    details = entry.get("details") or {}
    return [
        entry.get("at"),
        entry.get("action"),
        (entry.get("who") or {}).get("user_arn"),
        entry.get("subject"),
        entry.get("making_card_no"),
        ", ".join(f"{name}={value}" for name, value in details.items()),
    ]


def put_on_record(
    stack: Target,
    action: str,
    subject: str,
    *,
    order: OrderKey | None = None,
    details: dict[str, str | int] | None = None,
) -> None:
    """Report what the command just did straight against AWS (``POST /audit``): the API
    records it under the IAM identity that signs the request. A failure is the command's
    error: an action that could not be put on record is never passed over in silence."""
    body: dict[str, Any] = {"action": action, "subject": subject, "details": details or {}}
    if order is not None:
        body["making_card_no"] = order.making_card_no
    try:
        Api(stack).post("/audit", body)
    except CliError as error:
        message = f"{action} was done but could not be put on record: {error.message}"
        raise CliError(message) from None
