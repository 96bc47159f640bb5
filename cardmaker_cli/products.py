"""`cardmaker eticket products`: which stock of cards a send-code notice for an item's
merchant code is served from (``PUT /eticket/products/{code}``, ``GET
/eticket/products[/{code}]``). The API validates the mapping; its refusals name the fields."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

import typer

from cardmaker_cli.api import Api
from cardmaker_cli.context import target
from cardmaker_cli.options import JsonOption, OwnSign
from cardmaker_cli.output import fields_table, print_json, rows_table, stdout

products_app = typer.Typer(
    no_args_is_help=True, help="E-voucher products: merchant codes mapped to stock."
)

Code = Annotated[str, typer.Argument(help="The item's merchant code (sub_outer_iid / outer_iid).")]
COLUMNS = ["merchant_code", "own_sign", "template_no", "certificate_type", "updated_at"]


@products_app.command("put")
def put(
    ctx: typer.Context,
    merchant_code: Code,
    template: Annotated[str, typer.Option("--template", help="The card template (template_no).")],
    own_sign: Annotated[OwnSign, typer.Option("--own-sign", help="The cards' environment.")],
    certificate_type: Annotated[
        int, typer.Option(help="1: card number + secret, 0: the secret as a code.")
    ] = 1,
    as_json: JsonOption = False,
) -> None:
    """Map a merchant code to the remaining cards of a template (oldest order first); the
    notice deliveries waiting for this mapping go on at once."""
    body = {
        "own_sign": own_sign.value,
        "template_no": template,
        "certificate_type": certificate_type,
    }
    api = Api(target(ctx))
    answer = api.json_answer(
        api.send(
            "PUT",
            _path(merchant_code),
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"content-type": "application/json"},
            iam=True,
        )
    )
    if as_json:
        print_json(answer)
        return
    stdout.print(fields_table(f"product {merchant_code}", answer.items()))


@products_app.command("show")
def show(ctx: typer.Context, merchant_code: Code, as_json: JsonOption = False) -> None:
    """Show a product's mapping."""
    answer = Api(target(ctx)).get(_path(merchant_code))
    if as_json:
        print_json(answer)
        return
    stdout.print(fields_table(f"product {merchant_code}", answer.items()))


@products_app.command("list")
def list_products(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every product."""
    answer: dict[str, Any] = Api(target(ctx)).get("/eticket/products")
    if as_json:
        print_json(answer)
        return
    rows = ([product.get(name) for name in COLUMNS] for product in answer["products"])
    stdout.print(rows_table("products", COLUMNS, rows))


def _path(merchant_code: str) -> str:
    # A merchant code is the seller's free text: quoted whole into its path segment.
    return f"/eticket/products/{quote(merchant_code, safe='')}"
