"""Verification of SPI calls made by the platform, following the official ``SpiUtils``.

The signed parameters are: the headers named in ``top-sign-list``, the raw query string split
with the SDK's rules, and the form fields of a form body (those not already in the query).
JSON, XML and text bodies are signed as raw text instead. The sign is read from the query.

The sign joins ``key1value1key2value2...`` with no separators, and neither ``top-sign-list``
nor the charset is signed: one signed text can be cut into parameters in more than one way.
So beyond the SDK, a call is taken only in the one reading the platform signed (``_check_cut``
and docs/design.md, "One reading of a signed call"): its charset is the integration's, its
query and form hold only the method's known parameters, a signed header is no parameter, and
a method's business parameter name appears in the signed text only as that parameter's key.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import unquote_plus

from cardmaker.errors import (
    InvalidAppKey,
    InvalidMethod,
    InvalidParameter,
    InvalidSignature,
    InvalidTimestamp,
)
from cardmaker.top.signing import SIGN_PARAM, is_blank, sign_spi, signs_match
from cardmaker.top.timestamps import parse_timestamp, utc_now

BodyKind = Literal["form", "json", "xml", "text", "none"]
Clock = Callable[[], datetime]

SIGN_LIST_HEADER = "top-sign-list"
TIMESTAMP_PARAM = "timestamp"
METHOD_PARAM = "method"
APP_KEY_PARAM = "app_key"
# The system parameters any TOP call may carry (top-protocol.md, section 1); a method adds its
# business parameters (each SPI method's list lives with its handler's table). Nothing else is
# taken in the query or the form.
SYSTEM_PARAMETERS = frozenset(
    {
        METHOD_PARAM,
        APP_KEY_PARAM,
        TIMESTAMP_PARAM,
        "v",
        "format",
        "sign_method",
        SIGN_PARAM,
        "session",
        "partner_id",
        "simplify",
        "target_app_key",
    }
)
# A header named in top-sign-list: a plain HTTP header name. No underscore, so no parameter
# name fits in it, and no punctuation a JSON value could be cut at.
_SIGNED_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")
FORM_TYPE = "application/x-www-form-urlencoded"
_TEXT_BODY_KINDS: dict[str, BodyKind] = {
    "application/json": "json",
    "text/xml": "xml",
    "application/xml": "xml",
    "text/plain": "text",
}
# Charsets the platform is known to use: an integration is configured with one of them
# (SPI_CHARSET), and a call labelled with any other is refused rather than guessed.
SpiCharset = Literal["utf-8", "gbk", "gb2312", "gb18030"]


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
    """Whose calls are taken and how strictly. Ages are in seconds."""

    app_key: str  # ours: a call for another app is refused, even signed with our secret
    charset: SpiCharset = "utf-8"  # the integration's; a call without one means this one
    max_age: int = 300
    max_future: int = 180
    max_body_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class VerifiedSpiCall:
    """A call whose signature and timestamp checked out."""

    params: dict[str, str]  # query parameters plus form fields, decoded
    body_kind: BodyKind
    body_text: str | None  # the raw body text for json/xml/text bodies


def media_type(content_type: str) -> tuple[str, str | None]:
    """Split a Content-Type into (media type, charset), charset None when not named."""
    media, _, rest = content_type.partition(";")
    charset: str | None = None
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


def _call_charset(labelled: str | None, policy: SpiPolicy) -> str:
    """The charset the call is read in: the integration's. A call labelled with another one is
    refused: the same bytes read in another charset still verify, as other text."""
    if labelled is not None and _normalize_charset(labelled) != _normalize_charset(policy.charset):
        raise InvalidParameter(
            f"charset {labelled[:32]!r} is not this integration's ({policy.charset})"
        )
    return policy.charset


def _representable(text: str, charset: str) -> bool:
    # A raw (not percent-encoded) character the charset cannot encode cannot have been signed
    # in it: refused here, before the sign is computed over it.
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


# A '%' that does not start two hex digits: Java's URLDecoder refuses it, so the SDK never
# verifies such a call; Python's unquote would keep it as text.
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _decode(text: str, charset: str, source: str) -> str:
    """URL-decode as form data (``+`` is a space), as Java's ``URLDecoder`` does."""
    if _BAD_PERCENT.search(text):
        raise InvalidParameter(f"{source} has a malformed %-escape")
    try:
        decoded = unquote_plus(text, encoding=charset, errors="strict")
    except UnicodeDecodeError as error:
        raise InvalidParameter(f"{source} is not valid {charset}") from error
    if not _representable(decoded, charset):
        raise InvalidParameter(f"{source} holds characters {charset} cannot encode")
    return decoded


