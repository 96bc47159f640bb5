"""`cardmaker platform notice send|resend|cancel|modified|order_modify`: play the e-voucher
platform's send-code notices (发码通知) against any deployment.

The notice is signed by the layer's ``sign_notice`` (through ``notice_body``), the very function
the endpoint verifies with: GBK bytes, the notice secret, no trailing secret
(platform-apis.md §4.3). It is posted as a form to the stack's ``/eticket/notices``.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from cardmaker import notice_body, notice_timestamp
from cardmaker_cli.api import Api
from cardmaker_cli.context import target
from cardmaker_cli.errors import CliError
from cardmaker_cli.options import JsonOption
from cardmaker_cli.output import print_json, stdout
from cardmaker_cli.samples import (
    DEMO_APP_KEY,
    DEMO_NOTICE_SECRET,
    SAMPLE_MERCHANT_CODE,
    sample_notice,
)
from cardmaker_cli.target import Target

notice_app = typer.Typer(
    no_args_is_help=True, help="Play the e-voucher platform: signed send-code notices."
)

NOTICES_PATH = "/eticket/notices"


class Charset(StrEnum):
    gbk = "gbk"
    utf8 = "utf-8"


OrderId = Annotated[
    str, typer.Option("--order-id", help="The Taobao order (淘宝订单号) the notice is about.")
]
Token = Annotated[
    str | None,
    typer.Option(
        show_default=False,
        help="The order's token (default: one derived from the order id, the same for every "
        "notice of the order, as the platform's is).",
    ),
]
Num = Annotated[int, typer.Option(min=1, help="How many e-vouchers were bought.")]
MerchantCode = Annotated[
    str,
    typer.Option(help="The SKU's merchant code (sub_outer_iid) the product is mapped from."),
]
ValidStart = Annotated[
    str | None, typer.Option(help="valid_start, yyyy-MM-dd HH:mm:ss (China time).")
]
ValidEnds = Annotated[str | None, typer.Option(help="valid_ends, yyyy-MM-dd HH:mm:ss.")]
NoticeCharset = Annotated[Charset, typer.Option(help="The form's charset (the platform's: GBK).")]
NoticeSecret = Annotated[
    str | None,
    typer.Option(
        envvar="ETICKET_NOTICE_SECRET",
        show_default=False,
        help="The notice secret (the local stack's demo one by default; never printed). "
        "Prefer the ETICKET_NOTICE_SECRET variable: an option shows in ps and the history.",
    ),
]


def order_token(order_id: str) -> str:
    """The default token of an order: stable, so that every notice of it carries the same."""
    return hashlib.sha256(f"token:{order_id}".encode()).hexdigest()[:24]


def post_notice(
    stack: Target, parameters: dict[str, str], secret: str, charset: str = "gbk"
) -> tuple[int, dict[str, Any]]:
    """Timestamp, sign and post a notice; its HTTP status and JSON answer (empty when the
    answer is not JSON)."""
    stamped = {"timestamp": notice_timestamp(), **parameters}
    body, content_type = notice_body(stamped, secret, charset)
    answer = Api(stack).send(
        "POST", NOTICES_PATH, body=body, headers={"content-type": content_type}, iam=False
    )
    try:
        parsed = answer.json()
    except ValueError:
        parsed = {}
    return answer.status_code, parsed if isinstance(parsed, dict) else {}


def _secret(stack: Target, given: str | None) -> str:
    """The notice secret to sign with. Only the local stack, running with the demo app key,
    has a default: the published demo one."""
    if given:
        return given
    demo_stack = (
        stack.local
        and not stack.requires_sigv4()
        and stack.outputs.get("TopAppKey") == DEMO_APP_KEY
    )
    if not demo_stack:
        raise CliError(
            "no notice secret: set ETICKET_NOTICE_SECRET (or pass --notice-secret, which shows "
            "in ps and the shell's history)"
        )
    return DEMO_NOTICE_SECRET


def _send(
    ctx: typer.Context,
    parameters: dict[str, str],
    secret: str | None,
    charset: Charset,
    as_json: bool,
) -> None:
    stack = target(ctx)
    status, answer = post_notice(stack, parameters, _secret(stack, secret), charset.value)
    if as_json:
        print_json({"status": status, "answer": answer})
    else:
        stdout.print(f"{status} {json.dumps(answer)}", markup=False)
    if answer.get("code") != 200:
        raise CliError(f"the {parameters['method']} notice was not recorded: {answer or status}")


def _notice(
    method: str,
    order_id: str,
    token: str | None,
    num: int,
    merchant_code: str,
    **extra: str | None,
) -> dict[str, str]:
    given = {name: value for name, value in extra.items() if value is not None}
    return sample_notice(
        method,
        order_id,
        token=token or order_token(order_id),
        num=num,
        merchant_code=merchant_code,
        **given,
    )


@notice_app.command("send")
def send(
    ctx: typer.Context,
    order_id: OrderId,
    token: Token = None,
    num: Num = 1,
    merchant_code: MerchantCode = SAMPLE_MERCHANT_CODE,
    valid_start: ValidStart = None,
    valid_ends: ValidEnds = None,
    charset: NoticeCharset = Charset.gbk,
    notice_secret: NoticeSecret = None,
    as_json: JsonOption = False,
) -> None:
    """A send notice (发码通知): the buyer paid for NUM e-vouchers of the merchant code."""
    parameters = _notice(
        "send", order_id, token, num, merchant_code, valid_start=valid_start, valid_ends=valid_ends
    )
    _send(ctx, parameters, notice_secret, charset, as_json)


@notice_app.command("resend")
def resend(
    ctx: typer.Context,
    order_id: OrderId,
    token: Token = None,
    num: Num = 1,
    merchant_code: MerchantCode = SAMPLE_MERCHANT_CODE,
    left_num: Annotated[int | None, typer.Option(min=0, help="Units still redeemable.")] = None,
    charset: NoticeCharset = Charset.gbk,
    notice_secret: NoticeSecret = None,
    as_json: JsonOption = False,
) -> None:
    """A resend notice (重新发码通知): send the order's e-vouchers again."""
    parameters = _notice(
        "resend",
        order_id,
        token,
        num,
        merchant_code,
        left_num=None if left_num is None else str(left_num),
    )
    _send(ctx, parameters, notice_secret, charset, as_json)


