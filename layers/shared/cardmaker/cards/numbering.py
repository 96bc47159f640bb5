"""Card numbers, unique by construction.

A counter hands out sequence numbers; a keyed permutation of the free digits turns each one
into a number that looks random and cannot be predicted without the key, yet can never repeat:
a permutation is a bijection, so distinct sequence numbers give distinct card numbers. Cards
can then be written without conditional checks.

The permutation is a ten-round Feistel network on the bits of ``[0, 2**b)`` (alternating halves
of ``b//2`` and ``b - b//2`` bits, as in NIST SP 800-38G's FF1), with AES-256 on one block as
the round function (one key per round, derived from the secret and the scheme), and cycle
walking to stay inside ``[0, 10**free_digits)``: a value that lands outside is permuted again
until it lands inside, which keeps the whole a bijection of the decimal domain.

Rounds run over a whole batch at once: the halves of every number sit in 16-byte slots of one
buffer, the AES call encrypts the buffer, and the XOR and masking are single big-integer
operations, so a round costs a few nanoseconds per number.

A scheme has 6 to 19 free digits. Each value travels in the low 64 bits of its slot, and
``10**19 - 1`` is the largest power-of-ten domain that fits them: with 20 free digits the
high bits would be cut off and two sequence numbers could become one card number. Below a
million numbers (FF1's own minimum domain, NIST SP 800-38G Rev. 1) a keyed permutation no
longer hides the next card number well: the whole space can be enumerated and each number
is a large share of it.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from typing import Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CheckDigit = Literal["none", "luhn"]
ROUNDS = 10
MIN_FREE_DIGITS = 6  # a domain of a million at least, as FF1 requires
MAX_FREE_DIGITS = 19  # 10**19 - 1 < 2**64: a value fits its slot's 64 bits ("8xQ")
_SLOT = 16  # bytes per number in a round buffer: one AES block
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


@dataclass(frozen=True)
class CardNumberScheme:
    """What a card number looks like: ``length`` digits = ``prefix`` + free digits (+ check)."""

    length: int = 19
    prefix: str = "3101"
    check_digit: CheckDigit = "none"

    def __post_init__(self) -> None:
        if self.prefix and not self.prefix.isdigit():
            raise ValueError("the prefix must be digits")
        if not MIN_FREE_DIGITS <= self.free_digits <= MAX_FREE_DIGITS:
            raise ValueError(
                f"a card number needs {MIN_FREE_DIGITS} to {MAX_FREE_DIGITS} free digits (its"
                f" length minus the prefix and the check digit), not {self.free_digits}"
            )

    @property
    def free_digits(self) -> int:
        return self.length - len(self.prefix) - (1 if self.check_digit == "luhn" else 0)

    @property
    def capacity(self) -> int:
        """How many distinct card numbers the scheme has."""
        return int(10**self.free_digits)  # int ** int is typed Any: a negative power is a float

    @property
    def name(self) -> str:
        """Identifies the number space (the sequence counter is kept per scheme)."""
        return f"{self.length}-{self.prefix or 'none'}-{self.check_digit}"

    def is_well_formed(self, number: str) -> bool:
        if len(number) != self.length or not number.isdigit() or not number.startswith(self.prefix):
            return False
        return self.check_digit == "none" or luhn_digit(number[:-1]) == number[-1]


class CardNumberer:
    """Maps sequence numbers to card numbers of a scheme under a secret key. Not shared between
    threads (its AES contexts are reused from call to call)."""

    def __init__(self, scheme: CardNumberScheme, key: bytes) -> None:
        self.scheme = scheme
        # Names the key without revealing it: the sequence counter is bound to it.
        self.key_fingerprint = hmac.new(
            key, f"card-number/{scheme.name}/fingerprint".encode(), hashlib.sha256
        ).hexdigest()[:32]
        self._domain = scheme.capacity
        bits = (self._domain - 1).bit_length()
        self._high_bits = bits // 2
        self._low_bits = bits - self._high_bits
        # ECB on single blocks is the PRF of FF1: each block is one number's half, never data
        # longer than a block. An ECB context keeps no state between calls, so one per round
        # serves every batch (creating one costs more than encrypting a batch of 500).
        self._rounds = [
            Cipher(algorithms.AES(_round_key(key, scheme, number)), modes.ECB()).encryptor()  # noqa: S305
            for number in range(ROUNDS)
        ]

    def numbers(self, first_sequence: int, count: int) -> list[str]:
        """The card numbers of sequence numbers ``first_sequence ... first_sequence+count-1``."""
        if first_sequence < 0 or first_sequence + count > self._domain:
            raise ValueError(f"sequence numbers must stay within 0..{self._domain - 1}")
        values = self.permute(range(first_sequence, first_sequence + count))
        # One format of the whole batch, split: a third cheaper than a str() call per number.
        text = _batch_format(self.scheme.prefix, self.scheme.free_digits, count) % tuple(values)
        bodies = text.split(",") if count else []
        if self.scheme.check_digit == "luhn":
            return [body + luhn_digit(body) for body in bodies]
        return bodies

    def permute(self, values: range | list[int]) -> list[int]:
        """The keyed permutation of ``[0, 10**free_digits)``, applied to many values at once."""
        return self._walk(list(values), self._feistel)

    def invert(self, values: list[int]) -> list[int]:
        """The inverse permutation: a card number back to its sequence number (``CardLookup``)."""
        return self._walk(list(values), self._feistel_inverse)

    def _walk(self, values: list[int], step: Callable[[list[int]], list[int]]) -> list[int]:
        result = step(values)
        domain = self._domain
        # which values landed outside, found at C speed (a comprehension over a whole batch
        # cost as much as two of its rounds)
        outside = list(compress(range(len(result)), map(domain.__le__, result)))
        while outside:
            again = step([result[index] for index in outside])
            for index, value in zip(outside, again, strict=True):
                result[index] = value
            outside = [index for index in outside if result[index] >= domain]
        return result

    def _feistel(self, values: list[int]) -> list[int]:
        # The rounds are inlined (not ``_round``): on the short lists of cycle walking a
        # call per round costs as much as the round's work.
        count = len(values)
        size = count * _SLOT
        high, low = self._split(values)
        masks = (_slot_mask(count, self._high_bits), _slot_mask(count, self._low_bits))
        for round_number, encryptor in enumerate(self._rounds):
            mixed = int.from_bytes(encryptor.update(low.to_bytes(size, "big")), "big")
            high, low = low, high ^ (mixed & masks[round_number % 2])
        return self._join(high, low, count)

    def _feistel_inverse(self, values: list[int]) -> list[int]:
        count = len(values)
        high, low = self._split(values)
        for round_number in reversed(range(ROUNDS)):
            width = self._high_bits if round_number % 2 == 0 else self._low_bits
            high, low = low ^ self._round(round_number, high, count, width), high
        return self._join(high, low, count)

    def _split(self, values: list[int]) -> tuple[int, int]:
        """Every value's high and low bits, each half in the low end of its 16-byte slot,
        as two big integers (one slot per value). Shifting the whole buffer moves each slot's
        high bits down; what it drags in from the next slot is masked away."""
        count = len(values)
        pack, _ = _slot_codec(count)
        whole = int.from_bytes(pack(*values), "big")
        high = (whole >> self._low_bits) & _slot_mask(count, self._high_bits)
        return high, whole & _slot_mask(count, self._low_bits)

    def _join(self, high: int, low: int, count: int) -> list[int]:
        _, unpack = _slot_codec(count)
        return list(unpack(((high << self._low_bits) | low).to_bytes(count * _SLOT, "big")))

    def _round(self, round_number: int, half: int, count: int, width: int) -> int:
        """AES_k[round] of every slot, cut to ``width`` bits per slot."""
        mixed = self._rounds[round_number].update(half.to_bytes(count * _SLOT, "big"))
        return int.from_bytes(mixed, "big") & _slot_mask(count, width)


def _round_key(key: bytes, scheme: CardNumberScheme, round_number: int) -> bytes:
    label = f"card-number/{scheme.name}/round-{round_number}".encode()
    return hashlib.sha256(key + b"\x00" + label).digest()


@lru_cache(maxsize=1024)
def _slot_codec(count: int) -> tuple[Callable[..., bytes], Callable[[bytes], tuple[int, ...]]]:
    """Pack values into the last 8 bytes of 16-byte slots, and read them back. 64 bits carry
    every value of a scheme (``MAX_FREE_DIGITS``); the Feistel halves never reach the upper 8
    bytes, so the AES block is the half, zero-extended."""
    layout = struct.Struct(">" + "8xQ" * count)
    return layout.pack, layout.unpack


@lru_cache(maxsize=64)
def _batch_format(prefix: str, free_digits: int, count: int) -> str:
    """``count`` numbers, comma-separated: the prefix, then the value zero-padded (prefixes
    are digits, so never a ``%``)."""
    return ",".join([f"{prefix}%0{free_digits}d"] * count)


@lru_cache(maxsize=2048)
def _slot_mask(count: int, width: int) -> int:
    return int.from_bytes((((1 << width) - 1).to_bytes(_SLOT, "big")) * count, "big")


def luhn_digit(body: str) -> str:
    """The Luhn check digit to append to ``body``."""
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = ord(char) - 48
        total += _LUHN_DOUBLED[digit] if index % 2 == 0 else digit
    return str((10 - total % 10) % 10)
