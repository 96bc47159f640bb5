"""The print run: a template's cards, secrets in clear, for the print shop.

A print run claims, through the template's allocation cursor (the one deliveries claim
from), every card no delivery holds yet: no delivery can hand out a printed card afterwards,
and claiming again gives the same cards. Its cards are read page by page and opened chunk by
chunk (each chunk's data key unwrapped once), one card at a time: memory stays the same for a
hundred cards or a million. Where they are written is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cardmaker.cards.state import PRINT_CLAIM, Claim
from cardmaker.errors import CardMissing, OrderNotFound, PrintRefused
from cardmaker.orders.order import OrderKey

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from cardmaker.cards.card import Card
    from cardmaker.cards.opening import SecretOpener
    from cardmaker.orders.models import CardProductInfo
    from cardmaker.ports import OrderReader, PrintClaims


@dataclass(frozen=True)
class PrintRun:
    """The cards of one template of a GENERATED order that go to print."""

    order: OrderKey
    template_no: str
    par_value: str
    generated: int  # the template's cards, printed or handed out
    positions: range  # the print run's claim: the cards no delivery held before it
    # When the claim was made (None: before claims were dated); not part of its identity.
    claimed_at: str | None = field(default=None, compare=False)

    @property
    def count(self) -> int:
        return len(self.positions)

    @property
    def handed_out_before(self) -> int:
        """How many of the template's cards deliveries held before the print run (the first
        ones): they are not in it."""
        return self.positions.start


@dataclass(frozen=True)
class PrintPlan:
    """What claiming a print run would take, looked at without claiming anything: so that
    the operator can be told before cards leave the deliveries' stock for good."""

    order: OrderKey
    template_no: str
    generated: int  # the template's cards
    positions: range  # the cards the print run would hold
    already_claimed: bool  # an earlier export claimed them: claiming again takes no more

    @property
    def count(self) -> int:
        return len(self.positions)

    @property
    def handed_out_before(self) -> int:
        """How many of the template's cards deliveries hold (the first ones)."""
        return self.positions.start

    @property
    def left_for_deliveries(self) -> int:
        """How many of the template's cards deliveries could still take before the claim
        (after it: none, the print run holds every card no delivery holds)."""
        return 0 if self.already_claimed else self.count


@dataclass(frozen=True, slots=True)
class PrintedCard:
    """One card of a print run, as the print shop gets it."""

    template_no: str
    par_value: str
    position: int
    card_no: str
    secret: str = field(repr=False)  # in clear: never in a log


class PrintRuns:
    """Claims print runs and reads their cards."""

    def __init__(self, orders: OrderReader, cards: PrintClaims, secrets: SecretOpener) -> None:
        self._orders = orders
        self._cards = cards
        self._secrets = secrets

    def plan(self, key: OrderKey, template_no: str) -> PrintPlan:
        """What ``claim`` would take now, claiming nothing (two reads). Raises as ``claim``
        does. A delivery claiming meanwhile can make the claim smaller than the plan."""
        _, generated = self._printable_template(key, template_no)
        held = self._cards.claimed(key, template_no, PRINT_CLAIM)
        if held is not None:
            return PrintPlan(key, template_no, generated, held, already_claimed=True)
        allocated = self._cards.allocated(key, template_no)
        if allocated >= generated:
            raise _nothing_left(template_no, generated)
        return PrintPlan(key, template_no, generated, range(allocated, generated), False)

    def claim(self, key: OrderKey, template_no: str) -> PrintRun:
        """The print run of an order's template: every card no delivery holds yet, claimed
        for print (the same cards when claimed again). Raises ``OrderNotFound``, or
        ``PrintRefused`` unless the order is GENERATED, has the template and has cards of
        it left; nothing is claimed then."""
        template, generated = self._printable_template(key, template_no)
        positions = self._cards.claim_rest(key, template_no, PRINT_CLAIM, generated)
        if positions is None:
            raise _nothing_left(template_no, generated)
        claim = self._cards.print_claim(key, template_no)
        claimed_at = claim.claimed_at if claim and claim.positions == positions else None
        return PrintRun(key, template_no, template.par_value, generated, positions, claimed_at)

    def _printable_template(self, key: OrderKey, template_no: str) -> tuple[CardProductInfo, int]:
        """The order's template and how many cards it has, if the order is GENERATED and
        has it; else ``OrderNotFound`` / ``PrintRefused``."""
        stored = self._orders.get(key)
        if stored is None:
            raise OrderNotFound(f"order {key.making_card_no} does not exist")
        order = stored.order
        if not order.status.has_cards:
            made = sum(stored.cards_generated.values())
            raise PrintRefused(
                "not_generated",
                f"order {key.making_card_no} is {order.status.value}, not GENERATED: "
                f"{made} of its {order.card_count} cards are made",
            )
        template = order.template(template_no)
        if template is None:
            known = ", ".join(t.template_no for t in order.templates)
            raise PrintRefused(
                "no_such_template",
                f"order {key.making_card_no} has no template {template_no} ({known})",
            )
        return template, stored.cards_generated.get(template_no, 0)

    def confirm(self, run: PrintRun, now: str) -> None:
        """Record that the run's file is written: its cards are ``PRINTED`` from now on and
        can no longer be released. Raises ``PrintRefused`` (``released``) when an operator
        released the claim meanwhile: then the file must not be used (its cards may be
        handed out), and the caller removes it. Call it once every card is written."""
        claim = Claim(PRINT_CLAIM, run.positions)
        if not self._cards.record_printed(run.order, run.template_no, claim, now):
            raise PrintRefused(
                "released",
                f"the print run of template {run.template_no} was released while it was "
                "exported: its cards went back to stock, so the file is not to be printed",
            )

    def cards(self, run: PrintRun) -> Iterator[PrintedCard]:
        """The run's cards in position order, secrets opened, one at a time as they are
        read. Raises ``CardMissing`` at the first card that is not in the table, and
        ``SecretTampered`` naming a card whose secret does not open (the cards before it
        have been yielded by then)."""
        read = self._cards.iter_cards(run.order, run.template_no, run.positions)
        seen = _Reading(following=run.positions.start)
        for card, secret in self._secrets.open_each(_printable(read, seen)):
            yield PrintedCard(run.template_no, run.par_value, card.position, card.card_no, secret)
        if seen.following != run.positions.stop:
            raise CardMissing(run.template_no, seen.following, run.count)


def _nothing_left(template_no: str, generated: int) -> PrintRefused:
    return PrintRefused(
        "nothing_left",
        f"all {generated} cards of template {template_no} were handed out by "
        "deliveries: none is left to print",
    )


@dataclass
class _Reading:
    following: int  # the position the next card must have
    voided: int = 0  # cards left out: an e-voucher refund voided them


def _printable(cards: Iterable[Card], seen: _Reading) -> Iterator[Card]:
    """The cards as long as their positions run on without a gap, leaving out the voided
    ones (their secrets are never opened): a voided card is never handed out again, and it
    is there, so it is no gap either."""
    for card in cards:
        if card.position != seen.following:
            return
        seen.following = card.position + 1
        if card.voided:
            seen.voided += 1
            continue
        yield card
