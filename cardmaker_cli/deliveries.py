"""`cardmaker deliveries`: hand cards out (``POST /deliveries``), follow a delivery (``GET
/deliveries/{id}``, with why it waits), cancel one waiting for stock (``POST
/deliveries/{id}/cancel``) and list an order's (``GET /deliveries``). The API validates the
request; its refusals name the fields."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cardmaker import DEFAULT_DELIVERY_PAGE, FINAL, MAX_DELIVERY_PAGE, DeliveryStatus
from cardmaker_cli.api import Api
from cardmaker_cli.context import target
from cardmaker_cli.errors import CliError
from cardmaker_cli.options import (
    JsonOption,
    OwnSign,
    OwnSignOption,
    json_object_file,
    order_key,
)
from cardmaker_cli.output import fields_table, print_json, rows_table, stderr, stdout

deliveries_app = typer.Typer(no_args_is_help=True, help="Deliveries: cards handed out via TOP.")
create_app = typer.Typer(
    help="Hand cards out: `eticket` (ma.send) or `bind` (card.bind), or --file BODY.json."
)
deliveries_app.add_typer(create_app, name="create")

POLL_SECONDS = 0.5

Order = Annotated[str, typer.Option("--order", help="The order id or its making_card_no.")]
Template = Annotated[str, typer.Option("--template", help="The card template (template_no).")]
Quantity = Annotated[int, typer.Option(help="How many cards.")]
Wait = Annotated[bool, typer.Option("--wait", help="Follow the delivery to a final status.")]
Timeout = Annotated[float, typer.Option(min=1, help="Seconds --wait waits at most.")]


@create_app.callback(invoke_without_command=True)
def create(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option("--file", exists=True, dir_okay=False, help="A POST /deliveries body."),
    ] = None,
    wait: Wait = False,
    timeout: Timeout = 120,
    as_json: JsonOption = False,
) -> None:
    """Create a delivery from a JSON body (--file), or with the `eticket` / `bind` commands."""
    if ctx.invoked_subcommand is not None:
        if file is not None:
            raise typer.BadParameter("give --file or a sub-command, not both", param_hint="--file")
        return
    if file is None:
        stderr.print(ctx.get_help())
        raise typer.Exit(2)
    _create(ctx, json_object_file(file, "a POST /deliveries body"), wait, timeout, as_json)


@create_app.command("eticket")
def create_eticket(
    ctx: typer.Context,
    order: Order,
    template: Template,
    quantity: Quantity,
    outer_id: Annotated[str, typer.Option(help="The e-voucher order (outer_id).")],
    token: Annotated[str, typer.Option(help="The e-voucher order's token.")],
    own_sign: OwnSignOption = None,
    certificate_type: Annotated[
        int, typer.Option(help="1: card number + secret, 0: codes only.")
    ] = 1,
    biz_type: Annotated[int, typer.Option(help="The e-voucher business type.")] = 3001,
    group_redeem: Annotated[bool, typer.Option(help="Redeem the cards as a group.")] = False,
    wait: Wait = False,
    timeout: Timeout = 120,
    as_json: JsonOption = False,
) -> None:
    """Send cards to a buyer's e-voucher order (taobao.eticket.merchant.ma.send)."""
    body = {
        "type": "eticket",
        **_order_fields(ctx, order, own_sign, template, quantity),
        "outer_id": outer_id,
        "token": token,
        "certificate_type": certificate_type,
        "biz_type": biz_type,
        "group_redeem": group_redeem,
    }
    _create(ctx, body, wait, timeout, as_json)


