"""The cards table's item layout: the one place that knows its keys and attribute names.

* a card: ``CARD#<own_sign>#<card_order_id>#<template_no>#<bucket>`` / ``<position>``, where a
  bucket holds 1,000 consecutive positions of a template. No partition takes a whole order,
  and the delivery can compute the key of any position: cards are handed out by position,
  never by scanning.
* a chunk's data key: ``CHUNKKEY#<own_sign>#<card_order_id>#<chunk_id>`` / ``KEY``, holding the
  KMS-wrapped data key that seals the chunk's secrets and the count of attempts.
* the sequence counter of a card-number scheme: ``SEQUENCE#<scheme>`` / ``COUNTER``: the next
  free sequence number (``next_sequence``) and the fingerprint of the numbering key it counts
  for (``key_fingerprint``).
* the allocation cursor of a template: ``CURSOR#<own_sign>#<card_order_id>#<template_no>`` /
  ``CURSOR``: how many of its cards are handed out (``allocated``), positions ``0 ..
  allocated - 1``. Nothing else: its size stays the same however many claims it serves.
* a claim on a template's cards: ``CLAIM#<own_sign>#<card_order_id>#<template_no>`` /
  ``<claim_id>`` (a delivery's id, or ``PRINT`` for the print run), holding its range:
  ``first`` position and ``quantity``. Written with the cursor's move in one transaction, so
  the claims of a template tile ``0 .. allocated - 1`` exactly; one Query of the partition
  lists them, and a claim asked again is found by its key. ``claimed_at`` says when; the
  print run's claim gets ``printed_at`` when an export has written its file (``PRINTED``).
* a print run's release: ``RELEASE#<own_sign>#<card_order_id>#<template_no>`` /
  ``<released_at>#<first>``: the range given back, who released it and when.

A card voided by an e-voucher refund keeps its item, with ``card_state`` ``VOIDED`` and
``voided_at``: readers see the state (``card_from_item``), so no delivery or print run hands it
out again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cardmaker.cards.card import Card
from cardmaker.cards.state import CardRecord, Claim
from cardmaker.store.keys import PK, SK, item_key

if TYPE_CHECKING:
    from cardmaker.cards.card import CardBatch
    from cardmaker.cards.print_release import PrintRelease
    from cardmaker.generation.plan import Chunk
    from cardmaker.orders.order import OrderKey

BUCKET_SIZE = 1000
# What a reader of cards needs of an item (``card_from_item``): Queries project only these.
CARD_ATTRIBUTES = ("position", "card_no", "chunk_id", "secret", "par_value", "card_state")
# What a card's state is read from (``card_record_from_item``): never the secret.
CARD_RECORD_ATTRIBUTES = ("card_no", "par_value", "created_at", "card_state", "voided_at")
# ``card_state`` of a card an e-voucher refund voided (absent: a card as generated).
VOIDED_STATE = "VOIDED"


def card_key(order: OrderKey, template_no: str, position: int) -> dict[str, Any]:
    """The key of a template's card at ``position`` (``card_items`` builds the same)."""
    partition = f"CARD#{order.own_sign}#{order.card_order_id}#{template_no}"
    return item_key(f"{partition}#{position // BUCKET_SIZE}", f"{position:07d}")


def card_items(batch: CardBatch) -> list[dict[str, Any]]:
    """The batch's cards as low-level items, keyed as ``card_key`` says (built here directly,
    without calling it per card: this is the hot path)."""
    order = batch.order
    partition = f"CARD#{order.own_sign}#{order.card_order_id}#{batch.template_no}#"
    common = {
        "entity": {"S": "CARD"},
        "chunk_id": {"S": batch.chunk_id},
        "template_no": {"S": batch.template_no},
        "par_value": {"S": batch.par_value},
        "card_order_id": {"N": str(order.card_order_id)},
        "own_sign": {"S": order.own_sign},
        "created_at": {"S": batch.created_at},
    }
    return [
        {
            PK: {"S": f"{partition}{position // BUCKET_SIZE}"},
            SK: {"S": f"{position:07d}"},
            **common,
            "card_no": {"S": number},
            "secret": {"B": secret},
            "position": {"N": str(position)},
        }
        for position, number, secret in zip(
            batch.positions, batch.card_numbers, batch.sealed_secrets, strict=True
        )
    ]