def _query_pair(chunk: str) -> tuple[str, str]:
    """A raw query pair cut as ``SpiUtils.getQueryMap`` does: ``String.split("=")``, which
    drops trailing empty strings (``a=b=`` is ``a`` = ``b``, ``a=`` is ``a`` = ""). A pair still
    holding two ``=`` is refused: the SDK leaves it out of the sign, yet a servlet's
    ``getParameter`` still reads it, and an unsigned parameter is never taken."""
    parts = chunk.split("=")
    while parts and not parts[-1]:
        parts.pop()
    if len(parts) > 2:
        raise InvalidParameter("query pair has more than one '='")
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0] if parts else "", "")


def _form_pair(chunk: str) -> tuple[str, str]:
    """A form pair cut as a servlet container does: at the first ``=`` (``a=b=c`` is ``a`` =
    ``b=c``), a bare key having the value ""."""
    key, _, value = chunk.partition("=")
    return key, value


def parse_pairs(text: str, charset: str, *, source: Literal["query", "form"]) -> dict[str, str]:
    """Split ``a=1&b=2`` with the SDK's rules for ``source`` (``_query_pair``, ``_form_pair``);
    ``+`` is a space. A form value blank in Java's sense (a lone ``+``, a tab) is read as "":
    ``SpiUtils.getFormMap`` signs it so. A key given twice is refused: the SDK would keep one
    silently, and an ambiguous signed request is not worth guessing about."""
    pairs: dict[str, str] = {}
    cut = _query_pair if source == "query" else _form_pair
    for chunk in text.split("&"):
        if not chunk:
            continue  # the SDK reads "" = "", which adds nothing to the signed text
        raw_key, raw_value = cut(chunk)
        if source == "query" and not raw_key and not raw_value:
            continue  # "=" alone: String.split leaves nothing, the SDK reads no pair
        key = _decode(raw_key, charset, source)
        value = _decode(raw_value, charset, source)
        if source == "form" and is_blank(value):
            value = ""
        if key in pairs:
            raise InvalidParameter(f"{source} parameter {key[:64]!r} is given more than once")
        pairs[key] = value
    return pairs


def _header_params(
    request: SpiRequest, charset: str, parameters: Collection[str]
) -> dict[str, str]:
    """The signed headers. A header named like a parameter (``parameters``, any case) is
    refused: its value is signed but the order would not be read from it, so a business field
    moved into one would verify and vanish from the order."""
    names = [name.strip() for name in request.headers.get(SIGN_LIST_HEADER, "").split(",")]
    known = {name.lower() for name in parameters}
    params: dict[str, str] = {}
    for name in filter(None, names):
        if not _SIGNED_HEADER_NAME.fullmatch(name):
            raise InvalidParameter(f"{SIGN_LIST_HEADER} names a header {name[:64]!r}")
        if name.lower() in known:
            raise InvalidParameter(f"{SIGN_LIST_HEADER} names the parameter {name!r}")
        value = request.headers.get(name.lower(), "")
        # SpiUtils.getHeaderMap: a blank value (Java's sense, before decoding) is signed as "".
        params[name] = "" if is_blank(value) else _decode(value, charset, f"header {name!r}")
    return params


def _decode_body(request: SpiRequest, charset: str) -> str:
    try:
        return request.body.decode(charset)
    except UnicodeDecodeError as error:
        raise InvalidParameter(f"body is not valid {charset}") from error


