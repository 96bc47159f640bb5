"""TOP faults: many small deliveries on the local stack under a seeded random fault schedule.

Every delivery (1-5 cards, e-voucher or bind) meets its own random run of faults from the
fake TOP gateway over real HTTP: read timeouts before and after the platform processed the
call, 5xx, connection resets and drops, ``isp.*`` errors, code-7 bursts, slow answers; a few
meet a partial bind or a refusal, and a few an outage that outlasts every retry. Then the
operator's ``cardmaker dlq redrive --reopen`` (the installed command, in a subprocess) sends
the deliveries that gave up again once the outage is over.

Broken invariants (exit 1): a card taken twice by the platform, a card in two deliveries, a
card sent under a delivery's id that is not its own, a delivery not in a final state, a
FAILED delivery without its reason, a redriven delivery not DELIVERED with exactly the cards
it held. ``CHAOS_SEED`` and ``CHAOS_TOP_DELIVERIES`` change the run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import requests

from cardmaker import (
    FINAL,
    Delivery,
    DeliveryStatus,
    DynamoDBCardRepository,
    DynamoDBDeliveryRepository,
)
from cardmaker_cli.samples import sample_order
from chaos._fault_plan import FaultPlan, Step
from chaos._schedule import Schedule
from chaos._top_figures import business_id, figures, foreign_cards_sent, give_up_reasons
from local.platform import sample_delivery, sign_demo_call
from local.serve import write_state
from local.stack import LocalStack
from local.top_gateway import Fault, RecordedCall

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))
DELIVERIES = int(os.environ.get("CHAOS_TOP_DELIVERIES", "120"))
ORDER_ID = 19001
OWN_SIGN = "daily"
TEMPLATES = [("CH01", 500, "100"), ("CH02", 500, "500")]
READ_TIMEOUT = 0.3  # TOP_READ_TIMEOUT_SECONDS of the functions in this run
TIMEOUT = 600.0  # the streams must be idle well within this

# One call's transient trouble: the client's retries or the stream's re-attempts get past it.
TRANSIENT: dict[str, Step] = {
    "stall_before_processing": Fault.stall(READ_TIMEOUT * 2),
    "timeout_after_processing": Fault.delay(READ_TIMEOUT * 2),
    "drop_after_processing": Fault.drop(),
    "http_500": Fault.http_status(500),
    "http_502": Fault.http_status(502),
    "http_503": Fault.http_status(503),
    "reset": Fault.reset(),
    "isp_error": Fault.error(15, "isp.top-remote-connection-timeout"),
    "service_unavailable": Fault.error(10, msg="Service Currently Unavailable"),
    "slow_answer": Fault.delay(READ_TIMEOUT / 3),
}
RATE_LIMITED = Fault.error(7, msg="App Call Limited")
# Trouble no retry gets past while it lasts (lifted before the redrive).
OUTAGES: dict[str, Fault] = {
    "outage_rate_limit": RATE_LIMITED,
    "outage_isp": Fault.error(15, "isp.remote-service-error"),
    "outage_http_503": Fault.http_status(503),
    "outage_drop": Fault.drop(),
}


@dataclass
class Planned:
    """One delivery of the run: what was asked and which faults it met."""

    kind: Literal["eticket", "bind"]
    key: str
    template_no: str
    quantity: int
    faults: list[str]
    outage: str | None = None
    delivery_id: str = ""


def plan_deliveries(rng: Schedule, plan: FaultPlan) -> list[Planned]:
    """The run's deliveries and their faults, scripted into ``plan``."""
    planned = []
    for number in range(DELIVERIES):
        kind: Literal["eticket", "bind"] = rng.choice(["eticket", "bind"])
        key = f"CH{SEED % 10_000:04d}{number:05d}"
        steps: list[Step] = []
        names: list[str] = []
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
            if rng.random() < 0.2:  # a burst of rate limiting, sometimes past the client's 4
                burst = rng.randint(2, 7)
                steps += [RATE_LIMITED] * burst
                names.append(f"rate_limit_burst_{burst}")
            else:
                name = rng.choice(sorted(TRANSIENT))
                steps.append(TRANSIENT[name])
                names.append(name)
        ending = rng.random()
        outage = None
        if ending < 0.06:
            outage = rng.choice(sorted(OUTAGES))
            names.append(outage)
        elif ending < 0.12:
            if kind == "bind":
                steps.append(_partial_bind)
                names.append("partial_bind")
            else:
                steps.append(Fault.ma_ret("isv.ma-send-fail", "发码失败"))
                names.append("ma_send_refused")
        elif ending < 0.15:
            steps.append(Fault.error(15, "isv.invalid-parameter", msg="Remote service error"))
            names.append("refused")
        plan.script(key, *steps, then=OUTAGES[outage] if outage else None)
        planned.append(
            Planned(kind, key, rng.choice(TEMPLATES)[0], rng.randint(1, 5), names, outage)
        )
    return planned