@create_app.command("bind")
def create_bind(
    ctx: typer.Context,
    order: Order,
    template: Template,
    quantity: Quantity,
    out_biz_id: Annotated[str, typer.Option(help="The purchase's id (out_biz_id).")],
    own_sign: OwnSignOption = None,
    buyer_nick: Annotated[str | None, typer.Option(help="The buyer's Taobao nick.")] = None,
    buyer_open_uid: Annotated[str | None, typer.Option(help="Or the buyer's open uid.")] = None,
    wait: Wait = False,
    timeout: Timeout = 120,
    as_json: JsonOption = False,
) -> None:
    """Bind cards to a Taobao user for a B2B purchase (tmall.purchase.card.bind)."""
    if (buyer_nick is None) == (buyer_open_uid is None):
        # Checked here too: the API's refusal of this rule cannot name a single field.
        raise typer.BadParameter("give exactly one of --buyer-nick and --buyer-open-uid")
    body = {
        "type": "bind",
        **_order_fields(ctx, order, own_sign, template, quantity),
        "out_biz_id": out_biz_id,
        "buyer_nick": buyer_nick,
        "buyer_open_uid": buyer_open_uid,
    }
    _create(
        ctx,
        {name: value for name, value in body.items() if value is not None},
        wait,
        timeout,
        as_json,
    )