def _body_kind(media: str, request: SpiRequest) -> BodyKind:
    if media == FORM_TYPE:
        return "form"
    if media in _TEXT_BODY_KINDS:
        return _TEXT_BODY_KINDS[media]
    if not media and not request.body:
        return "none"
    raise InvalidParameter(f"unsupported Content-Type {media[:64]!r}")


def _check_app_key(app_key: str | None, policy: SpiPolicy) -> None:
    # Signed with our secret is not enough: a call for another app is not ours to take.
    if not app_key:
        raise InvalidAppKey("app_key is missing")
    if app_key != policy.app_key:
        raise InvalidAppKey()


def verify_spi_call(
    request: SpiRequest,
    secret: str,
    *,
    policy: SpiPolicy,
    methods: Mapping[str, Collection[str]],
    clock: Clock = utc_now,
) -> VerifiedSpiCall:
    """Verify an SPI call's signature, timestamp and app key, and that it is a call of one of
    ``methods`` (method name -> its business parameter names) in the one reading the platform
    signed; raise an ``SpiRefused`` error if not."""
    if len(request.body) > policy.max_body_bytes:
        raise InvalidParameter(f"body exceeds {policy.max_body_bytes} bytes")
    media, labelled = media_type(request.content_type)
    charset = _call_charset(labelled, policy)
    body_kind = _body_kind(media, request)

    query = parse_pairs(request.raw_query, charset, source="query")
    params = dict(query)
    body_text: str | None = None
    if body_kind == "form":
        form = parse_pairs(_decode_body(request, charset), charset, source="form")
        if again := sorted(set(form) & set(query)):
            # The SDK signs the query's and ignores the form's: one of them is not signed.
            raise InvalidParameter(f"parameter {again[0][:64]!r} is given more than once")
        params.update(form)
    elif body_kind != "none":
        body_text = _decode_body(request, charset)

    received = query.get(SIGN_PARAM)
    if not received:
        raise InvalidSignature("sign is missing")
    every_name = SYSTEM_PARAMETERS.union(*methods.values())
    headers = _header_params(request, charset, every_name)
    signed = {**headers, **params}
    if not signs_match(sign_spi(signed, body_text, secret, charset), received):
        raise InvalidSignature()

    _check_timestamp(params.get(TIMESTAMP_PARAM), policy, clock())
    _check_app_key(params.get(APP_KEY_PARAM), policy)
    method = params.get(METHOD_PARAM, "")
    business = methods.get(method)
    if business is None:
        raise InvalidMethod(method)
    _check_cut(signed, headers, SYSTEM_PARAMETERS | frozenset(business), business)
    return VerifiedSpiCall(params=params, body_kind=body_kind, body_text=body_text)


def _check_cut(
    signed: Mapping[str, str],
    headers: Mapping[str, str],
    known: Collection[str],
    business: Collection[str],
) -> None:
    """Refuse a call the platform may have signed as other parameters.

    The signed text ``k1v1k2v2...`` has no separators: a key can swallow its value
    (``logistics_info{...}`` = ""), a value the next parameter (``format`` =
    ``jsonlogistics_info{...}``), a header a business field. Every such cut either names a
    parameter the method does not know, or leaves a business parameter's name somewhere other
    than its own key: so the query and the form hold known names only, and a business name may
    appear in the signed text only inside a key. The order's own validation then refuses a
    business value cut short (a JSON struct, a number, ``own_sign``)."""
    for key in signed:
        if key not in headers and key not in known:
            raise InvalidParameter(f"unknown parameter {key[:64]!r}")
    pairs = sorted((key, value) for key, value in signed.items() if key != SIGN_PARAM)
    text = "".join(key + value for key, value in pairs)
    # Where the parameters' keys sit in it (a header's name is no parameter's key).
    key_spans: list[tuple[int, int]] = []
    position = 0
    for key, value in pairs:
        if key not in headers:
            key_spans.append((position, position + len(key)))
        position += len(key) + len(value)
    for name in business:
        found = text.find(name)
        while found >= 0:
            if not any(start <= found and found + len(name) <= end for start, end in key_spans):
                raise InvalidParameter(f"the name {name!r} appears inside another parameter")
            found = text.find(name, found + 1)


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
