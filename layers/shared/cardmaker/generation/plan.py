"""Splitting an order into chunks: the unit of parallel, resumable card generation.

A chunk is a run of consecutive positions of one template. The plan is a pure function of the
order, its first sequence number and the chunk size (all stored on the order when generation
starts), so every retry of planning writes the very same chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cardmaker.orders.order import Order, OrderKey, OrderStatus


@dataclass(frozen=True)
class Chunk:
    order: OrderKey
    template_index: int
    template_no: str
    par_value: str
    number: int  # within the template
    first_position: int  # within the template
    count: int
    first_sequence: int  # global sequence number of the chunk's first card

    @property
    def chunk_id(self) -> str:
        """Short and unique within the order (it is stored in a set on the order header)."""
        return f"{self.template_index}.{self.number}"


@dataclass(frozen=True)
class ChunkProgress:
    """Where an order's chunks stand: which are counted, of how many."""

    status: OrderStatus
    done_chunks: frozenset[str]
    chunks_done: int
    chunks_total: int


def chunk_count(order: Order, chunk_size: int) -> int:
    """How many chunks ``plan_chunks`` makes of the order, without making them."""
    return sum(-(-template.count // chunk_size) for template in order.templates)


def plan_chunks(order: Order, first_sequence: int, chunk_size: int) -> list[Chunk]:
    """Every chunk of an order; sequence numbers run template by template, chunk by chunk."""
    chunks = []
    sequence = first_sequence
    for template_index, template in enumerate(order.templates):
        for number, position in enumerate(range(0, template.count, chunk_size)):
            count = min(chunk_size, template.count - position)
            chunks.append(
                Chunk(
                    order=order.key,
                    template_index=template_index,
                    template_no=template.template_no,
                    par_value=template.par_value,
                    number=number,
                    first_position=position,
                    count=count,
                    first_sequence=sequence,
                )
            )
            sequence += count
    return chunks
