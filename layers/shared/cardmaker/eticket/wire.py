"""The send-code notice's wire format (platform-apis.md §4): THE adapter for it.

The notice is documented only by public integrations of the older e-voucher family
(confidence M), so everything that depends on its wire format is here and nowhere else: how the
body is decoded, how it is signed, which timestamp it carries, which parameters each method
needs. The endpoint (``functions/eticket_notice``) reads notices with ``read_notice``; the
platform simulator (``cardmaker platform notice``) builds them with ``notice_body``, over the
same ``sign_notice``, so that the two cannot drift apart.

- Body: an ``application/x-www-form-urlencoded`` form (§4.1); the charset comes from the
  Content-Type, GBK when none is named (the platform signs in GBK, §4.3); UTF-8 and GBK's
  relatives are accepted. A body that is not valid in its charset is refused, never guessed.
- Sign (§4.3): upper-hex MD5 of ``secret + k1 + v1 + k2 + v2 ...`` over the parameters except
  ``sign`` whose key and value are not blank, sorted by key, encoded in GBK, with no trailing
  secret; compared in constant time, case-insensitively.
- Timestamp: ``yyyy-MM-dd HH:mm:ss`` in China time, like TOP's; no source gives a window
  (§4.3), ours is ``ETICKET_NOTICE_WINDOW_SECONDS`` either way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote_plus, unquote_plus

from cardmaker.errors import NoticeMalformed, NoticeUnverified
from cardmaker.eticket.notice import Notice, NoticeMethod
from cardmaker.orders.models import IDENTIFIER_PATTERN, plain_text
from cardmaker.top.signing import SIGN_PARAM, signs_match
from cardmaker.top.spi import media_type
from cardmaker.top.timestamps import format_timestamp, parse_timestamp, utc_now

Clock = Callable[[], datetime]
# The notice secret; ``True`` asks past any cache (a rotation may have happened).
SecretSource = Callable[[bool], str]

FORM_TYPE = "application/x-www-form-urlencoded"
# The platform signs over GBK bytes (§4.3); a form that names no charset is read in it.
SIGN_CHARSET = "gbk"
DEFAULT_CHARSET = "gbk"
# What a notice may be written in: the platform's GBK (and its subset and superset, which
# agree with it on every GBK character) or UTF-8. Anything else is refused, not guessed.
ACCEPTED_CHARSETS = frozenset({"gbk", "gb2312", "gb18030", "utf-8"})
_CHARSET_NAMES = {"utf8": "utf-8", "cp936": "gbk", "x-gbk": "gbk"}

TIMESTAMP_PARAM = "timestamp"
METHOD_PARAM = "method"
ORDER_ID_PARAM = "order_id"
TOKEN_PARAM = "token"  # noqa: S105 (a parameter name)
NUM_PARAM = "num"

# Bounds: a real notice is about twenty short parameters (§4.2, N2's sample), the longest an
# SMS template. Far larger is not a notice: refused before anything is hashed or stored
# (a DynamoDB item holds at most 400 KB, and a notice is kept whole).
MAX_BODY_BYTES = 32 * 1024
MAX_PARAMETERS = 64
MAX_NAME_CHARS = 64
MAX_VALUE_CHARS = 4096
MAX_TOKEN_CHARS = 128
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_ORDER_ID = re.compile(IDENTIFIER_PATTERN.removeprefix("^").removesuffix("$"))


@dataclass(frozen=True)
class NoticePolicy:
    """How strictly notices are taken. ``window_seconds``: how far the notice's timestamp may
    be from now, either way (ETICKET_NOTICE_WINDOW_SECONDS)."""

    window_seconds: int = 600
    max_body_bytes: int = MAX_BODY_BYTES


# --- signing (the endpoint and the simulator) -----------------------------------------------


def _signed_pairs(parameters: Mapping[str, str], *, skip_blank: bool) -> str:
    pairs = sorted(
        (name, value)
        for name, value in parameters.items()
        if name != SIGN_PARAM
        and name
        and value
        and not (skip_blank and (not name.strip() or not value.strip()))
    )
    return "".join(name + value for name, value in pairs)


def notice_string_to_sign(
    parameters: Mapping[str, str], secret: str, *, skip_blank: bool = True
) -> str:
    """The text a notice sign hashes: the secret, then the sorted non-empty pairs (§4.3).
    Debugging tools pass a placeholder as ``secret``."""
    return secret + _signed_pairs(parameters, skip_blank=skip_blank)


def sign_notice(parameters: Mapping[str, str], secret: str, *, skip_blank: bool = True) -> str:
    """Sign a notice as the platform does: upper-hex MD5 over the GBK bytes of
    ``notice_string_to_sign``. ``skip_blank``: leave out whitespace-only values too (N3; N2
    leaves out only empty ones, see ``verify``). Raises ``ValueError`` for a character GBK
    cannot encode (the platform could not have signed it)."""
    text = notice_string_to_sign(parameters, secret, skip_blank=skip_blank)
    try:
        content = text.encode(SIGN_CHARSET)
    except UnicodeEncodeError:
        # Never the codec's message: its position would tell the secret's length.
        raise ValueError("the notice has characters GBK cannot encode") from None
    return hashlib.md5(content, usedforsecurity=False).hexdigest().upper()


def _signed_with(parameters: Mapping[str, str], secret: str) -> bool:
    received = parameters.get(SIGN_PARAM, "").strip().upper()
    if not received or not secret:
        return False
    # The two public handlers differ only on a whitespace-only value (N3 skips it, N2 signs
    # it): a notice with one is taken if it verifies either way.
    readings = [True]
    if any(value and not value.strip() for value in parameters.values()):
        readings.append(False)
    for skip_blank in readings:
        try:
            expected = sign_notice(parameters, secret, skip_blank=skip_blank)
        except ValueError:
            return False
        if signs_match(expected, received):
            return True
    return False


def verify(parameters: Mapping[str, str], secret: SecretSource) -> None:
    """Refuse (``NoticeUnverified``) a notice not signed with the notice secret. On a
    mismatch the secret is read once more past its cache: a rotated secret is picked up by
    the first notice signed with it, not after the cache's age."""
    if _signed_with(parameters, secret(False)):
        return
    fresh = secret(True)
    if not _signed_with(parameters, fresh):
        raise NoticeUnverified("signature does not match")


