"""Options and arguments several commands share, parsed in one place."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cardmaker import MAX_ORDER_ID, OrderKey
from cardmaker_cli.context import LazyTarget
from cardmaker_cli.errors import CliError
from cardmaker_cli.samples import SIMULATED_OWN_SIGN


class OwnSign(StrEnum):
    """The platform's environments: the same order id in two of them is two orders."""

    daily = "daily"
    pre = "pre"
    online = "online"


# The environment a command works in when it names none: CARDMAKER_OWN_SIGN (or the root
# --own-sign) on the operator's machine, else the target's own: on the local stack the one the
# platform simulator sends (`platform send-order`, local/platform.py), so that an order just
# sent is the one `orders show` finds; on a deployed stack online, as the API defaults (its
# real orders). One rule for every command: docs/operator-manual.md, "Environments".
OWN_SIGN_ENVVAR = "CARDMAKER_OWN_SIGN"
LOCAL_OWN_SIGN = OwnSign(SIMULATED_OWN_SIGN)
DEPLOYED_OWN_SIGN = OwnSign.online
_MAKING_CARD_NO = re.compile(r"^CM-(daily|pre|online)-(\d{1,19})$")

OrderArgument = Annotated[
    str,
    typer.Argument(
        metavar="ORDER", help="The card order id (16002) or its making_card_no (CM-daily-16002)."
    ),
]
OwnSignOption = Annotated[
    OwnSign | None,
    typer.Option(
        help=f"The order's environment (default: the one in ORDER, else ${OWN_SIGN_ENVVAR}, "
        "else daily on the local stack and online on a deployed stack)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's answer as JSON.")]


def default_own_sign(ctx: typer.Context) -> OwnSign:
    """The environment of a command that names none (``OWN_SIGN_ENVVAR``, else the target's)."""
    lazy: LazyTarget = ctx.find_root().obj  # set by the root command (main.root)
    if lazy.own_sign is not None:
        return OwnSign(lazy.own_sign)
    return LOCAL_OWN_SIGN if lazy.get().local else DEPLOYED_OWN_SIGN


def order_key(ctx: typer.Context, order: str, own_sign: OwnSign | None) -> OrderKey:
    """The order named by ORDER and --own-sign (else the default environment,
    ``default_own_sign``); ``typer.BadParameter`` when they make no order (a usage error:
    exit code 2)."""
    found = _MAKING_CARD_NO.match(order.strip())
    if found:
        if own_sign is not None and own_sign.value != found.group(1):
            raise typer.BadParameter(f"{order} is a {found.group(1)} order, not {own_sign.value}")
        sign, number = found.group(1), found.group(2)
    elif order.strip().isascii() and order.strip().isdigit():
        sign, number = (own_sign or default_own_sign(ctx)).value, order.strip()
    else:
        raise typer.BadParameter(
            f"{order!r} is not an order id (16002) or a making_card_no (CM-daily-16002)"
        )
    card_order_id = int(number)
    if not 0 < card_order_id <= MAX_ORDER_ID:
        raise typer.BadParameter(f"the order id must be 1..{MAX_ORDER_ID}")
    return OrderKey(sign, card_order_id)  # type: ignore[arg-type]


def json_object_file(file: Path, what: str) -> dict[str, Any]:
    """A JSON object read from ``file`` (``what`` it should be, for the error message)."""
    try:
        content = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {file}: {error}") from None
    except ValueError as error:
        raise CliError(f"{file} is not JSON: {error}") from None
    if not isinstance(content, dict):
        raise CliError(f"{file} must hold a JSON object ({what})")
    return content
