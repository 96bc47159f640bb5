"""Card secrets (卡密): random, from the operating system's CSPRNG, in an unambiguous alphabet.

32 symbols (digits 2-9 and capitals without I and O: no 0/O, 1/I/l confusion when read off a
card), so each symbol carries exactly 5 bits. Every random byte is reduced modulo 32, which is
unbiased because 256 is a multiple of 32; a whole batch is one ``os.urandom`` call and one
``bytes.translate``.
"""

from __future__ import annotations

import math
import os

ALPHABET = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
BITS_PER_SYMBOL = 5
MIN_BITS = 80
DEFAULT_LENGTH = math.ceil(MIN_BITS / BITS_PER_SYMBOL)  # 16 symbols, 80 bits
_TO_ALPHABET = bytes(ALPHABET[byte % len(ALPHABET)] for byte in range(256))


def generate_secrets(count: int, length: int = DEFAULT_LENGTH) -> list[bytes]:
    """``count`` secrets of ``length`` symbols each, as ASCII bytes."""
    if length * BITS_PER_SYMBOL < MIN_BITS:
        raise ValueError(f"a card secret needs at least {MIN_BITS} bits ({DEFAULT_LENGTH} symbols)")
    symbols = os.urandom(count * length).translate(_TO_ALPHABET)
    return [symbols[start : start + length] for start in range(0, count * length, length)]
