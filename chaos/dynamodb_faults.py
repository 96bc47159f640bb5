"""DynamoDB faults: orders and deliveries on the local stack while a seeded random share of
every DynamoDB call the functions make goes wrong.

Each HTTP attempt of the functions' DynamoDB client may be throttled (before DynamoDB sees it),
refused with a ``TransactionConflictException`` (writes; botocore does not retry it), or
applied with its answer lost (writes; botocore retries and meets its own write); a share of
the batch calls leave part or all of their items unprocessed. Botocore's backoffs are slept at
a tenth of what they ask (the run stays short; their number and size are what is counted), the
store's own backoffs in full. The platform and the operator retry a 5xx, as they would.

Broken invariants (exit 1): a card missing or extra at its template's positions, a number given
twice, a chunk or card counted twice, an order not GENERATED, a delivery not DELIVERED or short
of cards, a card in two deliveries or accepted by TOP under two ids, a batch given up on.
``CHAOS_SEED`` changes the run.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import warnings
from typing import Any

from cardmaker import dynamodb_client
from chaos._dynamodb_faults import DynamoDBFaults, recorded_backoffs
from chaos._schedule import Schedule
from chaos._store_checks import (
    Ledger,
    Sent,
    bind,
    check_deliveries,
    check_order,
    create_delivery,
    eticket,
    send_order,
)
from local.stack import LocalStack

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))
ORDERS = 8
DELIVERIES_PER_ORDER = 8
WRITES = {"PutItem", "UpdateItem"}
# Per HTTP attempt: the chance of each fault.
RATES = {"throttle": 0.06, "throttling": 0.03, "conflict": 0.02, "lost": 0.03}
WITHHELD_CALLS = 0.3  # share of batch calls that leave items unprocessed
TIMEOUT = 300.0


def main() -> int:
    """Run the scenario; print its figures; 1 if an invariant broke."""
    started = time.monotonic()
    rng = Schedule(SEED)  # a fault schedule, not a secret
    print(
        f"DynamoDB faults: {ORDERS} orders, {ORDERS * DELIVERIES_PER_ORDER} deliveries, faults "
        f"per attempt {RATES}, {WITHHELD_CALLS:.0%} of batch calls partly or wholly unprocessed",
        flush=True,
    )

    def on_attempt(operation: str, _params: dict[str, Any]) -> str | None:
        draw = rng.random()
        for kind, rate in RATES.items():
            if draw < rate and (kind in {"throttle", "throttling"} or operation in WRITES):
                return kind
            draw -= rate
        return None

    def withhold(_operation: str, _params: dict[str, Any]) -> float:
        return rng.choice([0.2, 0.5, 1.0]) if rng.random() < WITHHELD_CALLS else 0.0

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    log = io.StringIO()
    sent = Sent()
    ledger = Ledger()
    with (
        contextlib.redirect_stdout(io.StringIO()),  # the functions' metric lines
        LocalStack(port=0, log=log, log_level="ERROR") as stack,
        recorded_backoffs(scale=0.1) as backoffs,
    ):
        faults = DynamoDBFaults(dynamodb_client(), on_attempt, withhold)
        orders = {
            40001 + n: [(f"D{n}A", rng.randint(50, 400), "100"), (f"D{n}B", 30, "500")]
            for n in range(ORDERS)
        }
        for card_order_id, templates in orders.items():
            send_order(stack, card_order_id, templates, sent)
        stack.wait_idle(TIMEOUT)
        deliveries = []
        for card_order_id, templates in orders.items():
            for index in range(DELIVERIES_PER_ORDER):
                template_no = templates[index % 2][0]
                quantity = rng.randint(1, 5)
                body = (
                    eticket(card_order_id, template_no, quantity, f"E{card_order_id}-{index}")
                    if index % 3
                    else bind(card_order_id, template_no, quantity, f"B{card_order_id}-{index}")
                )
                deliveries.append(create_delivery(stack, body, sent))
        stack.wait_idle(TIMEOUT)
        for card_order_id, templates in orders.items():
            check_order(stack, card_order_id, templates, ledger)
        check_deliveries(stack, deliveries, ledger)
        given_up = log.getvalue().count("sent to the on-failure queue")
        stream_retries = log.getvalue().count("-> function error")
    if given_up:
        ledger.problems.append(f"{given_up} batches given up on")
    figures = {
        "dynamodb_attempts": sum(faults.attempts.values()),
        "calls_faulted": faults.calls_faulted,
        "throttled": faults.faults["throttle"] + faults.faults["throttling"],
        "transaction_conflicts": faults.faults["conflict"],
        "answers_lost_after_write": faults.faults["lost"],
        "batch_calls_partly_unprocessed": faults.faults["withheld_call"],
        "items_unprocessed": faults.withheld,
        "botocore_retries": len(backoffs.botocore),
        "store_backoffs": len(backoffs.store),
        "stream_retries": stream_retries,
        "platform_and_operator_retries": sent.retries,
        "batches_given_up": given_up,
        **ledger.figures(),
        "elapsed_s": round(time.monotonic() - started),
    }
    for name, value in figures.items():
        print(f"{name}={value}")
    for problem in ledger.problems:
        print(f"BROKEN: {problem}")
    broken = ledger.problems or ledger.lost or ledger.duplicated or ledger.duplicate_sends
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
