"""Playing the platform: build ``cardorder.make`` SPI calls signed exactly as TOP signs them.

Used by the tests, ``make demo`` and ``python -m local.platform`` (send an order to a running
``make serve``). The sign itself comes from the layer's one signing function.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote_plus

from cardmaker.deliveries.api_models import EXAMPLE_BIND, EXAMPLE_ETICKET
from cardmaker.orders import CARDORDER_MAKE
from cardmaker.top import format_timestamp, sign_spi, utc_now
from cardmaker.top.signing import spi_string_to_sign

DEMO_APP_KEY = "12345678"
# The published sample secret of the test vectors and events/, never a real one.
DEMO_SECRET = "demo-secret-2026"  # noqa: S105


@dataclass(frozen=True)
class SpiCall:
    """A signed SPI request, ready to send (or to turn into an API Gateway event)."""

    raw_query: str
    headers: dict[str, str]
    body: bytes
    # What the sign covers (headers named in top-sign-list, query, form fields; a JSON body
    # as text), kept so a debugging tool can show the hashed string.
    signed_params: dict[str, str] = field(default_factory=dict)
    signed_body: str | None = None

    def url(self, base: str) -> str:
        return f"{base.rstrip('/')}/top/spi?{self.raw_query}"

    def string_to_sign(self, placeholder: str = "<app_secret>") -> str:
        """The text the sign hashes, with a placeholder where the app secret goes."""
        return spi_string_to_sign(self.signed_params, self.signed_body, placeholder)


def sample_order(
    card_order_id: int = 16002,
    own_sign: str = "daily",
    templates: list[tuple[str, int, str]] | None = None,
    *,
    logistics: bool = False,
) -> dict[str, Any]:
    """An order like the seed's example; ``templates`` as (template_no, count, par_value)."""
    order: dict[str, Any] = {
        "card_order_id": card_order_id,
        "own_sign": own_sign,
        "card_product_infos": [
            {
                "template_no": template_no,
                "count": count,
                "par_value": par_value,
                "card_name": f"猫超储值卡面额{par_value}",
            }
            for template_no, count, par_value in (templates or [("3010030E02", 500, "100")])
        ],
    }
    if logistics:
        order["logistics_info"] = {
            "receiver_zip_code": "310000",
            "receiver_address": "浙江省-杭州市-余杭区-五常街道文一西路969号1号楼小邮局",
            "receiver_number": "15512345678",
            "receiver_name": "张三",
        }
    return order


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


def sign_spi_call(
    business: dict[str, Any],
    *,
    secret: str = DEMO_SECRET,
    app_key: str = DEMO_APP_KEY,
    body_format: Literal["json", "form"] = "json",
    method: str = CARDORDER_MAKE,
    timestamp: datetime | None = None,
    response_format: str = "json",
    charset: str = "utf-8",
    signed_headers: dict[str, str] | None = None,
) -> SpiCall:
    """Sign a call as the platform does: system parameters in the query, business parameters
    as a JSON body or as form fields (structs as JSON strings), MD5 over all of it."""
    query = {
        "method": method,
        "app_key": app_key,
        "timestamp": format_timestamp(timestamp or utc_now()),
        "v": "2.0",
        "format": response_format,
        "sign_method": "md5",
    }
    headers = {"content-type": f"application/json;charset={charset}"}
    if body_format == "json":
        body_text: str | None = _compact(business)
        form: dict[str, str] = {}
    else:
        headers["content-type"] = f"application/x-www-form-urlencoded;charset={charset}"
        body_text = None
        form = {
            key: value if isinstance(value, str) else _compact(value)
            for key, value in business.items()
        }
    if signed_headers:
        headers.update({name.lower(): value for name, value in signed_headers.items()})
        headers["top-sign-list"] = ",".join(signed_headers)
    signed = {**(signed_headers or {}), **query, **form}
    sign = sign_spi(signed, body_text, secret, charset)
    raw_query = _urlencode({**query, "sign": sign}, charset)
    body = (
        body_text.encode(charset)
        if body_text is not None
        else _urlencode(form, charset).encode("ascii")
    )
    return SpiCall(
        raw_query=raw_query, headers=headers, body=body, signed_params=signed, signed_body=body_text
    )


def _compact(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _urlencode(params: dict[str, str], charset: str) -> str:
    return "&".join(
        f"{quote_plus(key, encoding=charset)}={quote_plus(value, encoding=charset)}"
        for key, value in params.items()
    )


def main(argv: list[str] | None = None) -> int:
    """Send one signed order to a running ``make serve`` and print the answer."""
    import requests  # noqa: PLC0415 - only the command line needs it

    parser = argparse.ArgumentParser(description="Send a signed cardorder.make to an SPI URL")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}")
    parser.add_argument("--card-order-id", type=int, default=16002)
    parser.add_argument("--own-sign", default="daily", choices=["daily", "pre", "online"])
    parser.add_argument("--form", action="store_true", help="send a form body instead of JSON")
    args = parser.parse_args(argv)
    call = sign_spi_call(
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
