"""Where a card stands, derived, never stored: ``AVAILABLE``, ``ALLOCATED``, ``ISSUED``,
``BOUND``, ``PRINTED`` or ``VOIDED``.

No per-card item changes as cards move: allocation moves the template's cursor and writes one
claim per delivery or print run, a delivery records each card's outcome on itself, a print
run records on its claim when its file was written, a refund marks the card ``VOIDED``. A
card's state is read from those: its own item (voided?), the cursor (handed out at all?),
the claim that covers its position (who holds it, since when) and that holder's record (what
became of it). So the state is always what the records say, with no write per card.

A card is found by its number without an index on card numbers (which would cost a write per
card): the number is a keyed permutation of a sequence number (``CardNumberer``), so the
permutation's inverse gives the sequence number back, and the order that reserved the block
holding it is found through the orders table's ``BySequence`` index (one entry per order and
per chunk).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cardmaker.deliveries.delivery import CardOutcome
from cardmaker.errors import CardNotFound

if TYPE_CHECKING:
    from cardmaker.cards.numbering import CardNumberer
    from cardmaker.orders.order import OrderKey
    from cardmaker.ports import CardLedger, DeliveryReader, OrderReader, SequenceIndex


class CardState(StrEnum):
    AVAILABLE = "AVAILABLE"  # made, held by no claim: the next delivery or print run may take it
    ALLOCATED = "ALLOCATED"  # held by a delivery or print run that has not handed it out (yet)
    ISSUED = "ISSUED"  # ma.send issued it to a buyer
    BOUND = "BOUND"  # card.bind bound it to a buyer
    PRINTED = "PRINTED"  # its print run's file was written
    VOIDED = "VOIDED"  # an e-voucher refund voided it: never handed out again


# The cursor claim a print run holds, one per template (deliveries claim under their ids).
PRINT_CLAIM = "PRINT"
_DELIVERED = {CardOutcome.ISSUED: CardState.ISSUED, CardOutcome.BOUND: CardState.BOUND}


@dataclass(frozen=True)
class CardRecord:
    """What the card's own item says (never its secret)."""

    card_no: str
    par_value: str
    created_at: str
    voided_at: str | None = None


@dataclass(frozen=True)
class Claim:
    """A claim on a template's positions: a delivery's (its id) or the print run's
    (``PRINT_CLAIM``)."""

    claim_id: str
    positions: range
    claimed_at: str | None = None  # None for a claim written before claims were dated
    printed_at: str | None = None  # a print run's: when its file was written

    @property
    def is_print_run(self) -> bool:
        return self.claim_id == PRINT_CLAIM


@dataclass(frozen=True)
class CardStatus:
    """A card as support sees it: where it comes from, where it stands, who holds it and
    since when. Never its secret."""

    card_no: str
    order: OrderKey
    template_no: str
    position: int
    par_value: str
    state: CardState
    created_at: str
    delivery_id: str | None = None  # the delivery that holds it
    print_run: bool = False  # held by the template's print run
    since: str | None = None  # when it reached its state (claimed, printed, delivered, voided)
    outcome: str | None = None  # the delivery's outcome for it, when it has one


def card_state(record: CardRecord, claim: Claim | None, outcome: CardOutcome | None) -> CardState:
    """The state the records give: voided above all, then who holds it, then what the
    holder made of it (a delivery's card without a success is still held by it)."""
    if record.voided_at is not None or outcome is CardOutcome.VOIDED:
        return CardState.VOIDED
    if claim is None:
        return CardState.AVAILABLE
    if claim.is_print_run:
        return CardState.PRINTED if claim.printed_at else CardState.ALLOCATED
    return _DELIVERED.get(outcome, CardState.ALLOCATED) if outcome else CardState.ALLOCATED


class CardLookup:
    """Finds a card by its number and says where it stands."""

    def __init__(
        self,
        numberer: CardNumberer,
        sequences: SequenceIndex,
        orders: OrderReader,
        cards: CardLedger,
        deliveries: DeliveryReader,
    ) -> None:
        self._numberer = numberer
        self._sequences = sequences
        self._orders = orders
        self._cards = cards
        self._deliveries = deliveries

    def find(self, card_no: str) -> CardStatus:
        """The card numbered ``card_no``; ``CardNotFound`` when no card has that number (a
        number of another scheme, one not handed out yet, one whose card is not made yet).
        The caller checks the number's form first (``CardNumberScheme.is_well_formed``)."""
        scheme = self._numberer.scheme
        free = card_no[len(scheme.prefix) : len(scheme.prefix) + scheme.free_digits]
        (sequence,) = self._numberer.invert([int(free)])
        order, template_no, position = self._place(card_no, sequence)
        record = self._cards.card_record(order, template_no, position)
        # The number names the card only if the card there has it: anything else (another
        # scheme's number, another key) is no card of ours.
        if record is None or record.card_no != card_no:
            raise _not_found(card_no)
        claim = self._cards.covering_claim(order, template_no, position)
        delivery = None
        outcome = None
        if claim is not None and not claim.is_print_run:
            delivery = self._deliveries.get(claim.claim_id)
            found = delivery and next(
                (card for card in delivery.cards if card.position == position), None
            )
            outcome = found.outcome if found else None
        state = card_state(record, claim, outcome)
        since = {
            CardState.AVAILABLE: record.created_at,
            CardState.VOIDED: record.voided_at or (delivery.updated_at if delivery else None),
            CardState.PRINTED: claim.printed_at if claim else None,
            CardState.ISSUED: delivery.updated_at if delivery else None,
            CardState.BOUND: delivery.updated_at if delivery else None,
        }.get(state, claim.claimed_at if claim else None)
        if state is CardState.ALLOCATED and since is None and delivery is not None:
            since = delivery.created_at
        return CardStatus(
            card_no=card_no,
            order=order,
            template_no=template_no,
            position=position,
            par_value=record.par_value,
            state=state,
            created_at=record.created_at,
            delivery_id=None if claim is None or claim.is_print_run else claim.claim_id,
            print_run=claim is not None and claim.is_print_run,
            since=since,
            outcome=None if outcome is None else outcome.value,
        )

    def _place(self, card_no: str, sequence: int) -> tuple[OrderKey, str, int]:
        """The order, template and position of a sequence number: the order whose block
        holds it, then its templates in order (sequence numbers run template by template)."""
        key = self._sequences.order_holding(sequence)
        stored = None if key is None else self._orders.get(key)
        if key is None or stored is None or stored.generation is None:
            raise _not_found(card_no)
        offset = sequence - stored.generation.first_sequence
        for template in stored.order.templates:
            if 0 <= offset < template.count:
                return key, template.template_no, offset
            offset -= template.count
        raise _not_found(card_no)


def _not_found(card_no: str) -> CardNotFound:
    # The number is the caller's own input, checked to be digits of the scheme's form: safe to
    # name (it is no secret; the secret is never read here).
    return CardNotFound(f"no card numbered {card_no}")
