"""`cardmaker eticket`: the e-voucher side of the stack. `notices ORDER_ID` shows what the
platform sent for a Taobao order and what became of each notice."""

from __future__ import annotations

from typing import Annotated

import typer

from cardmaker_cli.api import Api
from cardmaker_cli.context import target
from cardmaker_cli.options import JsonOption
from cardmaker_cli.output import fields_table, print_json, rows_table, stdout

eticket_app = typer.Typer(no_args_is_help=True, help="E-voucher notices (and products).")


@eticket_app.command("notices")
def notices(
    ctx: typer.Context,
    order_id: Annotated[
        str, typer.Argument(metavar="ORDER_ID", help="The Taobao e-voucher order's id.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Show the send-code notices received for a Taobao order: method, when, outcome and the
    delivery they made (never the token or the buyer's details)."""
    view = Api(target(ctx)).get(f"/eticket/notices/{order_id}")
    if as_json:
        print_json(view)
        return
    stdout.print(
        fields_table(f"order {view.get('order_id')}", [("delivery_id", view.get("delivery_id"))])
    )
    columns = ["method", "received_at", "outcome", "delivery_id"]
    rows = ([notice.get(name) for name in columns] for notice in view.get("notices", []))
    stdout.print(rows_table("notices", columns, rows))
