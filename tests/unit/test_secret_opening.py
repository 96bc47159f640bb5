"""The one secret-opening service: every card's secret in card order, each chunk's data key
unwrapped once, with the context it was made under; a secret that does not open is named."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from cardmaker import (
    Card,
    CardBatch,
    OrderKey,
    Sealer,
    SecretOpener,
    SecretTampered,
    chunk_key_context,
)
from cardmaker.cards.keys import DataKey

ORDER = OrderKey("daily", 16002)


class FakeKeys:
    """Chunk keys and KMS at once: each chunk's data key 'wrapped' as itself, reversed."""

    def __init__(self) -> None:
        self.plain: dict[str, bytes] = {}
        self.unwrapped: list[tuple[bytes, dict[str, str]]] = []

    def sealed_batch(self, chunk_id: str, first: int, secrets: list[bytes]) -> CardBatch:
        key = self.plain.setdefault(chunk_id, os.urandom(32))
        numbers = [f"3101{position:015d}" for position in range(first, first + len(secrets))]
        sealed = Sealer(key).seal_many([n.encode() for n in numbers], secrets)
        return CardBatch(ORDER, "T1", "100", chunk_id, first, numbers, sealed, "2026-11-22")

    def wrapped_chunk_key(self, order: OrderKey, chunk_id: str) -> bytes:
        assert order == ORDER
        return self.plain[chunk_id][::-1]

    def unwrap(self, wrapped: bytes, context: dict[str, str]) -> DataKey:
        self.unwrapped.append((wrapped, dict(context)))
        return DataKey(plaintext=wrapped[::-1], wrapped=wrapped)


def test_secrets_open_in_card_order_with_one_unwrap_per_chunk():
    keys = FakeKeys()
    first = keys.sealed_batch("0.0", 0, [b"AAAAAAAAAAAAAAAA", b"BBBBBBBBBBBBBBBB"])
    second = keys.sealed_batch("0.1", 2, [b"CCCCCCCCCCCCCCCC"])
    cards = [*first.cards(), *second.cards()]

    secrets = SecretOpener(keys, keys).open(cards)

    assert secrets == ["AAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCC"]
    assert [context for _, context in keys.unwrapped] == [
        chunk_key_context(ORDER, "0.0"),
        chunk_key_context(ORDER, "0.1"),
    ]


def test_opening_one_at_a_time_reads_each_card_as_it_comes():
    keys = FakeKeys()
    cards = list(keys.sealed_batch("0.0", 0, [b"AAAAAAAAAAAAAAAA", b"BBBBBBBBBBBBBBBB"]).cards())
    taken: list[Card] = []

    def one_by_one():
        for card in cards:
            taken.append(card)
            yield card

    opened = SecretOpener(keys, keys).open_each(one_by_one())
    assert next(opened) == (cards[0], "AAAAAAAAAAAAAAAA")
    assert taken == cards[:1]
    assert list(opened) == [(cards[1], "BBBBBBBBBBBBBBBB")]
    assert len(keys.unwrapped) == 1


def test_a_secret_that_does_not_open_is_named_by_its_card():
    keys = FakeKeys()
    good, moved = keys.sealed_batch("0.0", 0, [b"AAAAAAAAAAAAAAAA", b"BBBBBBBBBBBBBBBB"]).cards()
    swapped = replace(moved, sealed_secret=good.sealed_secret)  # another card's secret

    with pytest.raises(SecretTampered, match=rf"the secret of card 1 \({moved.card_no}\)"):
        SecretOpener(keys, keys).open([good, swapped])


def test_a_batch_holds_one_sealed_secret_per_card():
    batch = FakeKeys().sealed_batch("0.3", 7, [b"AAAAAAAAAAAAAAAA", b"BBBBBBBBBBBBBBBB"])
    assert len(batch) == 2
    assert [card.position for card in batch.cards()] == [7, 8]
    assert {(card.chunk_id, card.par_value) for card in batch.cards()} == {("0.3", "100")}
    card = next(batch.cards())
    assert repr(card.sealed_secret) not in repr(card)  # a card's repr shows no secret bytes
    with pytest.raises(ValueError, match="one sealed secret per card"):
        CardBatch(ORDER, "T1", "100", "0.0", 0, ["1", "2"], [b"x"], "2026-11-22")
