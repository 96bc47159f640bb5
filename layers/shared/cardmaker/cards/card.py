"""A stored card, and a batch of cards as the generator hands them to the card store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cardmaker.orders.order import OrderKey


@dataclass(frozen=True, slots=True)
class Card:
    """One card of an order's template: its number and its secret, sealed under the data key
    of the chunk that made it (``cards.opening`` opens it)."""

    order: OrderKey
    template_no: str
    position: int  # within the template: deliveries and print runs claim ranges of positions
    card_no: str
    chunk_id: str
    sealed_secret: bytes
    par_value: str
    # Voided by an e-voucher refund: never handed out again (``read_cards`` refuses it, a
    # print run leaves it out).
    voided: bool = False

    def __repr__(self) -> str:  # the sealed secret is ciphertext, but keep it out of logs
        return f"Card({self.order.label} {self.template_no}#{self.position} {self.card_no})"


@dataclass(frozen=True)
class CardBatch:
    """Consecutive cards of one chunk, made in one step: ``card_numbers[i]`` and
    ``sealed_secrets[i]`` belong to position ``first_position + i``. Columns rather than
    ``Card`` objects: this is the hot path, and the store turns the columns into its items
    directly."""

    order: OrderKey
    template_no: str
    par_value: str
    chunk_id: str
    first_position: int
    card_numbers: list[str]
    sealed_secrets: list[bytes]
    created_at: str  # ISO 8601, the same for every card of a chunk's attempt

    def __post_init__(self) -> None:
        if len(self.card_numbers) != len(self.sealed_secrets):
            raise ValueError("a batch needs one sealed secret per card number")

    def __len__(self) -> int:
        return len(self.card_numbers)

    @property
    def positions(self) -> range:
        return range(self.first_position, self.first_position + len(self.card_numbers))

    def cards(self) -> Iterator[Card]:
        """The batch's cards, one by one."""
        for position, card_no, sealed in zip(
            self.positions, self.card_numbers, self.sealed_secrets, strict=True
        ):
            yield Card(
                order=self.order,
                template_no=self.template_no,
                position=position,
                card_no=card_no,
                chunk_id=self.chunk_id,
                sealed_secret=sealed,
                par_value=self.par_value,
            )
