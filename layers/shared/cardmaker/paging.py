"""The ``next`` token of every paged listing (orders, an order's deliveries, the audit trail):
one format and one check for all of them.

A page ends at a position; the next page starts after it. The position travels to the caller
and back as an opaque token: compact JSON of the position and the listing it belongs to,
behind a short digest, in unpadded URL-safe base64. The token is checked whole on its way
back: one that was cut, edited or made up is refused (``PageTokenInvalid``), never taken as a
position, and the caller's text is never echoed.

The token is not a secret and needs no key: it only names a place in a listing the caller may
read from its start anyway, so a forged token that passed the check would gain nothing. The
digest (personalised per listing, so a token of one listing is not another's) is there so that
a damaged token is a clear refusal rather than a listing from somewhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping

from cardmaker.errors import PageTokenInvalid

# A token is ~100-200 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 512
TOKEN_VERSION = 1
_TOKEN_CHARACTERS = re.compile(r"^[A-Za-z0-9_-]+$")
_DIGEST_BYTES = 8
NOT_OURS = "next is not a token this API gave"


def seal_page_token(listing: bytes, position: Mapping[str, object]) -> str:
    """The token of ``position`` (with what binds it to its listing) in ``listing``, a short
    name that personalises the digest (``b"cm-order-page"``)."""
    content = json.dumps({"v": TOKEN_VERSION, **position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_digest(listing, content) + content).decode().rstrip("=")


def open_page_token(token: str, listing: bytes) -> bytes:
    """The JSON ``token`` carries, if it is a whole token of ``listing`` (its fields, ``v``
    among them, are the caller's to check); else ``PageTokenInvalid``."""
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_CHARACTERS.fullmatch(token):
        raise PageTokenInvalid(NOT_OURS)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise PageTokenInvalid(NOT_OURS) from None
    digest, content = raw[:_DIGEST_BYTES], raw[_DIGEST_BYTES:]
    if len(digest) != _DIGEST_BYTES or not hmac.compare_digest(digest, _digest(listing, content)):
        raise PageTokenInvalid("next is damaged: pass it on as it came")
    return content


def _digest(listing: bytes, content: bytes) -> bytes:
    # A checksum, not a signature (see the module's docstring): no key is needed.
    return hashlib.blake2b(content, digest_size=_DIGEST_BYTES, person=listing).digest()
