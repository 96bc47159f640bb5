"""Releasing a print run: the cards a print run claimed and never printed go back to the
template's stock, with a record of who released what and when.

A print run claims every card no delivery holds (``PrintRuns.claim``); its claim is always
the template's last, up to its last card. Releasing it moves the cursor back to the claim's
first position and deletes the claim, in one transaction with the release's own record: later
deliveries take those cards again, and a later print run claims what is left then.

A printed card must never also be handed out, so a release and an export exclude each other
on the claim item: an export marks the claim printed when its file is written, on condition
that the claim still holds the range it read (``PrintRuns.confirm``); a release deletes the
claim on condition that it is not marked printed. Whichever comes second fails: a released
claim's export removes its file, a printed claim is never released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardmaker.errors import ClaimContended, OrderNotFound, PrintRefused

if TYPE_CHECKING:
    from collections.abc import Callable

    from cardmaker.deliveries.delivery import Requester
    from cardmaker.orders.order import OrderKey
    from cardmaker.ports import OrderReader, PrintClaims, StockWaiters

# Each failed attempt means the claim changed meanwhile (printed, released, claimed again).
RELEASE_ATTEMPTS = 5


@dataclass(frozen=True)
class PrintRelease:
    """A release's record: what went back to stock, who released it and when."""

    template_no: str
    positions: range
    released_by: Requester
    released_at: str
    claimed_at: str | None = None  # when the released print run had claimed them

    @property
    def count(self) -> int:
        return len(self.positions)


class PrintReleases:
    """Releases what a template's print run claimed and has not printed."""

    def __init__(
        self,
        orders: OrderReader,
        claims: PrintClaims,
        waiting: StockWaiters,
        clock: Callable[[], str],
    ) -> None:
        self._orders = orders
        self._claims = claims
        self._waiting = waiting
        self._clock = clock  # the time of a release, ISO 8601

    def wake_waiting(self, key: OrderKey) -> int:
        """Wake the order's deliveries that wait for stock (the released cards may serve
        them): each goes back to its function, which claims again or waits again. Returns
        how many were woken."""
        return sum(self._waiting.wake(found) for found in self._waiting.waiting_for_stock(key))

    def release(self, key: OrderKey, template_no: str, released_by: Requester) -> PrintRelease:
        """Give the print run's cards back to stock. Raises ``OrderNotFound``, or
        ``PrintRefused`` when the order has no such template (``no_such_template``), no print
        run holds its cards (``not_claimed``) or the print run's file was written
        (``printed``); nothing is written then."""
        stored = self._orders.get(key)
        if stored is None:
            raise OrderNotFound(f"order {key.making_card_no} does not exist")
        if stored.order.template(template_no) is None:
            known = ", ".join(t.template_no for t in stored.order.templates)
            raise PrintRefused(
                "no_such_template",
                f"order {key.making_card_no} has no template {template_no} ({known})",
            )
        claim = self._claims.print_claim(key, template_no)
        for _ in range(RELEASE_ATTEMPTS):
            if claim is None or claim.printed_at:
                break
            release = PrintRelease(
                template_no,
                claim.positions,
                released_by,
                self._clock(),
                claimed_at=claim.claimed_at,
            )
            if self._claims.release_print_claim(key, release):
                return release
            # Printed or released (and perhaps claimed again) meanwhile: look again.
            claim = self._claims.print_claim(key, template_no)
        else:
            raise ClaimContended(
                f"the print run of template {template_no} changed {RELEASE_ATTEMPTS} times "
                "while it was released: nothing was released"
            )
        if claim is None:
            raise PrintRefused(
                "not_claimed",
                f"no print run of template {template_no} holds cards of order "
                f"{key.making_card_no}: nothing to release",
            )
        raise PrintRefused(
            "printed",
            f"the print run of template {template_no} ({len(claim.positions)} cards, positions "
            f"{claim.positions.start}-{claim.positions.stop - 1}) was exported at "
            f"{claim.printed_at}: printed cards are never handed out again",
        )