def _partial_bind(cards: tuple[str, ...]) -> Fault:
    # The first card invalid, the second failed to bind when a third is left to bind: a
    # single card fails alone (FAILED), two or more leave some bound (PARTIAL).
    return Fault.bind_result(invalid=cards[:1], bind_fail=cards[1:2] if len(cards) > 2 else ())


def create(stack: LocalStack, delivery: Planned) -> None:
    ids = {"outer_id": delivery.key} if delivery.kind == "eticket" else {"out_biz_id": delivery.key}
    body = sample_delivery(
        delivery.kind,
        card_order_id=ORDER_ID,
        own_sign=OWN_SIGN,
        template_no=delivery.template_no,
        quantity=delivery.quantity,
        **ids,
    )
    answer = requests.post(f"{stack.url}/deliveries", json=body, timeout=10)
    if answer.status_code != 202:
        raise RuntimeError(f"POST /deliveries answered {answer.status_code}: {answer.text}")
    delivery.delivery_id = answer.json()["delivery_id"]


def stored(stack: LocalStack, planned: list[Planned]) -> list[Delivery]:
    table = DynamoDBDeliveryRepository(
        stack.stack.physical["DeliveriesTable"], stack.client("dynamodb")
    )
    found = [table.get(delivery.delivery_id) for delivery in planned]
    missing = [d.delivery_id for d, got in zip(planned, found, strict=True) if got is None]
    if missing:
        raise RuntimeError(f"deliveries not found: {missing}")
    return [delivery for delivery in found if delivery is not None]


def own_cards(stack: LocalStack, deliveries: list[Delivery]) -> dict[str, set[str]]:
    """Each delivery's business id -> the numbers of the cards its claim holds."""
    cards = DynamoDBCardRepository(stack.stack.physical["CardsTable"], stack.client("dynamodb"))
    held = {}
    for delivery in deliveries:
        source, template_no = delivery.order_key, delivery.template_no
        if source is None or template_no is None:
            continue
        claimed = cards.read_cards(source, template_no, delivery.positions)
        held[business_id(delivery)] = {card.card_no for card in claimed}
    return held


