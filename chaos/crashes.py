"""Crashes: the generator and the delivery function die mid-batch, at many points, and recover.

1. The sweep, in one local stack: for every crash point, a fresh small order (two templates,
   three deliveries, one of them asked for before the cards exist) runs with one injected
   crash after the Nth DynamoDB write the functions make (every write of the run: the plan,
   each chunk's BatchWriteItem calls, the chunk count, the claim, the delivery's status
   changes...), before every third one, or before or after the Nth TOP call (after it: the
   platform processed the call, the function died before recording it). The local stream
   mapping retries the record, as Lambda would.
2. Hard kills: process 1 starts a local stack on a moto server of its own process, sends an
   order of 2,037 cards and three deliveries (TOP answering slowly), and is SIGKILLed at
   several moments (mid-generation, mid-delivery, at a random one); process 2 attaches to
   the same resources, sends the same requests again and runs to completion.

After each: exact card counts per template, no duplicate card numbers, no gaps in positions,
every delivery in a final state (and delivered), no card in two deliveries.
"""

from __future__ import annotations

import socket
import sys
import time
import warnings

from chaos._crash_world import (
    Checker,
    CrashInjector,
    CrashPoint,
    Findings,
    Kill,
    Workload,
    crashing_functions,
    hard_kill_round,
    quiet_stack,
    small_workload,
    start_moto_server,
)
from chaos._schedule import Schedule
from local.stack import HOST

SEED = 6
HARD_KILL_WORKLOAD = Workload(
    60_000,
    (("3010030E02", 1500, "100"), ("3010030E03", 500, "200"), ("3010030E05", 37, "5000")),
    (("bind", "3010030E02", 3), ("eticket", "3010030E05", 2), ("bind", "3010030E03", 150)),
)


def crash_points(writes: int, top_calls: int) -> list[CrashPoint]:
    """After every write and before every third one (a crash before write N is mostly one
    after write N - 1), before and after every TOP call, of a healthy run."""
    return [
        *(CrashPoint("store", nth, "after") for nth in range(1, writes + 1)),
        *(CrashPoint("store", nth, "before") for nth in range(1, writes + 1, 3)),
        *(CrashPoint("top", nth, when) for nth in range(1, top_calls + 1) for when in WHEN),
    ]


WHEN = ("before", "after")


def sweep(out: list[str]) -> tuple[Findings, dict[str, int]]:
    """The injected crashes, one per order."""
    total = Findings()
    figures = {"crash_points_tried": 0, "crashes_fired": 0, "recoveries": 0}
    order_ids = iter(range(50_000, 60_000))
    with quiet_stack() as stack:
        checker = Checker(stack.client("dynamodb"), stack.stack.physical)
        injector = CrashInjector()
        with crashing_functions(injector):
            # A healthy run first: how many writes and TOP calls there are to crash at.
            workload = small_workload(next(order_ids))
            ids = workload.send(stack.url)
            stack.wait_idle(60)
            total.add(checker.check(workload, ids))
            writes, top_calls = sum(injector.writes.values()), injector.top_calls
            out.append(f"# healthy run: {writes} writes, {top_calls} TOP calls")
            for point in crash_points(writes, top_calls):
                injector.arm(point)
                workload = small_workload(next(order_ids))
                ids = workload.send(stack.url)
                stack.wait_idle(60)
                found = checker.check(workload, ids)
                total.add(found)
                figures["crash_points_tried"] += 1
                if injector.fired is not None:
                    figures["crashes_fired"] += 1
                    figures["recoveries"] += found.broken == 0
                for problem in found.problems:
                    out.append(f"# {point} ({injector.fired}): {problem}")
    return total, figures


def hard_kills(out: list[str]) -> tuple[Findings, dict[str, int]]:
    """Process 1 SIGKILLed at several moments; process 2 attaches and finishes."""
    rng = Schedule(SEED)
    kills = [
        Kill("generating", 0.6),
        Kill("sending", 0.0),
        Kill("sending", 0.4),
        Kill("started", round(rng.uniform(0.0, 5.0), 2)),
    ]
    total = Findings()
    figures = {"hard_kills": 0, "hard_kill_recoveries": 0}
    phases: dict[str, int] = {}
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    server = start_moto_server(port)
    try:
        for kill in kills:
            result = hard_kill_round(
                f"http://{HOST}:{port}", HARD_KILL_WORKLOAD, kill, top_delay=0.3
            )
            total.add(result.findings)
            figures["hard_kills"] += 1
            figures["hard_kill_recoveries"] += result.findings.broken == 0
            phases[result.phase] = phases.get(result.phase, 0) + 1
            out.append(
                f"# kill {kill}: {result.phase} (order {result.at_kill.order}, "
                f"{result.at_kill.cards} cards, deliveries {result.at_kill.deliveries}); "
                f"recovered in {result.recovery_seconds:.1f} s"
            )
            out += [f"#   {problem}" for problem in result.findings.problems]
    finally:
        server.kill()
        server.wait()
    for phase in ("before-generation", "mid-generation", "mid-delivery", "after-delivery"):
        figures[f"hard_kills_{phase.replace('-', '_')}"] = phases.get(phase, 0)
    return total, figures


def main() -> int:
    """Run the sweep and the hard kills; print the figures; non-zero if an invariant broke."""
    started = time.monotonic()
    # The functions publish no metrics here (POWERTOOLS_METRICS_DISABLED): not worth a warning.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    notes: list[str] = []
    print(
        "crashes: one crash injected per order (after every DynamoDB write of the functions, "
        "before every third, around every TOP call), then SIGKILLed processes replaced"
    )
    swept, sweep_figures = sweep(notes)
    killed, kill_figures = hard_kills(notes)
    found = Findings()
    found.add(swept)
    found.add(killed)
    for note in notes:
        print(note)
    figures = {
        **sweep_figures,
        **kill_figures,
        "orders_checked": found.orders_checked,
        "cards_checked": found.cards_checked,
        "deliveries_checked": found.deliveries_checked,
        "count_mismatches": found.count_mismatches,
        "duplicates": found.duplicates,
        "gaps": found.gaps,
        "orders_not_generated": found.orders_not_generated,
        "deliveries_not_final": found.deliveries_not_final,
        "deliveries_not_delivered": found.deliveries_not_delivered,
        "cards_in_two_deliveries": found.cards_in_two_deliveries,
        "delivered_cards_missing": found.delivered_cards_missing,
        "seconds": round(time.monotonic() - started),
    }
    for name, value in figures.items():
        print(f"{name}={value}")
    sys.stdout.flush()
    return 1 if found.broken or found.deliveries_not_delivered else 0


if __name__ == "__main__":
    sys.exit(main())
