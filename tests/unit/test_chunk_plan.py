"""Chunking: every card of every template in exactly one chunk, sequence numbers contiguous."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from cardmaker import CardOrderMakeRequest, Order, plan_chunks
from cardmaker.generation.plan import chunk_count
from cardmaker_cli.samples import sample_order


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=20_000), min_size=1, max_size=8),
    chunk_size=st.integers(min_value=1, max_value=7000),
    first=st.integers(min_value=0, max_value=10**12),
)
def test_chunks_cover_each_template_exactly(counts, chunk_size, first):
    templates = [(f"T{i}", count, "100") for i, count in enumerate(counts)]
    order = Order.receive(
        CardOrderMakeRequest.model_validate(sample_order(1, templates=templates)), datetime.now(UTC)
    )
    chunks = plan_chunks(order, first, chunk_size)
    for index, count in enumerate(counts):
        own = [chunk for chunk in chunks if chunk.template_index == index]
        positions = [
            p
            for chunk in own
            for p in range(chunk.first_position, chunk.first_position + chunk.count)
        ]
        assert positions == list(range(count))
        assert all(chunk.count <= chunk_size for chunk in own)
    sequences = [
        s
        for chunk in chunks
        for s in range(chunk.first_sequence, chunk.first_sequence + chunk.count)
    ]
    assert sequences == list(range(first, first + sum(counts)))
    assert len({chunk.chunk_id for chunk in chunks}) == len(chunks)
    assert plan_chunks(order, first, chunk_size) == chunks  # deterministic: retries agree
    assert chunk_count(order, chunk_size) == len(chunks)  # what starting an order records
