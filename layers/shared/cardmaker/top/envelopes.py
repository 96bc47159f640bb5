"""TOP envelopes: the SPI ``response`` we answer with, and the gateway answers we read.

The SPI answer's shape comes from the seed document: a struct ``response`` with ``success``,
``result_code``, ``result_message`` and ``making_card_no``; XML has the root ``<response>``.
Its fields are ``top.api_models.SpiAnswerFields``; it is encoded here and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from cardmaker.errors import TopError
from cardmaker.top.api_models import SpiAnswerFields

ResponseFormat = Literal["json", "xml"]
# The seed's answer root. Which root each SPI method answers under is the SPI adapter's
# decision (``cardmaker.orders.platform_calls.answer_root``): this is only the default.
SPI_ANSWER_ROOT = "response"


def response_format(params: Mapping[str, str]) -> ResponseFormat:
    """The format the caller asked for: ``xml`` only when it says so (TOP's SPI default is
    JSON for this integration)."""
    return "xml" if params.get("format", "").strip().lower() == "xml" else "json"


def encode_spi_answer(
    answer: SpiAnswerFields, fmt: ResponseFormat, root: str = SPI_ANSWER_ROOT
) -> tuple[str, str]:
    """Encode an answer under ``root`` (the JSON key, the XML root element); returns (content
    type, body). Fields the answer leaves out when empty (``making_card_no`` of a refusal,
    ``status`` of any method but status.query) are left out of both formats; every field is
    a flat element, its text escaped, so a field added to ``SpiAnswerFields`` is encoded
    alike in both."""
    fields = answer.model_dump(mode="json")
    if fmt == "xml":
        inner = "".join(f"<{name}>{_xml_text(value)}</{name}>" for name, value in fields.items())
        body = f'<?xml version="1.0" encoding="utf-8"?><{root}>{inner}</{root}>'
        return "application/xml;charset=utf-8", body
    body = json.dumps({root: fields}, ensure_ascii=False, separators=(",", ":"))
    return "application/json;charset=utf-8", body


def _xml_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def response_key(method: str) -> str:
    """``tmall.purchase.card.bind`` -> ``tmall_purchase_card_bind_response``; a leading
    ``taobao.`` is dropped (``taobao.eticket.merchant.ma.send`` -> ``eticket_merchant_...``)."""
    name = method.removeprefix("taobao.")
    return name.replace(".", "_") + "_response"


def unwrap_top_response(method: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return the business part of a TOP gateway answer, or raise ``TopError``.

    Reads both styles: the wrapped ``{"<name>_response": {...}}`` and ``simplify=true``.
    """
    error = payload.get("error_response")
    if isinstance(error, Mapping):
        raise TopError(
            code=_int_or_none(error.get("code")),
            msg=str(error.get("msg", "")),
            sub_code=error.get("sub_code"),
            sub_msg=error.get("sub_msg"),
            request_id=error.get("request_id"),
        )
    wrapped = payload.get(response_key(method))
    return dict(wrapped) if isinstance(wrapped, Mapping) else dict(payload)


def _int_or_none(value: object) -> int | None:
    if not isinstance(value, str | int | float):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def requested_format(raw_query: str) -> ResponseFormat:
    """The answer format from a raw query string, read leniently: even a refused call (bad
    sign, duplicate keys) is answered in the format its caller asked for."""
    return response_format(dict(parse_qsl(raw_query, keep_blank_values=True)))
