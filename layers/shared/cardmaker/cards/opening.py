"""Opening card secrets: the one place a sealed secret becomes clear text again, for a
delivery on its way to TOP and for the print shop's export.

Each chunk's data key is unwrapped by KMS once per call (with the encryption context it was
made under), whatever the number of cards it sealed; secrets exist in clear only in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cardmaker.cards.keys import chunk_key_context
from cardmaker.cards.sealing import Sealer
from cardmaker.errors import SecretTampered

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from cardmaker.cards.card import Card
    from cardmaker.orders.order import OrderKey
    from cardmaker.ports import ChunkKeys, KeyUnwrapper


class SecretOpener:
    def __init__(self, chunk_keys: ChunkKeys, data_keys: KeyUnwrapper) -> None:
        self._chunk_keys = chunk_keys
        self._data_keys = data_keys

    def open(self, cards: Iterable[Card]) -> list[str]:
        """The cards' secrets in clear, in the cards' order."""
        return [secret for _, secret in self.open_each(cards)]

    def open_each(self, cards: Iterable[Card]) -> Iterator[tuple[Card, str]]:
        """Each card with its secret in clear, one at a time as ``cards`` come (an export of
        a million cards holds one at a time). Raises ``SecretTampered`` naming the card whose
        secret does not open."""
        sealers: dict[tuple[OrderKey, str], Sealer] = {}
        for card in cards:
            chunk = (card.order, card.chunk_id)
            sealer = sealers.get(chunk)
            if sealer is None:
                sealer = sealers[chunk] = self._sealer(card.order, card.chunk_id)
            try:
                secret = sealer.open(card.card_no, card.sealed_secret)
            except SecretTampered:
                raise SecretTampered(
                    f"the secret of card {card.position} ({card.card_no}) does not open"
                ) from None
            yield card, secret

    def _sealer(self, order: OrderKey, chunk_id: str) -> Sealer:
        wrapped = self._chunk_keys.wrapped_chunk_key(order, chunk_id)
        data_key = self._data_keys.unwrap(wrapped, chunk_key_context(order, chunk_id))
        return Sealer(data_key.plaintext)
