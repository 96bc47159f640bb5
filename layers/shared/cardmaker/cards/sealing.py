"""Sealing card secrets: AES-256-GCM per card under a data key, the card number as associated
data, so that a sealed secret cannot be moved to another card without failing to open.

A sealed secret is ``nonce (12 bytes) || ciphertext || tag (16 bytes)``. Nonces are random:
a data key seals at most a chunk's cards (thousands, across all its attempts), far below the
2**32 messages NIST allows per key with random 96-bit nonces.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from functools import lru_cache
from operator import add

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cardmaker.errors import SecretTampered

NONCE_BYTES = 12
DATA_KEY_BYTES = 32


class Sealer:
    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != DATA_KEY_BYTES:
            raise ValueError("the data key must be 256 bits")
        self._aead = AESGCM(data_key)

    def seal_many(self, card_numbers: list[bytes], secrets: list[bytes]) -> list[bytes]:
        """Seal each secret for its card number (both as ASCII bytes)."""
        count = len(secrets)
        nonces = _nonce_cutter(count)(os.urandom(count * NONCE_BYTES))
        return list(map(add, nonces, map(self._aead.encrypt, nonces, secrets, card_numbers)))

    def open(self, card_number: str, sealed: bytes) -> str:
        """The secret of a card, in clear: only ever in memory, on its way to the buyer."""
        try:
            plain = self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], card_number.encode("ascii")
            )
        except InvalidTag:
            raise SecretTampered("the card secret does not open for this card") from None
        return plain.decode("ascii")


@lru_cache(maxsize=256)
def _nonce_cutter(count: int) -> Callable[[bytes], tuple[bytes, ...]]:
    """Cuts ``count`` nonces from one draw of random bytes in one C call."""
    return struct.Struct(f"{NONCE_BYTES}s" * count).unpack
