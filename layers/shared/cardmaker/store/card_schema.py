"""The cards table's item layout: the one place that knows its keys and attribute names.

* a card: ``CARD#<own_sign>#<card_order_id>#<template_no>#<bucket>`` / ``<position>``, where a
  bucket holds 1,000 consecutive positions of a template. No partition takes a whole order,
  and the delivery can compute the key of any position: cards are handed out by position,
  never by scanning.
* a chunk's data key: ``CHUNKKEY#<own_sign>#<card_order_id>#<chunk_id>`` / ``KEY``, holding the
  KMS-wrapped data key that seals the chunk's secrets and the count of attempts.
* the sequence counter of a card-number scheme: ``SEQUENCE#<scheme>`` / ``COUNTER``.
* the allocation cursor of a template: ``CURSOR#<own_sign>#<card_order_id>#<template_no>`` /
  ``CURSOR``: how many of its cards are handed out (``allocated``), and where each delivery's
  range starts (``claims``, a map delivery id -> first position; ``PRINT`` -> the start of the
  print run's range, which runs to the template's last card).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cardmaker.generation.plan import Chunk
    from cardmaker.orders.order import OrderKey

PK = "pk"
SK = "sk"
BUCKET_SIZE = 1000
AVAILABLE = "AVAILABLE"


def card_key(order: OrderKey, template_no: str, position: int) -> dict[str, Any]:
    bucket = position // BUCKET_SIZE
    return {
        PK: {"S": f"CARD#{order.own_sign}#{order.card_order_id}#{template_no}#{bucket}"},
        SK: {"S": f"{position:07d}"},
    }


def card_items(
    chunk: Chunk, numbers: list[str], sealed: list[bytes], created_at: str
) -> list[dict[str, Any]]:
    """The chunk's cards as low-level items (built directly: this is the hot path)."""
    order = chunk.order
    common = {
        "entity": {"S": "CARD"},
        "chunk_id": {"S": chunk.chunk_id},
        "template_no": {"S": chunk.template_no},
        "par_value": {"S": chunk.par_value},
        "card_order_id": {"N": str(order.card_order_id)},
        "own_sign": {"S": order.own_sign},
        "status": {"S": AVAILABLE},
        "created_at": {"S": created_at},
    }
    return [
        {
            **card_key(order, chunk.template_no, position),
            **common,
            "card_no": {"S": number},
            "secret": {"B": secret},
            "position": {"N": str(position)},
        }
        for position, number, secret in zip(
            range(chunk.first_position, chunk.first_position + chunk.count),
            numbers,
            sealed,
            strict=True,
        )
    ]


def chunk_key_item_key(chunk: Chunk) -> dict[str, Any]:
    return chunk_key_of(chunk.order, chunk.chunk_id)


def sequence_key(scheme_name: str) -> dict[str, Any]:
    return {PK: {"S": f"SEQUENCE#{scheme_name}"}, SK: {"S": "COUNTER"}}


def cursor_key(order: OrderKey, template_no: str) -> dict[str, Any]:
    return {
        PK: {"S": f"CURSOR#{order.own_sign}#{order.card_order_id}#{template_no}"},
        SK: {"S": "CURSOR"},
    }


def chunk_key_of(order: OrderKey, chunk_id: str) -> dict[str, Any]:
    return {
        PK: {"S": f"CHUNKKEY#{order.own_sign}#{order.card_order_id}#{chunk_id}"},
        SK: {"S": "KEY"},
    }
