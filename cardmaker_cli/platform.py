"""`cardmaker platform`: play the fund platform against any deployment (joint testing, 联调):
sign a ``cardorder.make`` exactly as the platform does and send it, or show what was signed;
announce a card template (``card.template.new``), ask how an order is going
(``cardorder.status.query``), say the buyer confirmed receipt (``cardorder.receipt``).

The call is built and signed by the layer's platform signer (``cardmaker.top.sign_spi_call``),
the inverse of the SPI endpoint's verification, so the command, the demo and the tests sign
the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from xml.etree import ElementTree

import typer

from cardmaker import CARD_TEMPLATE_NEW, CARDORDER_MAKE, CARDORDER_RECEIPT, CARDORDER_STATUS_QUERY
from cardmaker.top import SpiCall, sign_spi_call
from cardmaker_cli.api import Api
from cardmaker_cli.context import target
from cardmaker_cli.errors import CliError
from cardmaker_cli.notice import notice_app
from cardmaker_cli.options import (
    OWN_SIGN_ENVVAR,
    OrderArgument,
    OwnSign,
    OwnSignOption,
    default_own_sign,
    json_object_file,
    order_key,
)
from cardmaker_cli.output import print_json, stdout
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from cardmaker_cli.target import Target

platform_app = typer.Typer(
    no_args_is_help=True, help="Play the platform: signed SPI calls and e-voucher notices."
)
platform_app.add_typer(notice_app, name="notice")

DEFAULT_FACE_VALUE = "100"


class AnswerFormat(StrEnum):
    json = "json"
    xml = "xml"


class BodyFormat(StrEnum):
    json = "json"
    form = "form"


def _template(text: str) -> tuple[str, int, str]:
    parts = text.split(":")
    if len(parts) not in {2, 3} or not parts[0] or not parts[1].isdigit() or int(parts[1]) < 1:
        raise typer.BadParameter(f"{text!r} is not NO:COUNT[:FACE_VALUE] (e.g. 3010030E02:500)")
    face_value = parts[2] if len(parts) == 3 and parts[2] else DEFAULT_FACE_VALUE
    return parts[0], int(parts[1]), face_value


CardOrderId = Annotated[
    int | None, typer.Option(min=1, help="The order id (required without --file).")
]
OrderOwnSign = Annotated[
    OwnSign | None,
    typer.Option(
        help="The platform environment (default: as for every command, "
        f"${OWN_SIGN_ENVVAR} or the target's)."
    ),
]
Templates = Annotated[
    list[str] | None,
    typer.Option(
        "--template",
        metavar="NO:COUNT[:FACE_VALUE]",
        help="A card template, repeatable (default 3010030E02:500:100; face value 100).",
    ),
]
Logistics = Annotated[
    bool, typer.Option(help="Add the sample receiver (logistics_info) for physical cards.")
]
OrderFile = Annotated[
    Path | None,
    typer.Option(
        "--file",
        exists=True,
        dir_okay=False,
        help="The business parameters as JSON; the options above override its fields.",
    ),
]
Format = Annotated[AnswerFormat, typer.Option("--format", help="The answer format asked for.")]
Body = Annotated[BodyFormat, typer.Option("--body", help="Business parameters as JSON or form.")]
AppKey = Annotated[
    str | None,
    typer.Option(
        envvar="TOP_APP_KEY",
        help="The TOP app key (default: the local stack's; required for a deployed stack).",
    ),
]
AppSecret = Annotated[
    str | None,
    typer.Option(
        envvar="TOP_APP_SECRET",
        show_default=False,
        help="The TOP app secret (the local stack's demo secret by default; never printed). "
        "Prefer the TOP_APP_SECRET variable: an option shows in ps and the shell's history.",
    ),
]


AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Action = Callable[[Target, SpiCall, AnswerFormat, bool], None]


def _order_command(action: Action) -> Callable[..., None]:
    """A command with the order's options: it builds and signs the call, then ``action``."""

    def command(
        ctx: typer.Context,
        card_order_id: CardOrderId = None,
        own_sign: OrderOwnSign = None,
        template: Templates = None,
        logistics: Logistics = False,
        file: OrderFile = None,
        answer_format: Format = AnswerFormat.json,
        body: Body = BodyFormat.json,
        app_key: AppKey = None,
        app_secret: AppSecret = None,
        as_json: AsJson = False,
    ) -> None:
        business = _business(card_order_id, own_sign, template, logistics, file)  # usage first
        stack = target(ctx)
        if own_sign is None and "own_sign" not in business:
            business["own_sign"] = default_own_sign(ctx).value
        call = _signed_call(stack, business, answer_format, body, app_key, app_secret)
        action(stack, call, answer_format, as_json)

    return command


