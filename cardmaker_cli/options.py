"""Options and arguments several commands share, parsed in one place."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cardmaker import MAX_ORDER_ID, OrderKey
from cardmaker_cli.errors import CliError


class OwnSign(StrEnum):
    """The platform's environments: the same order id in two of them is two orders."""

    daily = "daily"
    pre = "pre"
    online = "online"


DEFAULT_OWN_SIGN = OwnSign.online  # as GET /orders/{id} defaults
_MAKING_CARD_NO = re.compile(r"^CM-(daily|pre|online)-(\d{1,19})$")

OrderArgument = Annotated[
    str,
    typer.Argument(
        metavar="ORDER", help="The card order id (16002) or its making_card_no (CM-daily-16002)."
    ),
]
OwnSignOption = Annotated[
    OwnSign | None,
    typer.Option(help="The order's environment (default online, or the one in ORDER)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's answer as JSON.")]


def order_key(order: str, own_sign: OwnSign | None) -> OrderKey:
    """The order named by ORDER and --own-sign; ``typer.BadParameter`` when they make no
    order (a usage error: exit code 2)."""
    found = _MAKING_CARD_NO.match(order.strip())
    if found:
        if own_sign is not None and own_sign.value != found.group(1):
            raise typer.BadParameter(f"{order} is a {found.group(1)} order, not {own_sign.value}")
        sign, number = found.group(1), found.group(2)
    elif order.strip().isascii() and order.strip().isdigit():
        sign, number = (own_sign or DEFAULT_OWN_SIGN).value, order.strip()
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