def redrive(state: Path) -> list[dict[str, object]]:
    """``cardmaker dlq redrive --queue delivery --reopen --json``, the installed command."""
    script = Path(sys.executable).with_name("cardmaker")
    command = [str(script)]
    if not script.exists():  # not installed: the same entry point
        command = [sys.executable, "-c", "from cardmaker_cli.main import main; main()"]
    result = subprocess.run(
        [
            *command,
            *("--local-state", str(state), "dlq", "redrive", "--queue", "delivery"),
            *("--reopen", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"dlq redrive exited {result.returncode}: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def main() -> int:
    """Run the scenario; print its figures; 1 if an invariant broke."""
    started = time.monotonic()
    rng = Schedule(SEED)  # a fault schedule, not a secret
    environment = {
        "TOP_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    print(f"TOP faults: {DELIVERIES} deliveries of 1-5 cards, seeded fault schedule", flush=True)
    # The functions run in this process and print their metric lines to stdout: kept out of
    # the figures.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with (
        tempfile.TemporaryDirectory() as folder,
        contextlib.redirect_stdout(io.StringIO()),
        LocalStack(port=0, log=io.StringIO(), log_level="ERROR", environment=environment) as stack,
    ):
        gateway = stack.top_gateway
        assert gateway is not None
        call = sign_demo_call(sample_order(ORDER_ID, OWN_SIGN, TEMPLATES))
        answer = requests.post(
            call.url(stack.url), data=call.body, headers=call.headers, timeout=10
        )
        if answer.json()["response"]["success"] is not True:
            raise RuntimeError(f"the order was refused: {answer.text}")
        stack.wait_idle(TIMEOUT)

        plan = FaultPlan()
        planned = plan_deliveries(rng, plan)
        gateway.fail_by(plan)
        for delivery in planned:
            create(stack, delivery)
        stack.wait_idle(TIMEOUT)
        faulted_seconds = time.monotonic() - started

        deliveries = stored(stack, planned)
        held = own_cards(stack, deliveries)
        calls = gateway.calls
        result = figures(calls, deliveries)
        result["faults_injected"] = sum(1 for call in calls if call.fault is not None)
        # A delivery whose call gets through (a slow answer) never meets its later faults.
        result["outages_scripted"] = sum(1 for d in planned if d.outage)
        result["foreign_cards_sent"] = foreign_cards_sent(calls, held)
        reasons = give_up_reasons(deliveries)

        # The operator's redrive, once the outages are over.
        gave_up = [d for d in deliveries if d.failure_reason]
        for given_up in gave_up:
            plan.lift(business_id(given_up))
        state = Path(folder) / "local-stack.json"
        write_state(state, stack)
        outcomes = redrive(state) if gave_up else []
        stack.wait_idle(TIMEOUT)
        after = {d.delivery_id: d for d in stored(stack, planned)}
        calls_after = gateway.calls
        result.update(redrive_figures(gave_up, after, calls, calls_after, held, outcomes))
        final = figures(calls_after, list(after.values()))
        result["duplicate_accepted_sends_after_redrive"] = final["duplicate_accepted_sends"]
        result["cards_in_two_deliveries_after_redrive"] = final["cards_in_two_deliveries"]
        result["foreign_cards_sent_after_redrive"] = foreign_cards_sent(calls_after, held)
        result["seconds"] = round(time.monotonic() - started)
        result["seconds_faulted_run"] = round(faulted_seconds)

    print(f"seed={SEED}")
    for name, value in result.items():
        print(f"{name}={value}")
    fault_names = Counter(name for d in planned for name in d.faults)
    print(
        "# faults scripted (deliveries): "
        + ", ".join(f"{n} {c}" for n, c in sorted(fault_names.items()))
    )
    for reason, count in sorted(reasons.items()):
        print(f"# FAILED {count}: {reason or '(no reason)'}")
    broken = broken_invariants(result)
    for message in broken:
        print(f"BROKEN: {message}")
    return 1 if broken else 0


def redrive_figures(
    gave_up: list[Delivery],
    after: dict[str, Delivery],
    calls_before: list[RecordedCall],
    calls_after: list[RecordedCall],
    held: dict[str, set[str]],
    outcomes: list[dict[str, object]],
) -> dict[str, int]:
    """What the redrive did to the deliveries that gave up: each DELIVERED, with the same
    claimed positions, its new calls carrying exactly the cards it held."""
    new_calls = calls_after[len(calls_before) :]
    same_cards = delivered = 0
    for delivery in gave_up:
        now = after[delivery.delivery_id]
        key = business_id(delivery)
        sent = [set(call.cards) for call in new_calls if call.business_id == key]
        delivered += now.status is DeliveryStatus.DELIVERED and now.positions == delivery.positions
        same_cards += bool(sent) and all(cards == held[key] for cards in sent)
    return {
        "redrive_messages": len(outcomes),
        "redrive_messages_redriven": sum(1 for o in outcomes if o.get("result") == "redriven"),
        "redriven_deliveries": len(gave_up),
        "redriven_delivered_same_positions": delivered,
        "redriven_sent_exactly_their_cards": same_cards,
        "not_final_after_redrive": sum(1 for d in after.values() if d.status not in FINAL),
    }


def broken_invariants(result: dict[str, int]) -> list[str]:
    """The invariants the figures must hold; a message for each one broken."""
    broken = [
        f"{name}={result[name]} (must be 0)"
        for name in (
            "duplicate_accepted_sends",
            "cards_in_two_deliveries",
            "foreign_cards_sent",
            "not_final",
            "give_ups_without_reason",
            "duplicate_accepted_sends_after_redrive",
            "cards_in_two_deliveries_after_redrive",
            "foreign_cards_sent_after_redrive",
            "not_final_after_redrive",
        )
        if result[name]
    ]
    for name in ("redriven_delivered_same_positions", "redriven_sent_exactly_their_cards"):
        if result[name] != result["redriven_deliveries"]:
            broken.append(f"{name}={result[name]} of {result['redriven_deliveries']}")
    if result["redrive_messages_redriven"] != result["redriven_deliveries"]:
        broken.append("the redrive did not replay one message per delivery that gave up")
    return broken


if __name__ == "__main__":
    sys.exit(main())