# --- reading a notice ---------------------------------------------------------------------


def notice_charset(content_type: str) -> str:
    """The charset a notice body is read in: the Content-Type's, GBK when it names none.
    Refuses (``NoticeMalformed``) another media type or an unaccepted charset."""
    media, charset = media_type(content_type)
    if media not in ("", FORM_TYPE):
        raise NoticeMalformed(f"a notice is a form ({FORM_TYPE}), not {media[:64]!r}")
    if charset is None:
        return DEFAULT_CHARSET
    charset = _CHARSET_NAMES.get(charset, charset)
    if charset not in ACCEPTED_CHARSETS:
        raise NoticeMalformed(f"charset {charset[:32]!r} is not accepted (GBK or UTF-8)")
    return charset


def decode_notice_body(body: bytes, content_type: str, policy: NoticePolicy) -> dict[str, str]:
    """The notice's parameters from its form body, within the bounds. Refuses
    (``NoticeMalformed``) an oversized body, a byte sequence not valid in its charset, a
    parameter given twice, a bad name, a control character, or too many or too long
    parameters."""
    if len(body) > policy.max_body_bytes:
        raise NoticeMalformed(f"a notice body is at most {policy.max_body_bytes} bytes")
    charset = notice_charset(content_type)
    try:
        text = body.decode("ascii")  # a form is percent-encoded ASCII...
    except UnicodeDecodeError:
        # ...but a sender may put its charset's bytes in raw: valid in the charset, or refused.
        try:
            text = body.decode(charset)
        except UnicodeDecodeError:
            raise NoticeMalformed(f"the body is not valid {charset}") from None
    parameters: dict[str, str] = {}
    for chunk in text.split("&"):
        if not chunk:
            continue
        if len(parameters) >= MAX_PARAMETERS:
            raise NoticeMalformed(f"a notice has at most {MAX_PARAMETERS} parameters")
        raw_name, _, raw_value = chunk.partition("=")
        try:
            name = unquote_plus(raw_name, encoding=charset, errors="strict")
            value = unquote_plus(raw_value, encoding=charset, errors="strict")
        except UnicodeDecodeError:
            raise NoticeMalformed(f"the body is not valid {charset}") from None
        if not _NAME.fullmatch(name):
            raise NoticeMalformed(f"parameter name {name[:MAX_NAME_CHARS]!r} is not a name")
        if len(value) > MAX_VALUE_CHARS:
            raise NoticeMalformed(f"parameter {name!r} is longer than {MAX_VALUE_CHARS}")
        try:
            plain_text(value)
        except ValueError as error:
            raise NoticeMalformed(f"parameter {name!r} {error}") from None
        if name in parameters:
            raise NoticeMalformed(f"parameter {name!r} is given more than once")
        parameters[name] = value
    return parameters