@notice_app.command("cancel")
def cancel(
    ctx: typer.Context,
    order_id: OrderId,
    token: Token = None,
    num: Num = 1,
    merchant_code: MerchantCode = SAMPLE_MERCHANT_CODE,
    cancel_num: Annotated[
        int | None, typer.Option(min=1, help="Units the refund cancels (default: all of num).")
    ] = None,
    charset: NoticeCharset = Charset.gbk,
    notice_secret: NoticeSecret = None,
    as_json: JsonOption = False,
) -> None:
    """A cancel notice (退款通知): the buyer was refunded, the e-vouchers are void."""
    parameters = _notice(
        "cancel", order_id, token, num, merchant_code, cancel_num=str(cancel_num or num)
    )
    _send(ctx, parameters, notice_secret, charset, as_json)


@notice_app.command("modified")
def modified(
    ctx: typer.Context,
    order_id: OrderId,
    token: Token = None,
    num: Num = 1,
    merchant_code: MerchantCode = SAMPLE_MERCHANT_CODE,
    valid_start: ValidStart = None,
    valid_ends: ValidEnds = None,
    charset: NoticeCharset = Charset.gbk,
    notice_secret: NoticeSecret = None,
    as_json: JsonOption = False,
) -> None:
    """A modified notice (修改手机通知): the buyer's mobile or the validity changed."""
    parameters = _notice(
        "modified",
        order_id,
        token,
        num,
        merchant_code,
        valid_start=valid_start,
        valid_ends=valid_ends,
    )
    _send(ctx, parameters, notice_secret, charset, as_json)


@notice_app.command("order_modify")
def order_modify(
    ctx: typer.Context,
    order_id: OrderId,
    valid_start: ValidStart = None,
    valid_ends: ValidEnds = None,
    sub_method: Annotated[
        int, typer.Option(min=1, help="1: validity changed, 2: dispute upheld.")
    ] = 1,
    charset: NoticeCharset = Charset.gbk,
    notice_secret: NoticeSecret = None,
    as_json: JsonOption = False,
) -> None:
    """An order_modify notice (订单修改通知): new validity dates (sub_method 1) or a dispute
    upheld (2), in its ``data`` JSON."""
    data: dict[str, str] = {}
    if valid_start is not None:
        data["valid_start"] = valid_start
    if valid_ends is not None:
        data["valid_ends"] = valid_ends
    parameters = {
        "method": "order_modify",
        "order_id": order_id,
        "sub_method": str(sub_method),
        "data": json.dumps(data, ensure_ascii=False),
        "taobao_sid": "2200000000001",
        "seller_nick": "卡券专营店",
    }
    _send(ctx, parameters, notice_secret, charset, as_json)