def _send(stack: Target, call: SpiCall, answer_format: AnswerFormat, as_json: bool) -> None:
    _send_call(stack, call, answer_format, as_json, "the order")


def _send_call(
    stack: Target, call: SpiCall, answer_format: AnswerFormat, as_json: bool, what: str
) -> None:
    """Send a signed SPI call, print its answer; fail unless it says success=true."""
    answer = Api(stack).send(
        "POST",
        "/top/spi",
        raw_query=call.raw_query,
        body=call.body,
        headers=call.headers,
        iam=False,
    )
    response = _spi_response(answer.text, answer_format)
    if as_json:
        print_json({"status": answer.status_code, "response": response})
    else:
        stdout.print(f"{answer.status_code} {answer.text}", markup=False)
    if response.get("success") is not True:
        raise CliError(
            f"{what} was refused: {response.get('result_code')}: {response.get('result_message')}"
        )


def _show(stack: Target, call: SpiCall, answer_format: AnswerFormat, as_json: bool) -> None:
    url, body, hashed = call.url(stack.api_url), call.body.decode("utf-8"), call.string_to_sign()
    if as_json:
        print_json({"url": url, "headers": call.headers, "body": body, "string_hashed": hashed})
        return
    stdout.print("[bold]POST[/]", url)
    for name, value in call.headers.items():
        stdout.print(f"{name}: {value}", markup=False)
    stdout.print()
    stdout.print(body, markup=False)
    stdout.print()
    stdout.print("[bold]string hashed[/] (MD5, upper-case hex):")
    stdout.print(hashed, markup=False)


platform_app.command(
    "send-order",
    help="Sign a cardorder.make as the platform does and send it to the stack's /top/spi. "
    "Exits non-zero when the answer is not success=true.",
)(_order_command(_send))
platform_app.command(
    "sign",
    help="Print a signed cardorder.make without sending it: URL, headers, body and the "
    "string that was hashed (<app_secret> in place of the secret), to debug a sign mismatch.",
)(_order_command(_show))


TemplateNo = Annotated[str, typer.Option(help="The template's number (template_no).")]
CardName = Annotated[str, typer.Option(help="The name of the cards of this template.")]
FaceValue = Annotated[
    str, typer.Option("--par-value", help="The face value in fen (分), digits only.")
]
PictureUrl = Annotated[str | None, typer.Option(help="The card artwork's URL (optional).")]
IsTest = Annotated[
    bool,
    typer.Option(
        "--test/--no-test",
        help="A test template: orders of it need no physical cards (is_test).",
    ),
]
TemplateOwnSign = Annotated[
    OwnSign | None,
    typer.Option(help="The platform environment (default: as for every command)."),
]


@platform_app.command(
    "template-new",
    help="Announce a card template as the platform does (card.template.new), signed like "
    "send-order. The same template again is a replay; other content is its next version. "
    "Exits non-zero when the answer is not success=true.",
)
def template_new(
    ctx: typer.Context,
    template_no: TemplateNo,
    card_name: CardName,
    par_value: FaceValue = DEFAULT_FACE_VALUE,
    picture_url: PictureUrl = None,
    is_test: IsTest = False,
    own_sign: TemplateOwnSign = None,
    answer_format: Format = AnswerFormat.json,
    body: Body = BodyFormat.json,
    app_key: AppKey = None,
    app_secret: AppSecret = None,
    as_json: AsJson = False,
) -> None:
    business: dict[str, Any] = {
        "template_no": template_no,
        "card_name": card_name,
        "par_value": par_value,
        "is_test": is_test,
        "own_sign": (own_sign or default_own_sign(ctx)).value,
    }
    if picture_url is not None:
        business["picture_url"] = picture_url
    _platform_call(
        ctx, CARD_TEMPLATE_NEW, business, answer_format, body, app_key, app_secret, as_json
    )


@platform_app.command(
    "status-query",
    help="Ask how an order is going as the platform does (cardorder.status.query, its "
    "struct request as a JSON body or a form field); prints the status (and the waybill once "
    "shipped). Exits non-zero when the answer is not success=true.",
)
def status_query(
    ctx: typer.Context,
    order: OrderArgument,
    own_sign: OwnSignOption = None,
    answer_format: Format = AnswerFormat.json,
    body: Body = BodyFormat.json,
    app_key: AppKey = None,
    app_secret: AppSecret = None,
    as_json: AsJson = False,
) -> None:
    key = order_key(ctx, order, own_sign)
    struct = {"card_order_id": key.card_order_id, "own_sign": key.own_sign}
    _platform_call(
        ctx,
        CARDORDER_STATUS_QUERY,
        {"request": struct},
        answer_format,
        body,
        app_key,
        app_secret,
        as_json,
    )


