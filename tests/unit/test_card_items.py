"""The cards table's items: what the generator's batches become and what readers get back."""

from __future__ import annotations

from cardmaker import CardBatch, OrderKey
from cardmaker.store import PK, SK, card_schema, from_item

ORDER = OrderKey("pre", 16002)


def test_a_batch_becomes_one_item_per_card_and_reads_back_as_its_cards():
    batch = CardBatch(
        order=ORDER,
        template_no="3010030E02",
        par_value="5000",
        chunk_id="1.2",
        first_position=998,
        card_numbers=["3101000000000000017", "3101000000000000025", "3101000000000000033"],
        sealed_secrets=[b"\x01" * 44, b"\x02" * 44, b"\x03" * 44],
        created_at="2026-11-22T12:30:00.000+00:00",
    )

    items = card_schema.card_items(batch)

    # each item at the key a reader computes from the card's position (across a partition)
    assert [(item[PK], item[SK]) for item in items] == [
        tuple(card_schema.card_key(ORDER, "3010030E02", p).values()) for p in (998, 999, 1000)
    ]
    plain = from_item(items[0])
    assert {name: plain[name] for name in ("card_order_id", "own_sign")} == {
        "card_order_id": 16002,
        "own_sign": "pre",
    }
    assert "status" not in plain  # nothing that is written once and never kept up to date
    assert plain["created_at"] == batch.created_at
    # and read back, they are the batch's cards
    read = [card_schema.card_from_item(ORDER, "3010030E02", item) for item in items]
    assert read == list(batch.cards())