def card_from_item(order: OrderKey, template_no: str, item: dict[str, Any]) -> Card:
    """A card of ``order``'s template from its low-level item (all of ``CARD_ATTRIBUTES``)."""
    return Card(
        order=order,
        template_no=template_no,
        position=int(item["position"]["N"]),
        card_no=item["card_no"]["S"],
        chunk_id=item["chunk_id"]["S"],
        sealed_secret=item["secret"]["B"],
        par_value=item["par_value"]["S"],
        voided=item.get("card_state", {}).get("S") == VOIDED_STATE,
    )


def chunk_key_item_key(chunk: Chunk) -> dict[str, Any]:
    return chunk_key_of(chunk.order, chunk.chunk_id)


def sequence_key(scheme_name: str) -> dict[str, Any]:
    return item_key(f"SEQUENCE#{scheme_name}", "COUNTER")


def cursor_key(order: OrderKey, template_no: str) -> dict[str, Any]:
    return item_key(f"CURSOR#{order.own_sign}#{order.card_order_id}#{template_no}", "CURSOR")


def claims_partition(order: OrderKey, template_no: str) -> str:
    """The partition key of a template's claims: one Query lists them."""
    return f"CLAIM#{order.own_sign}#{order.card_order_id}#{template_no}"


def claim_key(order: OrderKey, template_no: str, claim_id: str) -> dict[str, Any]:
    return item_key(claims_partition(order, template_no), claim_id)


def claim_item(
    order: OrderKey, template_no: str, claim_id: str, positions: range, now: str
) -> dict[str, Any]:
    """A claim's item: the key ``claim_key`` gives, the claimed range and when."""
    return {
        **claim_key(order, template_no, claim_id),
        "entity": {"S": "CLAIM"},
        "first": {"N": str(positions.start)},
        "quantity": {"N": str(len(positions))},
        "claimed_at": {"S": now},
    }


def claim_from_item(item: dict[str, Any]) -> Claim:
    """A claim from its low-level item (claims written before they were dated have no
    ``claimed_at``; only an exported print run's has ``printed_at``)."""
    return Claim(
        claim_id=item[SK]["S"],
        positions=claimed_range(item),
        claimed_at=item.get("claimed_at", {}).get("S"),
        printed_at=item.get("printed_at", {}).get("S"),
    )


def card_record_from_item(item: dict[str, Any]) -> CardRecord:
    """A card's record (``CARD_RECORD_ATTRIBUTES``), never its secret."""
    return CardRecord(
        card_no=item["card_no"]["S"],
        par_value=item["par_value"]["S"],
        created_at=item.get("created_at", {}).get("S", ""),
        voided_at=item.get("voided_at", {}).get("S")
        if item.get("card_state", {}).get("S") == VOIDED_STATE
        else None,
    )


def release_item(order: OrderKey, release: PrintRelease) -> dict[str, Any]:
    """A print run's release, for good: ``RELEASE#<own_sign>#<card_order_id>#<template_no>`` /
    ``<released_at>#<first position>``. Its own item per release (the template's releases
    are one Query), never changed."""
    requester = release.released_by
    released_by = {
        name: {"S": value}
        for name, value in (
            ("user_arn", requester.user_arn),
            ("caller_id", requester.caller_id),
            ("account_id", requester.account_id),
            ("principal_org_id", requester.principal_org_id),
        )
        if value
    }
    item: dict[str, Any] = {
        **item_key(
            f"RELEASE#{order.own_sign}#{order.card_order_id}#{release.template_no}",
            f"{release.released_at}#{release.positions.start:07d}",
        ),
        "entity": {"S": "PRINT_RELEASE"},
        "own_sign": {"S": order.own_sign},
        "card_order_id": {"N": str(order.card_order_id)},
        "template_no": {"S": release.template_no},
        "first": {"N": str(release.positions.start)},
        "quantity": {"N": str(release.count)},
        "released_by": {"M": released_by},
        "released_at": {"S": release.released_at},
    }
    if release.claimed_at:
        item["claimed_at"] = {"S": release.claimed_at}
    return item


def claimed_range(item: dict[str, Any]) -> range:
    """The positions a claim's (low-level) item holds."""
    first = int(item["first"]["N"])
    return range(first, first + int(item["quantity"]["N"]))


def chunk_key_of(order: OrderKey, chunk_id: str) -> dict[str, Any]:
    return item_key(f"CHUNKKEY#{order.own_sign}#{order.card_order_id}#{chunk_id}", "KEY")
