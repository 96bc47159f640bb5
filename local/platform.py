"""Playing the platform against the local stack: SPI calls signed with the demo credentials,
and sample ``POST /deliveries`` bodies.

Used by the tests, ``make demo``, chaos, bench and ``python -m local.platform`` (send an order
to a running ``make serve``). The signer is the layer's (``cardmaker.top.platform``); the demo
credentials and the sample order are the command's (``cardmaker_cli.samples``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Literal

from cardmaker import CARDORDER_MAKE, EXAMPLE_BIND, EXAMPLE_ETICKET
from cardmaker.top import SpiCall, sign_spi_call
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, SIMULATED_OWN_SIGN, sample_order


def sign_demo_call(
    business: dict[str, Any],
    *,
    secret: str = DEMO_SECRET,
    app_key: str = DEMO_APP_KEY,
    method: str = CARDORDER_MAKE,
    **options: Any,
) -> SpiCall:
    """``business`` as a ``cardorder.make`` (or ``method``) signed as the platform signs it,
    with the local stack's demo app key and secret unless told otherwise; ``options`` as
    ``sign_spi_call``'s (body format, timestamp, charset, signed headers, ...)."""
    return sign_spi_call(business, method=method, app_key=app_key, secret=secret, **options)


def sample_delivery(
    kind: Literal["eticket", "bind"],
    card_order_id: int = 16002,
    own_sign: str = "daily",
    template_no: str = "3010030E02",
    **changes: Any,
) -> dict[str, Any]:
    """A ``POST /deliveries`` body like the design brief's examples (2 e-voucher cards or 3
    bound cards); ``changes`` override fields, and a None value removes one."""
    # The OpenAPI document's examples: one definition of the brief's two bodies.
    example = EXAMPLE_ETICKET if kind == "eticket" else EXAMPLE_BIND
    body = {
        **example,
        "card_order_id": card_order_id,
        "own_sign": own_sign,
        "template_no": template_no,
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def main(argv: list[str] | None = None) -> int:
    """Send one signed order to a running ``make serve`` and print the answer."""
    import requests  # noqa: PLC0415 - only the command line needs it

    parser = argparse.ArgumentParser(description="Send a signed cardorder.make to an SPI URL")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}")
    parser.add_argument("--card-order-id", type=int, default=16002)
    parser.add_argument(
        "--own-sign",
        default=os.environ.get("CARDMAKER_OWN_SIGN", SIMULATED_OWN_SIGN),
        choices=["daily", "pre", "online"],
    )
    parser.add_argument("--form", action="store_true", help="send a form body instead of JSON")
    args = parser.parse_args(argv)
    call = sign_demo_call(
        sample_order(args.card_order_id, args.own_sign, logistics=True),
        secret=os.environ.get("TOP_APP_SECRET", DEMO_SECRET),
        app_key=os.environ.get("TOP_APP_KEY", DEMO_APP_KEY),
        body_format="form" if args.form else "json",
    )
    answer = requests.post(call.url(args.url), data=call.body, headers=call.headers, timeout=10)
    print(answer.status_code, answer.text)
    return 0 if answer.ok else 1


if __name__ == "__main__":
    sys.exit(main())