def check_timestamp(parameters: Mapping[str, str], policy: NoticePolicy, now: datetime) -> None:
    """Refuse (``NoticeUnverified``) a notice without a timestamp, or one further than the
    window from now either way: a captured notice cannot be replayed later."""
    try:
        sent = parse_timestamp(parameters.get(TIMESTAMP_PARAM, ""))
    except ValueError:
        raise NoticeUnverified("timestamp must be yyyy-MM-dd HH:mm:ss (China time)") from None
    if abs(now - sent) > timedelta(seconds=policy.window_seconds):
        raise NoticeUnverified(f"timestamp is more than {policy.window_seconds} s from now")


def check_required(parameters: Mapping[str, str]) -> None:
    """What a signed notice needs to be recorded and acted on: ``method`` and ``order_id``
    always (the order's notices are kept under it); ``token`` (echoed in every callback) and
    ``num`` (how many cards) for a ``send``. Refuses with ``NoticeMalformed``."""
    if not parameters.get(METHOD_PARAM, "").strip():
        raise NoticeMalformed("method is missing")
    order_id = parameters.get(ORDER_ID_PARAM, "")
    if not order_id:
        raise NoticeMalformed("order_id is missing")
    if len(order_id) > 64 or not _ORDER_ID.fullmatch(order_id):
        raise NoticeMalformed("order_id must be 1 to 64 letters, digits, '_', '.' or '-'")
    if NoticeMethod.of(parameters[METHOD_PARAM]) is not NoticeMethod.SEND:
        return
    token = parameters.get(TOKEN_PARAM, "")
    if not token.strip() or len(token) > MAX_TOKEN_CHARS:
        raise NoticeMalformed(f"a send needs a token of 1 to {MAX_TOKEN_CHARS} characters")
    num = parameters.get(NUM_PARAM, "")
    if not (num.isascii() and num.isdigit() and len(num) <= 6 and int(num) >= 1):
        raise NoticeMalformed("a send needs num, a whole number of cards from 1")


def read_notice(
    body: bytes,
    content_type: str,
    secret: SecretSource,
    policy: NoticePolicy,
    clock: Clock = utc_now,
) -> Notice:
    """A notice as received over HTTP, verified: decoded and bounded (else
    ``NoticeMalformed``), signed with the notice secret and timely (else ``NoticeUnverified``),
    with what its method needs (else ``NoticeMalformed``). The sign is checked before the
    content: an unsigned caller learns nothing about what a notice needs."""
    parameters = decode_notice_body(body, content_type, policy)
    verify(parameters, secret)
    now = clock()
    check_timestamp(parameters, policy, now)
    check_required(parameters)
    return Notice.of(parameters, received_at=now.isoformat(timespec="milliseconds"))


# --- writing a notice (the platform simulator) --------------------------------------------


def notice_timestamp(moment: datetime | None = None) -> str:
    """A notice timestamp for ``moment`` (now by default)."""
    return format_timestamp(moment or utc_now())


def signed_notice(parameters: Mapping[str, str], secret: str) -> dict[str, str]:
    """The parameters with their ``sign``, as the platform sends them."""
    unsigned = {name: value for name, value in parameters.items() if name != SIGN_PARAM}
    return {**unsigned, SIGN_PARAM: sign_notice(unsigned, secret)}


def notice_body(
    parameters: Mapping[str, str], secret: str, charset: str = DEFAULT_CHARSET
) -> tuple[bytes, str]:
    """A signed notice's form body and Content-Type, as the platform posts it."""
    signed = signed_notice(parameters, secret)
    body = "&".join(
        f"{quote_plus(name, encoding=charset)}={quote_plus(value, encoding=charset)}"
        for name, value in signed.items()
    )
    return body.encode("ascii"), f"{FORM_TYPE}; charset={charset.upper()}"