@deliveries_app.command("show")
def show(
    ctx: typer.Context,
    delivery_id: Annotated[
        str,
        typer.Argument(
            metavar="DELIVERY_ID", help="The delivery's id (ET-… or BD-…, as create printed)."
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Show a delivery: who asked for it, its status and each card's outcome (never a card
    secret nor the e-voucher token)."""
    view = without_secrets(Api(target(ctx)).get(f"/deliveries/{delivery_id}"))
    if as_json:
        print_json(view)
    else:
        show_delivery(view)


@deliveries_app.command("cancel")
def cancel(
    ctx: typer.Context,
    delivery_id: Annotated[
        str,
        typer.Argument(metavar="DELIVERY_ID", help="The waiting delivery's id (BD-… or ET-…)."),
    ],
    as_json: JsonOption = False,
) -> None:
    """Cancel a delivery waiting for stock (WAITING_STOCK): it never sends, whatever stock
    arrives later. One being sent or final is refused and left as it is; cancelling again
    changes nothing."""
    answer = Api(target(ctx)).post(f"/deliveries/{delivery_id}/cancel")
    if as_json:
        print_json(answer)
    elif answer.get("cancelled"):
        stdout.print(f"delivery {answer['delivery_id']} CANCELLED: it never sends", markup=False)
    else:
        stdout.print(f"delivery {answer['delivery_id']} was already CANCELLED", markup=False)


@deliveries_app.command("list")
def list_deliveries(
    ctx: typer.Context,
    order: Order,
    own_sign: OwnSignOption = None,
    limit: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_DELIVERY_PAGE, help="Deliveries per page (per request with --all)."
        ),
    ] = DEFAULT_DELIVERY_PAGE,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Follow every page to the end of the list.")
    ] = False,
    next_token: Annotated[
        str | None,
        typer.Option("--next", help="Go on from a previous page (the token it printed)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List an order's deliveries, newest first, with their status, a page at a time
    (--all: every page)."""
    key = order_key(ctx, order, own_sign)
    api = Api(target(ctx))
    params = {
        "card_order_id": str(key.card_order_id),
        "own_sign": key.own_sign,
        "limit": str(limit),
    }
    deliveries, token = api.get_pages("/deliveries", params, "deliveries", next_token, all_pages)
    if as_json:
        print_json({"deliveries": deliveries, **({"next": token} if token else {})})
        return
    rows = ([delivery.get(column) for column in _LIST_COLUMNS] for delivery in deliveries)
    stdout.print(rows_table(f"deliveries of {key.making_card_no}", _LIST_COLUMNS, rows))
    if token:
        # On stderr: the table stays clean to pipe, the operator still sees how to go on.
        stderr.print("more deliveries: add --next " + token, markup=False, highlight=False)


_LIST_COLUMNS = ["delivery_id", "type", "status", "template_no", "quantity", "created_at"]


def _create(
    ctx: typer.Context, body: dict[str, Any], wait: bool, timeout: float, as_json: bool
) -> None:
    api = Api(target(ctx))
    created = api.post("/deliveries", body)
    if not wait:
        if as_json:
            print_json(created)
        else:
            stdout.print(f"delivery {created['delivery_id']} {created['status']}", markup=False)
        return
    view = without_secrets(follow(api, created["delivery_id"], timeout))
    if as_json:
        print_json(view)
    else:
        show_delivery(view)
    if view["status"] != DeliveryStatus.DELIVERED:
        raise CliError(
            f"delivery {view['delivery_id']} ended {view['status']}"
            + (f": {view['failure_reason']}" if view.get("failure_reason") else "")
        )


def follow(api: Api, delivery_id: str, timeout: float) -> dict[str, Any]:
    """Poll a delivery until its status is final (a spinner on stderr meanwhile)."""
    deadline = time.monotonic() + timeout
    with stderr.status(f"delivery {delivery_id}: waiting") as spinner:
        while True:
            view: dict[str, Any] = api.get(f"/deliveries/{delivery_id}")
            if view["status"] in FINAL:
                return view
            why = _waiting_message(view)
            if time.monotonic() >= deadline:
                raise CliError(
                    f"delivery {delivery_id} is still {view['status']} after {timeout:g} s"
                    + (f": {why}" if why else "")
                    + f" (follow it with `cardmaker deliveries show {delivery_id}`"
                    + (
                        f", or stop it with `cardmaker deliveries cancel {delivery_id}`)"
                        if why
                        else ")"
                    )
                )
            spinner.update(
                f"delivery {delivery_id}: {why}"
                if why
                else f"delivery {delivery_id}: {view['status']} (attempt {view.get('attempts', 0)})"
            )
            time.sleep(POLL_SECONDS)


def without_secrets(view: dict[str, Any]) -> dict[str, Any]:
    """A delivery's view without what must never be printed, whatever the API answers (an
    API deployed before the token was withheld still sends it)."""
    return {name: value for name, value in view.items() if name not in _NEVER_SHOWN}


def show_delivery(view: dict[str, Any]) -> None:
    """A delivery's view as two tables: the delivery, then its cards."""
    request = {
        name: value for name, value in without_secrets(view).items() if name not in _SHOWN_APART
    }
    for who in ("requested_by", "cancelled_by"):
        requester = view.get(who)
        if isinstance(requester, dict):
            # Its ARN says who; the caller id, account and organisation are in --json.
            request[who] = requester.get("user_arn")
    why = _waiting_message(view)
    if why:
        request["waiting"] = why  # the reason's data (remaining, quantity) is in --json
    failsend = view.get("failsend")
    if isinstance(failsend, dict):
        # A notice delivery that gave up on stock: whether the platform was told.
        request["failsend"] = " ".join(
            str(part)
            for part in (
                failsend.get("state"),
                failsend.get("sub_err_code"),
                failsend.get("code") or "",
                f"({failsend.get('attempts', 0)} attempt(s))",
            )
            if part
        )
    stdout.print(fields_table(f"delivery {view.get('delivery_id')}", request.items()))
    columns = ["card_no", "position", "outcome", "code", "message"]
    rows = ([card.get(name) for name in columns] for card in view.get("cards", []))
    stdout.print(rows_table("cards", columns, rows))


def _waiting_message(view: dict[str, Any]) -> str | None:
    """Why the delivery waits, as the API words it (None unless it waits)."""
    waiting = view.get("waiting")
    return str(waiting.get("message")) if isinstance(waiting, dict) else None


_SHOWN_APART = {"delivery_id", "cards"}
# The e-voucher token authorises ma.send for the buyer's order: never on screen or in --json.
_NEVER_SHOWN = frozenset({"token"})


def _order_fields(
    ctx: typer.Context, order: str, own_sign: OwnSign | None, template_no: str, quantity: int
) -> dict[str, Any]:
    key = order_key(ctx, order, own_sign)
    return {
        "card_order_id": key.card_order_id,
        "own_sign": key.own_sign,
        "template_no": template_no,
        "quantity": quantity,
    }
