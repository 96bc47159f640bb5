"""Generating an order's cards: planning it into chunks, then generating each chunk.

Both steps are idempotent and safe to retry at any point:

* planning reserves a block of sequence numbers, moves the order from RECEIVED to GENERATING
  (once: a retry reuses what the first attempt fixed) and writes the chunks, which are fully
  determined by the order;
* a chunk is skipped once counted; otherwise it seals its cards with the chunk's one data key,
  writes them at fixed keys (a retry overwrites exactly the same cards, with the same numbers
  and the same secrets, both derived from what the first attempt fixed) and is then counted
  exactly once. The last chunk counted moves the order to GENERATED.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cardmaker.cards.card import CardBatch
from cardmaker.cards.card_secrets import ChunkSecrets
from cardmaker.cards.keys import chunk_key_context
from cardmaker.cards.sealing import Sealer
from cardmaker.generation.plan import Chunk, chunk_count, plan_chunks
from cardmaker.orders.order import OrderStatus

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cardmaker.cards.numbering import CardNumberer
    from cardmaker.orders.order import OrderKey
    from cardmaker.ports import CardStore, DataKeys, GenerationStore

SEAL_BATCH = 500  # cards generated per step while earlier steps are being written


def make_cards(
    numberer: CardNumberer,
    secrets: ChunkSecrets,
    sealer: Sealer,
    first_sequence: int,
    count: int,
) -> tuple[list[str], list[bytes]]:
    """Card numbers and their sealed secrets. Secrets exist in clear only inside this call."""
    numbers = numberer.numbers(first_sequence, count)
    clear = secrets.secrets(first_sequence, count)
    return numbers, sealer.seal_many(list(map(str.encode, numbers)), clear)  # digits: ASCII


@dataclass(frozen=True)
class PlanResult:
    chunks: list[Chunk]  # the order's chunks (none if it is past GENERATING)
    started: bool  # this call moved the order from RECEIVED to GENERATING


@dataclass(frozen=True)
class ChunkResult:
    chunk_id: str
    generated: int  # cards this attempt added to the order (0 when another attempt did)
    order_status: OrderStatus


class CardGenerator:
    def __init__(
        self,
        orders: GenerationStore,
        cards: CardStore,
        numberer: CardNumberer,
        data_keys: DataKeys,
        *,
        chunk_size: int = 5000,
        secret_length: int = 16,
        max_attempts: int = 5,
    ) -> None:
        self._orders = orders
        self._cards = cards
        self._numberer = numberer
        self._data_keys = data_keys
        self._chunk_size = chunk_size
        self._secret_length = secret_length
        self._max_attempts = max_attempts

    def plan(self, key: OrderKey) -> PlanResult:
        """Start generating an order and write its chunks (again, on a retry: they are the
        same chunks)."""
        stored = self._orders.get(key)
        if stored is None:
            raise LookupError(f"order {key} does not exist")
        if stored.order.status is OrderStatus.RECEIVED:
            order, size = stored.order, self._chunk_size
            scheme = self._numberer.scheme
            first = self._cards.reserve_sequence(
                scheme.name, order.card_count, scheme.capacity, self._numberer.key_fingerprint
            )
            if self._orders.start(order, first, size, chunk_count(order, size)):
                return PlanResult(self._write_plan(plan_chunks(order, first, size)), True)
            # Another attempt started first: its block and chunking stand (this block is
            # simply never used: sequence numbers are plentiful, uniqueness is what matters).
            stored = self._orders.get(key)
        if stored is None or stored.order.status is not OrderStatus.GENERATING:
            return PlanResult([], False)
        generation = stored.generation
        assert generation is not None  # a GENERATING order always has one
        chunks = plan_chunks(stored.order, generation.first_sequence, generation.chunk_size)
        return PlanResult(self._write_plan(chunks), False)

    def _write_plan(self, chunks: list[Chunk]) -> list[Chunk]:
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
        # A chunk planned under another numbering key would number its cards differently.
        self._cards.check_numbering_key(self._numberer.scheme.name, self._numberer.key_fingerprint)
        context = chunk_key_context(chunk.order, chunk.chunk_id)
        fresh = self._data_keys.new(context)
        wrapped, attempt = self._cards.claim_chunk_key(chunk, fresh.wrapped)
        data_key = fresh if wrapped == fresh.wrapped else self._data_keys.unwrap(wrapped, context)
        # Every attempt has the same data key, so the same secrets: a stale attempt that
        # writes after another counted the chunk (and its cards were handed out) re-seals
        # each card's own secret. The writes stay plain puts, no conditions.
        secrets = ChunkSecrets(data_key.plaintext, self._secret_length)
        sealer = Sealer(data_key.plaintext)
        try:
            written = self._cards.write_cards(self._card_batches(chunk, secrets, sealer))
        except Exception as error:
            if attempt >= self._max_attempts:
                self._orders.fail(
                    chunk.order,
                    f"chunk {chunk.chunk_id} of template {chunk.template_no} failed "
                    f"{attempt} times, last with {type(error).__name__}",
                )
            raise
        counted, status = self._count(chunk, progress.chunks_total)
        return ChunkResult(chunk.chunk_id, written if counted else 0, status)

    def _card_batches(
        self, chunk: Chunk, secrets: ChunkSecrets, sealer: Sealer
    ) -> Iterator[CardBatch]:
        """The chunk's cards, a batch at a time: each batch is written while the next one is
        made."""
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        for start in range(0, chunk.count, SEAL_BATCH):
            numbers, sealed = make_cards(
                self._numberer,
                secrets,
                sealer,
                chunk.first_sequence + start,
                min(SEAL_BATCH, chunk.count - start),
            )
            yield CardBatch(
                order=chunk.order,
                template_no=chunk.template_no,
                par_value=chunk.par_value,
                chunk_id=chunk.chunk_id,
                first_position=chunk.first_position + start,
                card_numbers=numbers,
                sealed_secrets=sealed,
                created_at=created_at,
            )

    def _count(self, chunk: Chunk, chunks_total: int) -> tuple[bool, OrderStatus]:
        """Count the chunk; the one that completes the order finishes it. Returns whether
        this attempt counted it, and the order's status as this attempt leaves it."""
        chunks_done = self._orders.count_chunk(chunk)
        counted = chunks_done is not None
        if chunks_done is None:  # counted by an earlier attempt, which may have died after it
            progress = self._orders.progress(chunk.order)
            if progress.status is not OrderStatus.GENERATING:
                return counted, progress.status
            chunks_done = progress.chunks_done
        if chunks_done < chunks_total:
            return counted, OrderStatus.GENERATING
        self._orders.finish(chunk.order)
        return counted, OrderStatus.GENERATED
