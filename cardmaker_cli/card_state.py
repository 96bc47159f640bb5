"""`cardmaker cards show` (``GET /cards/{card_no}``): where a card stands, never its secret;
`cardmaker cards release` (``POST /orders/{id}/templates/{t}/print-run/release``): give back
what a print run claimed and has not printed. Registered on ``cards_app`` in ``main``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from cardmaker_cli.api import Api
from cardmaker_cli.context import target
from cardmaker_cli.options import JsonOption, OrderArgument, OwnSignOption, order_key
from cardmaker_cli.output import fields_table, print_json, stdout

CardNoArgument = Annotated[
    str, typer.Argument(metavar="CARD_NO", help="The card number (digits, e.g. 3101...).")
]
# What the answer says, in this order (the rest, if a newer API sends more, follows).
_SHOWN = (
    "card_no",
    "state",
    "since",
    "making_card_no",
    "template_no",
    "position",
    "par_value",
    "delivery_id",
    "print_run",
    "outcome",
    "created_at",
)
# Whatever an API answers, a card's secret is never printed.
_NEVER_SHOWN = frozenset({"secret", "card_secret"})


def show(ctx: typer.Context, card_no: CardNoArgument, as_json: JsonOption = False) -> None:
    """Show a card found by its number: order, template, position, state (AVAILABLE,
    ALLOCATED, ISSUED, BOUND, PRINTED, VOIDED), the delivery or print run holding it and
    since when. Never its secret."""
    view: dict[str, Any] = Api(target(ctx)).get(f"/cards/{quote(card_no.strip(), safe='')}")
    view = {name: value for name, value in view.items() if name not in _NEVER_SHOWN}
    if as_json:
        print_json(view)
        return
    fields = [(name, view[name]) for name in _SHOWN if view.get(name) is not None]
    fields += [(name, value) for name, value in view.items() if name not in _SHOWN]
    stdout.print(fields_table(f"card {view.get('card_no')}", fields))


def release(
    ctx: typer.Context,
    order: OrderArgument,
    template: Annotated[str, typer.Option("--template", help="The template whose print run.")],
    own_sign: OwnSignOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give back what a template's print run claimed and has not printed: its cards become
    AVAILABLE to later deliveries again (the order's deliveries waiting for stock go on), and
    the release is recorded (who, when, which positions). Refused once the print run was
    exported (printed cards are never handed out); an export still running when its print run
    is released fails and removes its file."""
    key = order_key(ctx, order, own_sign)
    path = (
        f"/orders/{key.card_order_id}/templates/{quote(template.strip(), safe='')}"
        "/print-run/release"
    )
    answer: dict[str, Any] = Api(target(ctx)).post(path, params={"own_sign": key.own_sign})
    if as_json:
        print_json(answer)
        return
    last = answer["first_position"] + answer["count"] - 1
    stdout.print(
        f"released {answer['count']} cards of {answer['template_no']} ({key.making_card_no}),"
        f" positions {answer['first_position']}-{last}: AVAILABLE to later deliveries again"
        f" (released by {answer['released_by']['user_arn']} at {answer['released_at']})",
        markup=False,
    )
    if answer.get("woken"):
        stdout.print(f"{answer['woken']} delivery(ies) waiting for stock go on")
