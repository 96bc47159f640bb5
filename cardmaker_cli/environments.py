"""The hint on an order that is not where the command looked: the same id in another
environment is another order, and the commonest cause of a 404 is the wrong environment."""

from __future__ import annotations

from contextlib import contextmanager
from http import HTTPStatus
from typing import TYPE_CHECKING

from cardmaker_cli.api import ApiRefused
from cardmaker_cli.errors import CliError
from cardmaker_cli.options import OWN_SIGN_ENVVAR, OwnSign

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cardmaker import OrderKey
    from cardmaker_cli.api import Api


@contextmanager
def other_environments_hint(api: Api, key: OrderKey) -> Iterator[None]:
    """Runs the command; on a 404 for ``key``, says in which other environments the order
    exists and how to name one (the 404 as it was when it exists nowhere else)."""
    try:
        yield
    except ApiRefused as refused:
        if refused.status != HTTPStatus.NOT_FOUND:
            raise
        elsewhere = environments_holding(api, key)
        if not elsewhere:
            raise
        raise CliError(
            f"order {key.card_order_id} is not in {key.own_sign}; it exists in "
            f"{', '.join(elsewhere)}: add --own-sign {elsewhere[0]} (or set "
            f"{OWN_SIGN_ENVVAR}={elsewhere[0]} for every command)"
        ) from None


def environments_holding(api: Api, key: OrderKey) -> list[str]:
    """The environments other than ``key``'s where its order id is an order."""
    found = []
    for sign in OwnSign:
        if sign.value == key.own_sign:
            continue
        answer = api.send(
            "GET",
            f"/orders/{key.card_order_id}",
            params={"own_sign": sign.value},
            iam=True,
        )
        if answer.status_code == HTTPStatus.OK:
            found.append(sign.value)
    return found
