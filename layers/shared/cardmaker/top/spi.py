"""Verification of SPI calls made by the platform, following the official ``SpiUtils``.

The signed parameters are: the headers named in ``top-sign-list``, the raw query string split
with the SDK's rules, and the form fields of a form body (those not already in the query).
JSON, XML and text bodies are signed as raw text instead. The sign is read from the query.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import unquote_plus

from cardmaker.errors import InvalidParameter, InvalidSignature, InvalidTimestamp
from cardmaker.top.signing import SIGN_PARAM, sign_spi, signs_match
from cardmaker.top.timestamps import parse_timestamp, utc_now

BodyKind = Literal["form", "json", "xml", "text", "none"]
Clock = Callable[[], datetime]

SIGN_LIST_HEADER = "top-sign-list"
TIMESTAMP_PARAM = "timestamp"
FORM_TYPE = "application/x-www-form-urlencoded"
_TEXT_BODY_KINDS: dict[str, BodyKind] = {
    "application/json": "json",
    "text/xml": "xml",
    "application/xml": "xml",
    "text/plain": "text",
}
# Charsets the platform is known to use; anything else is refused rather than guessed.
_CHARSETS = {"utf-8", "gbk", "gb2312", "gb18030"}


@dataclass(frozen=True)
class SpiRequest:
    """An HTTP request as received, before any interpretation."""

    raw_query: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class SpiPolicy:
    """How strict verification is. Ages are in seconds."""

    max_age: int = 300
    max_future: int = 180
    max_body_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class VerifiedSpiCall:
    """A call whose signature and timestamp checked out."""

    params: dict[str, str]  # query parameters plus form fields, decoded
    body_kind: BodyKind
    body_text: str | None  # the raw body text for json/xml/text bodies


def media_type(content_type: str) -> tuple[str, str]:
    """Split a Content-Type into (media type, charset), charset defaulting to UTF-8."""
    media, _, rest = content_type.partition(";")
    charset = "utf-8"
    for part in rest.split(";"):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def _normalize_charset(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name (found by chaos)
        return name


def parse_pairs(text: str, charset: str, *, source: str) -> dict[str, str]:
    """Split ``a=1&b=2`` with the SDK's rules: ``+`` is a space, a pair with two ``=`` is
    dropped, a bare key has the value "". A key given twice is refused: the SDK would keep the
    last one silently, and an ambiguous signed request is not worth guessing about."""
    pairs: dict[str, str] = {}
    for chunk in text.split("&"):
        if not chunk:
            continue
        parts = chunk.split("=")
        if len(parts) > 2:
            continue
        try:
            key = unquote_plus(parts[0], encoding=charset, errors="strict")
            value = (
                unquote_plus(parts[1], encoding=charset, errors="strict") if len(parts) == 2 else ""
            )
        except UnicodeDecodeError as error:
            raise InvalidParameter(f"{source} is not valid {charset}") from error
        if key in pairs:
            raise InvalidParameter(f"{source} parameter {key[:64]!r} is given more than once")
        pairs[key] = value
    return pairs


def _header_params(request: SpiRequest, charset: str) -> dict[str, str]:
    names = [name.strip() for name in request.headers.get(SIGN_LIST_HEADER, "").split(",")]
    params: dict[str, str] = {}
    for name in filter(None, names):
        value = request.headers.get(name.lower(), "")
        try:
            params[name] = unquote_plus(value, encoding=charset, errors="strict")
        except UnicodeDecodeError as error:
            raise InvalidParameter(f"header {name[:64]!r} is not valid {charset}") from error
    return params


def _decode_body(request: SpiRequest, charset: str) -> str:
    try:
        return request.body.decode(charset)
    except UnicodeDecodeError as error:
        raise InvalidParameter(f"body is not valid {charset}") from error


def verify_spi_call(
    request: SpiRequest,
    secret: str,
    *,
    policy: SpiPolicy = SpiPolicy(),
    clock: Clock = utc_now,
) -> VerifiedSpiCall:
    """Verify an SPI call's signature and timestamp; raise an ``SpiRefused`` error if not."""
    if len(request.body) > policy.max_body_bytes:
        raise InvalidParameter(f"body exceeds {policy.max_body_bytes} bytes")
    media, charset = media_type(request.content_type)
    if _normalize_charset(charset) not in _CHARSETS:
        raise InvalidParameter(f"unsupported charset {charset[:32]!r}")
    if media == FORM_TYPE:
        body_kind: BodyKind = "form"
    elif media in _TEXT_BODY_KINDS:
        body_kind = _TEXT_BODY_KINDS[media]
    elif not media and not request.body:
        body_kind = "none"
    else:
        raise InvalidParameter(f"unsupported Content-Type {media[:64]!r}")

    query = parse_pairs(request.raw_query, charset, source="query")
    params = dict(query)
    body_text: str | None = None
    if body_kind == "form":
        form = parse_pairs(_decode_body(request, charset), charset, source="form")
        params.update({key: value for key, value in form.items() if key not in query})
    elif body_kind != "none":
        body_text = _decode_body(request, charset)

    received = query.get(SIGN_PARAM)
    if not received:
        raise InvalidSignature("sign is missing")
    signed = {**_header_params(request, charset), **params}
    if not signs_match(sign_spi(signed, body_text, secret, charset), received):
        raise InvalidSignature()

    _check_timestamp(params.get(TIMESTAMP_PARAM), policy, clock())
    return VerifiedSpiCall(params=params, body_kind=body_kind, body_text=body_text)


def _check_timestamp(text: str | None, policy: SpiPolicy, now: datetime) -> None:
    if not text:
        raise InvalidTimestamp("timestamp is missing")
    try:
        sent = parse_timestamp(text)
    except ValueError as error:
        raise InvalidTimestamp("timestamp is not yyyy-MM-dd HH:mm:ss (GMT+8)") from error
    if sent < now - timedelta(seconds=policy.max_age):
        raise InvalidTimestamp(f"timestamp is older than {policy.max_age} seconds")
    if sent > now + timedelta(seconds=policy.max_future):
        raise InvalidTimestamp(f"timestamp is more than {policy.max_future} seconds ahead")
