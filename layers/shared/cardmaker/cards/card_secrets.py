"""Card secrets (卡密): unpredictable, one per card, in an unambiguous alphabet.

32 symbols (digits 2-9 and capitals without I and O: no 0/O, 1/I/l confusion when read off a
card), so each symbol carries exactly 5 bits. Every byte is reduced modulo 32, which is
unbiased because 256 is a multiple of 32.

A card's secret is drawn once per chunk, not once per attempt: the bytes come from AES-256 in
counter mode under a key derived (HKDF-SHA256) from the chunk's data key, which KMS generates
at random and every attempt of the chunk shares (``claim_chunk_key``), at counters fixed by the
card's sequence number. So every attempt of a chunk, however late or stale, writes each card
with the secret the first one wrote, and a card already handed out never changes secret. The
secrets are as unpredictable as the data key: whoever holds it can open the sealed secrets
anyway. A whole batch is one AES call and one ``bytes.translate``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALPHABET = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
BITS_PER_SYMBOL = 5
MIN_BITS = 80
DEFAULT_LENGTH = math.ceil(MIN_BITS / BITS_PER_SYMBOL)  # 16 symbols, 80 bits
_TO_ALPHABET = bytes(ALPHABET[byte % len(ALPHABET)] for byte in range(256))
_BLOCK = 16  # bytes of one AES block: one counter value
_LABEL = b"cardmaker/card-secrets"  # keeps these bytes apart from the data key's sealing


class ChunkSecrets:
    """The card secrets of one chunk, derived from its data key: the same card (sequence
    number) always gets the same secret, whichever attempt asks and in whatever batches."""

    def __init__(self, data_key: bytes, length: int = DEFAULT_LENGTH) -> None:
        if length * BITS_PER_SYMBOL < MIN_BITS:
            raise ValueError(
                f"a card secret needs at least {MIN_BITS} bits ({DEFAULT_LENGTH} symbols)"
            )
        self._length = length
        self._blocks = -(-length // _BLOCK)  # counter values per card
        self._key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(
            data_key
        )

    def secrets(self, first_sequence: int, count: int) -> list[bytes]:
        """The secrets of sequence numbers ``first_sequence ... first_sequence+count-1``, as
        ASCII bytes. Card ``s`` owns the counters ``s*blocks ... s*blocks+blocks-1``: no two
        cards share one, and one card's never depend on the batch it is made in."""
        if first_sequence < 0 or count < 0:
            raise ValueError("sequence numbers are never negative")
        stride = self._blocks * _BLOCK
        start = (first_sequence * self._blocks).to_bytes(_BLOCK, "big")
        keystream = Cipher(algorithms.AES(self._key), modes.CTR(start)).encryptor()
        symbols = keystream.update(bytes(count * stride)).translate(_TO_ALPHABET)
        return list(_cutter(count, self._length, stride)(symbols))


@lru_cache(maxsize=256)
def _cutter(count: int, length: int, stride: int) -> Callable[[bytes], tuple[bytes, ...]]:
    """Cuts ``count`` secrets of ``length`` bytes, one every ``stride`` bytes, in one C call
    (slicing them one by one in a comprehension cost as much as the AES call itself)."""
    return struct.Struct(f"{length}s{stride - length}x" * count).unpack
