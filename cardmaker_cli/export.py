"""Exporting a print run for the print shop: its cards (read and opened by the layer's
``PrintRuns``, one at a time) written row by row to a CSV file or an AES-256 ZIP entry.
Nothing is collected: memory stays the same for a hundred cards or a million."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

import pyzipper

from cardmaker import (
    CardMissing,
    DynamoDBCardRepository,
    DynamoDBOrderRepository,
    KmsDataKeys,
    OrderNotFound,
    PrintRefused,
    PrintRuns,
    SecretOpener,
    SecretTampered,
)
from cardmaker_cli.errors import CliError

if TYPE_CHECKING:
    from cardmaker import PrintedCard
    from cardmaker_cli.target import Target

COLUMNS = ("template_no", "par_value", "position", "card_no", "card_secret")
PROGRESS_STEP = 500  # rows between two progress updates


def print_runs(target: Target) -> PrintRuns:
    """The print runs of the target stack: its tables and its card data key."""
    dynamodb = target.client("dynamodb")
    cards = DynamoDBCardRepository(target.output("CardsTableName"), dynamodb)
    return PrintRuns(
        DynamoDBOrderRepository(target.output("OrdersTableName"), dynamodb),
        cards,
        SecretOpener(cards, KmsDataKeys(target.client("kms"), target.card_key_id())),
    )


@contextmanager
def print_run_messages() -> Iterator[None]:
    """The print run's refusals and failures as the command's messages (``CliError``). A
    failure while the cards are read leaves no file behind (``exclusive_file``)."""
    try:
        yield
    except OrderNotFound as missing:
        raise CliError(missing.message) from None
    except PrintRefused as refused:
        if refused.reason == "released":
            raise CliError(f"{refused.message}; the file was removed") from None
        if refused.reason == "not_generated":
            raise CliError(f"{refused.message}; export once it is GENERATED") from None
        raise CliError(refused.message) from None
    except (CardMissing, SecretTampered) as broken:
        raise CliError(f"{broken.message}: nothing was written") from None


def write_csv(
    cards: Iterable[PrintedCard],
    stream: BinaryIO,
    advance: Callable[[int], None],
) -> int:
    """Write a header and a row per card as UTF-8 CSV to ``stream``; returns the rows
    written."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    try:
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        written = 0
        for card in cards:
            writer.writerow(
                (card.template_no, card.par_value, card.position, card.card_no, card.secret)
            )
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
