"""`cardmaker orders`: list an environment's orders (``GET /orders``), show one (``GET
/orders/{id}``), and the operators' steps: `made` (``POST /orders/{id}/made``) and `ship`
(``POST /orders/{id}/shipment``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cardmaker import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, OrderStatus
from cardmaker_cli.api import Api
from cardmaker_cli.context import target
from cardmaker_cli.environments import other_environments_hint
from cardmaker_cli.options import (
    JsonOption,
    OrderArgument,
    OwnSign,
    OwnSignOption,
    default_own_sign,
    order_key,
)
from cardmaker_cli.output import fields_table, print_json, rows_table, stderr, stdout

orders_app = typer.Typer(
    no_args_is_help=True,
    help="Card orders: list, show, and mark them made and shipped (GET /orders, GET"
    " /orders/{id}, POST /orders/{id}/made, POST /orders/{id}/shipment).",
)
_LIST_COLUMNS = ["making_card_no", "status", "card_count", "received_at", "updated_at"]


@orders_app.command("list")
def list_orders(
    ctx: typer.Context,
    own_sign: Annotated[
        OwnSign | None,
        typer.Option(help="The environment whose orders to list (default: as for every command)."),
    ] = None,
    status: Annotated[
        OrderStatus | None, typer.Option(help="Only the orders of this status.")
    ] = None,
    limit: Annotated[
        int,
        typer.Option(min=1, max=MAX_PAGE_SIZE, help="Orders per page (per request with --all)."),
    ] = DEFAULT_PAGE_SIZE,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Follow every page to the end of the list.")
    ] = False,
    next_token: Annotated[
        str | None,
        typer.Option("--next", help="Go on from a previous page (the token it printed)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List an environment's orders, newest first, a page at a time (--all: every page)."""
    api = Api(target(ctx))
    own_sign = own_sign or default_own_sign(ctx)
    params = {"own_sign": own_sign.value, "limit": str(limit)}
    if status is not None:
        params["status"] = status.value
    orders, token = api.get_pages("/orders", params, "orders", next_token, all_pages)
    if as_json:
        print_json({"orders": orders, **({"next": token} if token else {})})
    else:
        title = f"{own_sign.value} orders" + (f" ({status.value})" if status else "")
        rows = ([order.get(column) for column in _LIST_COLUMNS] for order in orders)
        stdout.print(rows_table(title, _LIST_COLUMNS, rows))
        if token:
            # On stderr: the table stays clean to pipe, the operator still sees how to go on.
            stderr.print("more orders: add --next " + token, markup=False, highlight=False)


@orders_app.command("made")
def made(
    ctx: typer.Context,
    order: OrderArgument,
    own_sign: OwnSignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mark an order's physical cards made (GENERATED -> MADE); the platform is told
    (make.finish). Again on a MADE order: nothing changes."""
    key = order_key(ctx, order, own_sign)
    api = Api(target(ctx))
    with other_environments_hint(api, key):
        answer = api.post(f"/orders/{key.card_order_id}/made", params={"own_sign": key.own_sign})
    _print_step(key.making_card_no, answer, as_json)


@orders_app.command("ship")
def ship(
    ctx: typer.Context,
    order: OrderArgument,
    carrier: Annotated[str, typer.Option(help="The carrier's name (物流商名称), e.g. 顺丰速运.")],
    waybill: Annotated[str, typer.Option(help="The waybill number (物流单号).")],
    own_sign: OwnSignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record that a MADE order's cards left with a waybill (MADE -> SHIPPED); the platform
    is told (status.sended). The same waybill again changes nothing; another is refused."""
    key = order_key(ctx, order, own_sign)
    api = Api(target(ctx))
    with other_environments_hint(api, key):
        answer = api.post(
            f"/orders/{key.card_order_id}/shipment",
            {"logistics_company": carrier, "logistics_order_id": waybill},
            params={"own_sign": key.own_sign},
        )
    _print_step(key.making_card_no, answer, as_json)


def _print_step(making_card_no: str, answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(answer)
    else:
        stdout.print(f"order {making_card_no} {answer.get('status')}", markup=False)


@orders_app.command("show")
def show(
    ctx: typer.Context,
    order: OrderArgument,
    own_sign: OwnSignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an order: its status, generation progress and templates."""
    key = order_key(ctx, order, own_sign)
    api = Api(target(ctx))
    with other_environments_hint(api, key):
        view = api.get(f"/orders/{key.card_order_id}", {"own_sign": key.own_sign})
    if as_json:
        print_json(view)
        return
    show_order(view)


def show_order(view: dict[str, Any]) -> None:
    """An order's view as tables: the order (with its lifecycle and shipment), its templates,
    then the platform notifications it owes or sent."""
    progress = f"{view.get('cards_generated', 0)} / {view.get('card_count')}"
    chunks = f"{view.get('chunks_done', 0)} / {view.get('chunks_total') or '-'}"
    receiver = view.get("logistics_info") or {}
    lifecycle = view.get("lifecycle") or {}
    shipment = view.get("shipment") or {}
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
                ("generated_at", lifecycle.get("generated_at")),
                ("made_at", lifecycle.get("made_at")),
                ("made_by", lifecycle.get("made_by")),
                ("shipped_at", lifecycle.get("shipped_at")),
                ("confirmed_at", lifecycle.get("confirmed_at")),
                ("updated_at", view.get("updated_at")),
                ("carrier", shipment.get("logistics_company")),
                ("waybill", shipment.get("logistics_order_id")),
                ("receiver", _receiver(receiver)),
            ],
        )
    )
    columns = ["template_no", "card_name", "par_value", "requested", "generated"]
    rows = ([t.get(name) for name in columns] for t in view.get("templates", []))
    stdout.print(rows_table("templates", columns, rows))
    notifications = view.get("notifications") or {}
    if notifications:
        columns = ["state", "attempts", "updated_at", "sent_at", "code", "message"]
        rows = (
            [name, *(notice.get(column) for column in columns)]
            for name, notice in notifications.items()
        )
        stdout.print(rows_table("platform notifications", ["notification", *columns], rows))


def _receiver(logistics: dict[str, Any]) -> str | None:
    if not logistics:
        return None
    parts = ("receiver_name", "receiver_number", "receiver_address", "receiver_zip_code")
    return ", ".join(str(logistics[part]) for part in parts if logistics.get(part))
