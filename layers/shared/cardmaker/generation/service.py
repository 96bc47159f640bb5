"""Generating an order's cards: planning it into chunks, then generating each chunk.

Both steps are idempotent and safe to retry at any point:

* planning reserves a block of sequence numbers, moves the order from RECEIVED to GENERATING
  (once: a retry reuses what the first attempt fixed) and writes the chunks, which are fully
  determined by the order;
* a chunk is skipped once counted; otherwise it seals its cards with the chunk's one data key,
  writes them at fixed keys (a retry overwrites exactly the same cards, with the same numbers)
  and is then counted exactly once. The last chunk counted moves the order to GENERATED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from cardmaker.cards.card_secrets import generate_secrets
from cardmaker.cards.keys import chunk_key_context
from cardmaker.cards.sealing import Sealer
from cardmaker.generation.plan import Chunk, plan_chunks
from cardmaker.orders.order import OrderStatus

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from cardmaker.cards.keys import DataKey
    from cardmaker.cards.numbering import CardNumberer
    from cardmaker.orders.order import Order, OrderKey, StoredOrder

SEAL_BATCH = 500  # cards generated per step while earlier steps are being written


def make_cards(
    numberer: CardNumberer, sealer: Sealer, first_sequence: int, count: int, secret_length: int
) -> tuple[list[str], list[bytes]]:
    """Card numbers and their sealed secrets. Secrets exist in clear only inside this call."""
    numbers = numberer.numbers(first_sequence, count)
    secrets = generate_secrets(count, secret_length)
    return numbers, sealer.seal_many([number.encode("ascii") for number in numbers], secrets)


@dataclass(frozen=True)
class ChunkProgress:
    status: OrderStatus
    done_chunks: frozenset[str]
    chunks_done: int
    chunks_total: int


class GenerationStore(Protocol):
    def get(self, key: OrderKey) -> StoredOrder | None: ...
    def start(
        self, order: Order, first_sequence: int, chunk_size: int, chunks_total: int
    ) -> bool: ...
    def write_chunks(self, chunks: list[Chunk]) -> None: ...
    def progress(self, key: OrderKey) -> ChunkProgress: ...
    def count_chunk(self, chunk: Chunk) -> int | None: ...
    def finish(self, key: OrderKey) -> bool: ...
    def fail(self, key: OrderKey, reason: str) -> bool: ...


class CardStore(Protocol):
    def reserve_sequence(self, scheme_name: str, count: int, capacity: int) -> int: ...
    def claim_chunk_key(self, chunk: Chunk, wrapped: bytes) -> tuple[bytes, int]: ...
    def write_cards(self, batches: Iterable[list[dict[str, Any]]]) -> int: ...


class DataKeys(Protocol):
    def new(self, context: dict[str, str]) -> DataKey: ...
    def unwrap(self, wrapped: bytes, context: dict[str, str]) -> DataKey: ...


CardItems = Callable[[Chunk, list[str], list[bytes], str], list[dict[str, Any]]]


@dataclass(frozen=True)
class ChunkResult:
    chunk_id: str
    generated: int  # cards written by this attempt (0 when skipped)
    order_status: OrderStatus


class CardGenerator:
    def __init__(
        self,
        orders: GenerationStore,
        cards: CardStore,
        numberer: CardNumberer,
        data_keys: DataKeys,
        card_items: CardItems,
        *,
        chunk_size: int = 5000,
        secret_length: int = 16,
        max_attempts: int = 5,
    ) -> None:
        self._orders = orders
        self._cards = cards
        self._numberer = numberer
        self._data_keys = data_keys
        self._card_items = card_items
        self._chunk_size = chunk_size
        self._secret_length = secret_length
        self._max_attempts = max_attempts

    def plan(self, key: OrderKey) -> list[Chunk]:
        """Start generating an order: returns its chunks (none if it is past GENERATING)."""
        stored = self._orders.get(key)
        if stored is None:
            raise LookupError(f"order {key} does not exist")
        if stored.order.status is OrderStatus.RECEIVED:
            order = stored.order
            scheme = self._numberer.scheme
            first = self._cards.reserve_sequence(scheme.name, order.card_count, scheme.capacity)
            chunks = plan_chunks(order, first, self._chunk_size)
            # If another attempt started first, its block and chunking stand (this block is
            # simply never used: sequence numbers are plentiful, uniqueness is what matters).
            self._orders.start(order, first, self._chunk_size, len(chunks))
            stored = self._orders.get(key)
        if stored is None or stored.order.status is not OrderStatus.GENERATING:
            return []
        generation = stored.generation
        assert generation is not None  # a GENERATING order always has one
        chunks = plan_chunks(stored.order, generation.first_sequence, generation.chunk_size)
        self._orders.write_chunks(chunks)
        return chunks

    def generate(self, chunk: Chunk) -> ChunkResult:
        """Generate and store one chunk's cards, then count the chunk on its order."""
        progress = self._orders.progress(chunk.order)
        if progress.status is not OrderStatus.GENERATING or chunk.chunk_id in progress.done_chunks:
            if progress.status is OrderStatus.GENERATING and (
                progress.chunks_done >= progress.chunks_total
            ):
                # Every chunk counted but the order not finished: the attempt that counted the
                # last one failed before it could finish the order. Only a retry can.
                self._orders.finish(chunk.order)
                return ChunkResult(chunk.chunk_id, 0, OrderStatus.GENERATED)
            return ChunkResult(chunk.chunk_id, 0, progress.status)
        context = chunk_key_context(chunk.order, chunk.chunk_id)
        fresh = self._data_keys.new(context)
        wrapped, attempt = self._cards.claim_chunk_key(chunk, fresh.wrapped)
        data_key = fresh if wrapped == fresh.wrapped else self._data_keys.unwrap(wrapped, context)
        try:
            written = self._cards.write_cards(self._card_batches(chunk, Sealer(data_key.plaintext)))
        except Exception as error:
            if attempt >= self._max_attempts:
                self._orders.fail(
                    chunk.order,
                    f"chunk {chunk.chunk_id} of template {chunk.template_no} failed "
                    f"{attempt} times, last with {type(error).__name__}",
                )
            raise
        return ChunkResult(chunk.chunk_id, written, self._count(chunk, progress.chunks_total))

    def _card_batches(self, chunk: Chunk, sealer: Sealer) -> Iterator[list[dict[str, Any]]]:
        """The chunk's cards, a batch at a time: each batch is written while the next one is
        made."""
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        for start in range(0, chunk.count, SEAL_BATCH):
            part = replace(
                chunk,
                first_position=chunk.first_position + start,
                count=min(SEAL_BATCH, chunk.count - start),
            )
            numbers, sealed = make_cards(
                self._numberer,
                sealer,
                chunk.first_sequence + start,
                part.count,
                self._secret_length,
            )
            yield self._card_items(part, numbers, sealed, created_at)

    def _count(self, chunk: Chunk, chunks_total: int) -> OrderStatus:
        """Count the chunk; the one that completes the order finishes it. Returns the order's
        status as this attempt leaves it."""
        chunks_done = self._orders.count_chunk(chunk)
        if chunks_done is None:  # counted by an earlier attempt, which may have died after it
            progress = self._orders.progress(chunk.order)
            if progress.status is not OrderStatus.GENERATING:
                return progress.status
            chunks_done = progress.chunks_done
        if chunks_done < chunks_total:
            return OrderStatus.GENERATING
        self._orders.finish(chunk.order)
        return OrderStatus.GENERATED