@platform_app.command(
    "receipt",
    help="Say the buyer confirmed receipt of an order's cards, as the platform does "
    "(cardorder.receipt): the order becomes CONFIRMED. Exits non-zero when the answer is "
    "not success=true (ORDER_NOT_FOUND, INVALID_ORDER_STATUS before the cards are made).",
)
def receipt(
    ctx: typer.Context,
    order: OrderArgument,
    own_sign: OwnSignOption = None,
    answer_format: Format = AnswerFormat.json,
    body: Body = BodyFormat.json,
    app_key: AppKey = None,
    app_secret: AppSecret = None,
    as_json: AsJson = False,
) -> None:
    key = order_key(ctx, order, own_sign)
    business = {"card_order_id": key.card_order_id, "own_sign": key.own_sign}
    _platform_call(
        ctx, CARDORDER_RECEIPT, business, answer_format, body, app_key, app_secret, as_json
    )


def _platform_call(
    ctx: typer.Context,
    method: str,
    business: dict[str, Any],
    answer_format: AnswerFormat,
    body: BodyFormat,
    app_key: str | None,
    app_secret: str | None,
    as_json: bool,
) -> None:
    stack = target(ctx)
    call = _signed_call(stack, business, answer_format, body, app_key, app_secret, method)
    _send_call(stack, call, answer_format, as_json, f"the {method.rsplit('.', 1)[-1]} call")


def _business(
    card_order_id: int | None,
    own_sign: OwnSign | None,
    templates: list[str] | None,
    logistics: bool,
    file: Path | None,
) -> dict[str, Any]:
    """The order's business parameters: the file's, with the options' fields on top."""
    parsed = [_template(text) for text in templates or []]
    business: dict[str, Any] = {}
    if file is not None:
        business = json_object_file(file, "the order's business parameters")
    elif card_order_id is None:
        raise typer.BadParameter("give --card-order-id (or --file)", param_hint="--card-order-id")
    flags = sample_order(
        card_order_id or 0, (own_sign or OwnSign.daily).value, parsed or None, logistics=logistics
    )
    if card_order_id is not None or not business:
        business["card_order_id"] = flags["card_order_id"]
    if own_sign is not None:
        business["own_sign"] = own_sign.value
    if parsed or "card_product_infos" not in business:
        business["card_product_infos"] = flags["card_product_infos"]
    if logistics:
        business["logistics_info"] = flags["logistics_info"]
    return business


def _signed_call(
    stack: Target,
    business: dict[str, Any],
    answer_format: AnswerFormat,
    body: BodyFormat,
    app_key: str | None,
    app_secret: str | None,
    method: str = CARDORDER_MAKE,
) -> SpiCall:
    key, secret = _credentials(stack, app_key, app_secret)
    return sign_spi_call(
        business,
        method=method,
        secret=secret,
        app_key=key,
        body_format=body.value,
        response_format=answer_format.value,
    )


def _credentials(stack: Target, app_key: str | None, app_secret: str | None) -> tuple[str, str]:
    """The app key and secret to sign with. Only the local stack, running with the demo app
    key, has a default secret: the published demo one."""
    key = app_key or stack.outputs.get("TopAppKey")
    if app_secret:
        if not key:
            raise CliError("no app key: pass --app-key or set TOP_APP_KEY")
        return key, app_secret
    demo_stack = (
        stack.local
        and not stack.requires_sigv4()
        and stack.outputs.get("TopAppKey") == DEMO_APP_KEY
    )
    if not (demo_stack and key == DEMO_APP_KEY):
        raise CliError(
            "no app secret: set TOP_APP_SECRET (or pass --app-secret, which shows in ps and "
            "the shell's history)"
        )
    return DEMO_APP_KEY, DEMO_SECRET


def _spi_response(text: str, answer_format: AnswerFormat) -> dict[str, Any]:
    """The ``response`` struct of an SPI answer (JSON or XML); empty when there is none."""
    try:
        if answer_format is AnswerFormat.xml:
            root = ElementTree.fromstring(text)  # noqa: S314 - the stack's own answer, small
            fields: dict[str, Any] = {child.tag: child.text or "" for child in root}
            if "success" in fields:
                fields["success"] = fields["success"] == "true"
            return fields
        response = json.loads(text).get("response")
    except (ValueError, AttributeError, ElementTree.ParseError):
        return {}
    return response if isinstance(response, dict) else {}
