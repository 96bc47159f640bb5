"""Card generation: is it cheap next to the encryption it must do, and does it hide behind I/O?

CPU (in-process, one core, no I/O; CPU time of this process, so that other jobs on a shared
machine do not count):
  generate_cards_per_s   card numbers + secrets + AES-256-GCM sealing, the generator's own
                         ``make_cards`` in its batch size;
  aesgcm_floor_per_s     AES-256-GCM encryption alone of as many secrets (nonces, associated
                         data and secrets prepared beforehand, untimed);
  generate_vs_aesgcm_floor_ratio  goal >= 0.5.

I/O (against a moto server in another process, so that writes and generation can overlap):
  raw_batch_write_items_per_s   BatchWriteItem of card-sized items, no generation, with the
                                generator's own writer (same threads, same batch size);
  pipeline_cards_per_s          a 20,000-card order planned and generated through the
                                generator into the same server;
  pipeline_vs_raw_write_ratio   goal >= 0.8;
  generator_peak_memory_mb      tracemalloc's peak while the pipeline runs.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.goals import Goal, report
from bench.moto_stack import generator_stack
from cardmaker import (
    CardBatch,
    CardOrderMakeRequest,
    OrderKey,
    OrderStatus,
    Sealer,
    dynamodb_client,
    runtime,
)
from cardmaker.cards.card_secrets import ChunkSecrets
from cardmaker.cards.numbering import CardNumberer, CardNumberScheme
from cardmaker.generation.service import SEAL_BATCH, make_cards
from cardmaker.store import card_schema, put_in_parallel
from cardmaker_cli.samples import sample_order

CPU_CARDS = 200_000
PIPELINE_CARDS = 20_000
RAW_ITEMS = 20_000
ROUNDS = 3


def generation_rate() -> float:
    numberer = CardNumberer(CardNumberScheme(), os.urandom(32))
    data_key = os.urandom(32)
    secrets, sealer = ChunkSecrets(data_key, 16), Sealer(data_key)
    started = time.process_time()
    for first in range(0, CPU_CARDS, SEAL_BATCH):
        make_cards(numberer, secrets, sealer, first, SEAL_BATCH)
    return CPU_CARDS / (time.process_time() - started)


def aesgcm_floor_rate() -> float:
    data_key = os.urandom(32)
    numbers, _ = make_cards(
        CardNumberer(CardNumberScheme(), os.urandom(32)),
        ChunkSecrets(data_key, 16),
        Sealer(data_key),
        0,
        CPU_CARDS,
    )
    associated = [number.encode("ascii") for number in numbers]
    secrets = [os.urandom(16) for _ in range(CPU_CARDS)]
    nonces = [os.urandom(12) for _ in range(CPU_CARDS)]
    encrypt = AESGCM(os.urandom(32)).encrypt
    started = time.process_time()
    for start in range(0, CPU_CARDS, SEAL_BATCH):
        end = start + SEAL_BATCH
        list(map(encrypt, nonces[start:end], secrets[start:end], associated[start:end]))
    return CPU_CARDS / (time.process_time() - started)


def raw_write_rate(cards_table: str) -> float:
    """The same writer the card store uses (same threads, same parts), fed ready-made items
    of the same size: the items are built before the clock starts."""
    created_at = datetime.now(UTC).isoformat()
    batches = [
        card_schema.card_items(
            CardBatch(
                order=OrderKey("daily", 99),
                template_no="RAW",
                par_value="100",
                chunk_id="0.0",
                first_position=start,
                card_numbers=[f"{3101 * 10**15 + n}" for n in range(start, start + SEAL_BATCH)],
                sealed_secrets=[os.urandom(44) for _ in range(SEAL_BATCH)],
                created_at=created_at,
            )
        )
        for start in range(0, RAW_ITEMS, SEAL_BATCH)
    ]
    started = time.perf_counter()
    put_in_parallel(dynamodb_client(), cards_table, batches)
    return RAW_ITEMS / (time.perf_counter() - started)


def pipeline(card_order_id: int, *, trace_memory: bool = False) -> float:
    """Cards per second of one order through the generator; with ``trace_memory``, the peak
    memory in MB instead (tracing slows every allocation, so never both in one run)."""
    request = CardOrderMakeRequest.model_validate(
        sample_order(
            card_order_id,
            templates=[("T1", PIPELINE_CARDS // 2, "100"), ("T2", PIPELINE_CARDS // 2, "5000")],
        )
    )
    runtime.order_service().receive(request)
    key = OrderKey("daily", card_order_id)
    generator = runtime.card_generator()
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    statuses = [generator.generate(chunk).order_status for chunk in generator.plan(key).chunks]
    elapsed = time.perf_counter() - started
    if statuses[-1] is not OrderStatus.GENERATED:
        raise RuntimeError("the benchmark order did not reach GENERATED")
    if trace_memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak / 1e6
    return PIPELINE_CARDS / elapsed


def main() -> int:
    generate = max(generation_rate() for _ in range(ROUNDS))
    floor = max(aesgcm_floor_rate() for _ in range(ROUNDS))
    print(f"generation: {CPU_CARDS} cards, best of {ROUNDS}")
    print(f"generate_cards_per_s={generate:.0f}")
    print(f"aesgcm_floor_per_s={floor:.0f}")
    print(f"generate_vs_aesgcm_floor_ratio={generate / floor:.2f}  (goal >= 0.5)")

    with generator_stack() as stack:
        raw = raw_write_rate(stack.physical["CardsTable"])
        cards_per_s = pipeline(card_order_id=1)
        peak_mb = pipeline(card_order_id=2, trace_memory=True)
    print(f"pipeline: a {PIPELINE_CARDS}-card order through the generator into a moto server")
    print(f"raw_batch_write_items_per_s={raw:.0f}")
    print(f"pipeline_cards_per_s={cards_per_s:.0f}")
    print(f"pipeline_vs_raw_write_ratio={cards_per_s / raw:.2f}  (goal >= 0.8)")
    print(f"generator_peak_memory_mb={peak_mb:.1f}")
    report(
        (Goal("generate_vs_aesgcm_floor_ratio", ">=", 0.5), generate / floor),
        (Goal("pipeline_vs_raw_write_ratio", ">=", 0.8), cards_per_s / raw),
    )
    return 0
