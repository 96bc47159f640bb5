"""Exporting an order's cards for the print shop: read page by page from the cards table,
opened chunk by chunk with the chunk's KMS-wrapped data key, written row by row. Nothing is
collected: memory stays the same for a hundred cards or a million."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import pyzipper

from cardmaker import (
    DynamoDBCardRepository,
    DynamoDBOrderRepository,
    KmsDataKeys,
    OrderKey,
    OrderStatus,
    SecretOpener,
    SecretTampered,
)
from cardmaker_cli.errors import CliError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cardmaker import Card
    from cardmaker_cli.target import Target

COLUMNS = ("template_no", "par_value", "position", "card_no", "card_secret")
# The cursor claim a print run holds: every card of the template not handed out before it.
PRINT_CLAIM = "PRINT"
PROGRESS_STEP = 500  # rows between two progress updates


@dataclass(frozen=True)
class TemplateCards:
    """The cards of one template of a GENERATED order that go to print."""

    order: OrderKey
    template_no: str
    par_value: str
    generated: int
    positions: range  # the print run's claim: the cards no delivery holds

    @property
    def count(self) -> int:
        return len(self.positions)


@dataclass(frozen=True)
class CardSource:
    """Where an order's cards are read and opened: the stack's tables and KMS key."""

    orders: DynamoDBOrderRepository
    cards: DynamoDBCardRepository
    secrets: SecretOpener

    @classmethod
    def of(cls, target: Target) -> CardSource:
        dynamodb = target.client("dynamodb")
        cards = DynamoDBCardRepository(target.output("CardsTableName"), dynamodb)
        return cls(
            DynamoDBOrderRepository(target.output("OrdersTableName"), dynamodb),
            cards,
            SecretOpener(cards, KmsDataKeys(target.client("kms"), target.card_key_id())),
        )

    def template(self, key: OrderKey, template_no: str) -> TemplateCards:
        """The template's cards for the print shop: ``CliError`` unless the order is GENERATED
        and has it. The first export claims, through the template's allocation cursor, every
        card no delivery holds yet, so no delivery can hand out a printed card; exporting again
        gives the same cards."""
        stored = self.orders.get(key)
        if stored is None:
            raise CliError(f"order {key.making_card_no} does not exist")
        order = stored.order
        made = sum(stored.cards_generated.values())
        if order.status is not OrderStatus.GENERATED:
            raise CliError(
                f"order {key.making_card_no} is {order.status.value}, not GENERATED: "
                f"{made} of its {order.card_count} cards are made; export once it is GENERATED"
            )
        template = order.template(template_no)
        if template is None:
            known = ", ".join(t.template_no for t in order.templates)
            raise CliError(f"order {key.making_card_no} has no template {template_no} ({known})")
        generated = stored.cards_generated.get(template_no, 0)
        positions = self.cards.claim_rest(key, template_no, PRINT_CLAIM, generated)
        if positions is None:
            raise CliError(
                f"all {generated} cards of template {template_no} were handed out by "
                "deliveries: none is left to print"
            )
        return TemplateCards(key, template_no, template.par_value, generated, positions)

    def rows(self, cards: TemplateCards) -> Iterator[tuple[str, str, int, str, str]]:
        """The template's cards in position order, secrets opened, one at a time. Raises
        ``CliError`` if any card is missing or its secret does not open."""
        read = self.cards.iter_cards(cards.order, cards.template_no, cards.positions)
        following = cards.positions.start  # the position the next card must have
        try:
            for card, secret in self.secrets.open_each(_unbroken(read, following)):
                yield cards.template_no, cards.par_value, card.position, card.card_no, secret
                following = card.position + 1
        except SecretTampered as tampered:
            raise CliError(f"{tampered.message}: nothing was written") from None
        if following != cards.positions.stop:
            raise CliError(
                f"card {following} of template {cards.template_no} is missing "
                f"({cards.count} expected): nothing was written"
            )


def _unbroken(cards: Iterable[Card], start: int) -> Iterator[Card]:
    """The cards as long as their positions run on from ``start`` without a gap."""
    for expected, card in enumerate(cards, start):
        if card.position != expected:
            return
        yield card


def write_csv(
    rows: Iterator[tuple[str, str, int, str, str]],
    stream: BinaryIO,
    advance: Callable[[int], None],
) -> int:
    """Write a header and ``rows`` as UTF-8 CSV to ``stream``; returns the rows written."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    try:
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        written = 0
        for row in rows:
            writer.writerow(row)
            written += 1
            if written % PROGRESS_STEP == 0:
                advance(PROGRESS_STEP)
        advance(written % PROGRESS_STEP)
    finally:
        text.detach()  # flushes; the caller owns (and closes) the stream
    return written


@contextmanager
def encrypted_entry(stream: BinaryIO, name: str, password: str) -> Iterator[BinaryIO]:
    """One entry of an AES-256 ZIP archive (WinZip AE-2, opens in 7-Zip and WinRAR), written
    straight to ``stream`` as it comes: the archive is never held in memory."""
    with pyzipper.AESZipFile(
        stream, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(password.encode("utf-8"))
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        with archive.open(name, "w", force_zip64=True) as entry:
            yield entry
