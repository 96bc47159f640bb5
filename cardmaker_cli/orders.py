"""`cardmaker orders show`: an order as ``GET /orders/{id}`` sees it."""

from __future__ import annotations

from typing import Any

import typer

from cardmaker_cli.api import Api
from cardmaker_cli.context import target
from cardmaker_cli.options import JsonOption, OrderArgument, OwnSignOption, order_key
from cardmaker_cli.output import fields_table, print_json, rows_table, stdout

orders_app = typer.Typer(no_args_is_help=True, help="Card orders (GET /orders/{id}).")


@orders_app.command("show")
def show(
    ctx: typer.Context,
    order: OrderArgument,
    own_sign: OwnSignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an order: its status, generation progress and templates."""
    key = order_key(order, own_sign)
    view = Api(target(ctx)).get(f"/orders/{key.card_order_id}", {"own_sign": key.own_sign})
    if as_json:
        print_json(view)
        return
    show_order(view)


def show_order(view: dict[str, Any]) -> None:
    """An order's view as two tables: the order, then its templates."""
    progress = f"{view.get('cards_generated', 0)} / {view.get('card_count')}"
    chunks = f"{view.get('chunks_done', 0)} / {view.get('chunks_total') or '-'}"
    receiver = view.get("logistics_info") or {}
    stdout.print(
        fields_table(
            f"order {view.get('making_card_no')}",
            [
                ("card_order_id", view.get("card_order_id")),
                ("own_sign", view.get("own_sign")),
                ("status", view.get("status")),
                ("failure_reason", view.get("failure_reason")),
                ("cards generated", progress),
                ("chunks done", chunks),
                ("received_at", view.get("received_at")),
                ("updated_at", view.get("updated_at")),
                ("receiver", _receiver(receiver)),
            ],
        )
    )
    columns = ["template_no", "card_name", "par_value", "requested", "generated"]
    rows = ([t.get(name) for name in columns] for t in view.get("templates", []))
    stdout.print(rows_table("templates", columns, rows))


def _receiver(logistics: dict[str, Any]) -> str | None:
    if not logistics:
        return None
    parts = ("receiver_name", "receiver_number", "receiver_address", "receiver_zip_code")
    return ", ".join(str(logistics[part]) for part in parts if logistics.get(part))
