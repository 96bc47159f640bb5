"""The platform's side of an SPI call: build a request signed exactly as TOP signs the calls
it makes to us. The inverse of ``cardmaker.top.spi``'s verification, by the same signing
function, for the tools that play the platform (the operator command, the local stack, tests).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote_plus

from cardmaker.top.signing import SIGN_PARAM, is_blank, sign_spi, spi_string_to_sign
from cardmaker.top.spi import FORM_TYPE, SIGN_LIST_HEADER
from cardmaker.top.timestamps import format_timestamp, utc_now

BodyFormat = Literal["json", "form"]


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
        """The request's URL on the API at ``base``."""
        return f"{base.rstrip('/')}/top/spi?{self.raw_query}"

    def string_to_sign(self, placeholder: str = "<app_secret>") -> str:
        """The text the sign hashes, with a placeholder where the app secret goes."""
        return spi_string_to_sign(self.signed_params, self.signed_body, placeholder)


def sign_spi_call(
    business: Mapping[str, Any],
    *,
    method: str,
    app_key: str,
    secret: str,
    body_format: BodyFormat = "json",
    timestamp: datetime | None = None,
    response_format: str = "json",
    charset: str = "utf-8",
    signed_headers: Mapping[str, str] | None = None,
) -> SpiCall:
    """Sign a call as the platform does: system parameters in the query, business parameters
    as a JSON body or as form fields (structs as JSON strings), MD5 over all of it; headers
    in ``signed_headers`` are sent and signed too (named in ``top-sign-list``)."""
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
        body_text: str | None = _compact(dict(business))
        form: dict[str, str] = {}
    else:
        headers["content-type"] = f"{FORM_TYPE};charset={charset}"
        body_text = None
        form = {
            key: value if isinstance(value, str) else _compact(value)
            for key, value in business.items()
        }
    if signed_headers:
        headers.update({name.lower(): value for name, value in signed_headers.items()})
        headers[SIGN_LIST_HEADER] = ",".join(signed_headers)
    # SpiUtils signs a blank form value as "" (getFormMap): so does the platform's call.
    signed_form = {key: "" if is_blank(value) else value for key, value in form.items()}
    signed = {**(signed_headers or {}), **query, **signed_form}
    sign = sign_spi(signed, body_text, secret, charset)
    raw_query = _urlencode({**query, SIGN_PARAM: sign}, charset)
    body = (
        body_text.encode(charset)
        if body_text is not None
        else _urlencode(form, charset).encode("ascii")
    )
    return SpiCall(
        raw_query=raw_query, headers=headers, body=body, signed_params=signed, signed_body=body_text
    )


def _compact(value: Any) -> str:
    # The platform's JSON: no spaces, non-ASCII as is; a bare number as its digits, a bare
    # boolean as its JSON word (template.new's is_test: "true", never Python's "True").
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _urlencode(params: Mapping[str, str], charset: str) -> str:
    return "&".join(
        f"{quote_plus(key, encoding=charset)}={quote_plus(value, encoding=charset)}"
        for key, value in params.items()
    )
