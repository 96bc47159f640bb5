"""TOP signatures: the one place where a sign is computed.

Two flavours share the same canonical parameter string:

* outbound calls (we are the client) sign with ``md5``, ``hmac`` or ``hmac-sha256``,
  skipping parameters whose key or value is blank in Java's sense (``is_blank``);
* SPI calls (the platform calls us) are always MD5 over ``secret + params + body + secret``,
  empty values included, hashed in the request's charset.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal, get_args

SignMethod = Literal["md5", "hmac", "hmac-sha256"]
SIGN_METHODS: tuple[str, ...] = get_args(SignMethod)
SIGN_PARAM = "sign"
# Java's Character.isWhitespace, which the official SDK's StringUtils.isEmpty tests on every
# char of a value: the gateway, in Java, skips a parameter so blank. Not Python's str.isspace:
# U+0085, U+00A0, U+2007 and U+202F are spaces to Python only, and a value of them is signed.
# Measured on real Java (tests/data/java-whitespace.json, made by tools/make_sdk_vectors.py).
JAVA_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a"
    "\u2028\u2029\u205f\u3000"
)


def is_blank(text: str) -> bool:
    """Java's ``StringUtils.isEmpty``: empty, or Java whitespace only."""
    if not text:
        return True
    # Java's whitespace is a subset of Python's: text that Python's C-level isspace() refuses
    # (every ordinary value) is not blank for Java either, and costs no loop over characters.
    if not text.isspace():
        return False
    return all(char in JAVA_WHITESPACE for char in text)


def canonical_params(params: Mapping[str, str], *, skip_empty: bool) -> str:
    """Concatenate ``key1value1key2value2...`` sorted by key, leaving out ``sign``;
    ``skip_empty`` leaves out a parameter whose key or value is blank (``is_blank``)."""
    if not skip_empty:
        return "".join([key + params[key] for key in sorted(params) if key != SIGN_PARAM])
    # Signing's hot path, so no function call per parameter: only text that Python's C-level
    # isspace() calls whitespace can be blank for Java, and is_blank runs for no other.
    pairs = []
    for key in sorted(params):
        value = params[key]
        if (
            value
            and key
            and key != SIGN_PARAM
            and not (value.isspace() and is_blank(value))
            and not (key.isspace() and is_blank(key))
        ):
            pairs.append(key + value)
    return "".join(pairs)


def sign_request(params: Mapping[str, str], secret: str, sign_method: SignMethod) -> str:
    """Sign an outbound TOP request (system and business parameters alike)."""
    content = canonical_params(params, skip_empty=True).encode("utf-8")
    if sign_method == "md5":
        key = secret.encode("utf-8")
        return hashlib.md5(key + content + key, usedforsecurity=False).hexdigest().upper()
    by_secret = _KEYED_STATES.get(sign_method)
    if by_secret is None:
        raise ValueError(f"unsupported sign_method {sign_method!r}")
    # HMAC (RFC 2104) from the key's padded states, hashed once per secret: keying costs
    # more than hashing a call's parameters, and the secret changes only when it is rotated.
    # Inline rather than a helper's call: this is signing's hot path. The same bytes as
    # ``hmac.digest(key, content, digest)``, which the tests check.
    states = by_secret.get(secret)
    if states is None:
        states = _keyed_states(secret, _HMAC_DIGESTS[sign_method])
        if len(by_secret) >= _KEPT_SECRETS:  # rotated away: start afresh
            by_secret.clear()
        by_secret[secret] = states
    inner, outer = states
    state = inner.copy()
    state.update(content)
    finished = outer.copy()
    finished.update(state.digest())
    return finished.hexdigest().upper()


_HMAC_DIGESTS: dict[str, str] = {"hmac": "md5", "hmac-sha256": "sha256"}
# Per sign method, the keyed states of each secret in use (a secret or two at once, plus
# rotations), keyed by the secret as text: the credentials hand out the same string on every
# call, whose hash Python keeps, so a signature costs no encoding or hashing of the secret
# (a plain dict: ``lru_cache``'s argument tuple costs more than the lookup itself).
_KEYED_STATES: dict[str, dict[str, tuple[hashlib._Hash, hashlib._Hash]]] = {
    method: {} for method in _HMAC_DIGESTS
}
_KEPT_SECRETS = 8


def _keyed_states(secret: str, digest: str) -> tuple[hashlib._Hash, hashlib._Hash]:
    """The hash states after ``K xor ipad`` and ``K xor opad`` (RFC 2104, section 2)."""
    key = secret.encode("utf-8")
    block = hashlib.new(digest).block_size
    if len(key) > block:
        key = hashlib.new(digest, key).digest()
    key = key.ljust(block, b"\x00")
    return (
        hashlib.new(digest, key.translate(_IPAD)),
        hashlib.new(digest, key.translate(_OPAD)),
    )


_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


def spi_string_to_sign(params: Mapping[str, str], body: str | None, secret: str) -> str:
    """The text an SPI sign hashes. Debugging tools pass a placeholder as ``secret`` to show
    it without the secret: the very text ``sign_spi`` hashes, by the same code."""
    return secret + canonical_params(params, skip_empty=False) + (body or "") + secret


def sign_spi(
    params: Mapping[str, str], body: str | None, secret: str, charset: str = "utf-8"
) -> str:
    """Sign an SPI call the way the platform does: MD5, empty values included."""
    text = spi_string_to_sign(params, body, secret)
    try:
        content = text.encode(charset)
    except UnicodeEncodeError:
        # Never the codec's own message: its position would tell the secret's length.
        raise ValueError(f"the text to sign has characters {charset} cannot encode") from None
    return hashlib.md5(content, usedforsecurity=False).digest().hex().upper()


def signs_match(expected: str, received: str) -> bool:
    """Compare two signs in constant time (bytes, so that non-ASCII input cannot raise)."""
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8"))
