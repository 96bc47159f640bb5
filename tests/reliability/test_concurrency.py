"""Concurrency and load on the local stack over real HTTP on 127.0.0.1: the short version of
``python -m chaos load`` (the same scenarios; a few seconds of load instead of a minute)."""

from __future__ import annotations

import pytest

from chaos.load import (
    RACE_CARDS,
    RACE_DELIVERIES,
    RACE_QUANTITY,
    RaceFigures,
    duplicate_orders,
    racing_deliveries,
    racing_environments,
    spi_load,
)

FITS = RACE_CARDS // RACE_QUANTITY  # deliveries the template's cards can serve
pytestmark = pytest.mark.stack_owns_environment  # its local stack outlives each test


def test_concurrent_duplicate_orders_make_one_order(stack):
    # When one order arrives 16 times at once, each call signed at its own moment
    figures = duplicate_orders(stack, calls=16, card_order_id=41_001)
    # Then every caller got the very same answer, one order is stored, its cards made once
    assert figures.statuses == {200: 16}
    assert figures.distinct_answers == 1
    assert figures.orders_stored == 1
    assert figures.cards_generated == figures.cards_requested == 10
    assert not figures.broken


def _assert_no_double_allocation(figures: RaceFigures, delivered: int, cards: int) -> None:
    assert figures.double_allocations == 0
    assert figures.overlapping_claims == 0
    assert figures.statuses["DELIVERED"] == delivered
    assert figures.cards_delivered == cards


def test_racing_deliveries_wait_for_stock_then_share_it_exactly(stack):
    # Given more deliveries than the cards allow, created while the order is not generated,
    # when the order is generated and wakes them all, and then one more asks for the rest
    figures = racing_deliveries(stack, card_order_id=41_002)
    # Then as many as the cards allow are delivered, the others wait for stock (nothing can
    # add cards to a generated order, so they stay waiting), and the last card is served
    _assert_no_double_allocation(figures, delivered=FITS + 1, cards=RACE_CARDS)
    assert figures.statuses["WAITING_STOCK"] == RACE_DELIVERIES - FITS
    assert figures.last_card_served


def test_delivery_environments_racing_on_one_cursor_never_share_a_card(stack):
    # When several execution environments carry out deliveries of one template at once
    figures = racing_environments(stack, card_order_id=41_003)
    # Then the cursor hands each card to one delivery only
    _assert_no_double_allocation(figures, delivered=FITS, cards=FITS * RACE_QUANTITY)
    # (whatever invocation failed, say on an unknown TOP outcome, the stream carried on)
    assert figures.statuses["WAITING_STOCK"] == RACE_DELIVERIES - FITS


def test_a_few_seconds_of_spi_load_has_no_errors_and_every_order_stored(stack):
    # Last in this module: it leaves card generation behind it.
    figures = spi_load(stack, seconds=3.0)
    assert figures.calls >= 10, figures.figures()
    assert figures.errors == 0
    assert figures.orders_stored == figures.orders_acknowledged == figures.calls
    assert 0 < figures.figures()["spi_p50_ms"] <= figures.figures()["spi_p99_ms"]
