"""E-voucher notices under duplicates, out-of-order notices, TOP faults and crashes.

One order's cards of template ``EV`` are the stock of two mapped merchant codes (card number
and secret, resent by ma.send; codes, resent by ma.resend); then
``CHAOS_ETICKET_NOTICES`` Taobao orders each get a seeded fate: a plain ``send``, a send
twice, a ``resend`` before its send, a send then a resend of its cards, a ``cancel`` before
its send, a cancel after delivery (then a resend of the voided cards), or a send for an
unmapped code (no stock: the run's short ``EticketStockWaitSeconds`` ends it in
``ma.failsend``). Meanwhile:

* TOP faults per Taobao order (``outer_id`` is the business id of ma.send / ma.failsend /
  ma.resend): read timeouts before and after the platform processed the call, dropped
  connections, 5xx, ``isp.*`` errors, and outages that outlast every retry until lifted;
* crashes of ``EticketFulfilmentFunction`` and ``CardDeliveryFunction``: a seeded share of
  their stream invocations dies before the handler runs, or after it did its work but
  before the batch is checkpointed (the stream hands the same records again).

Then the operator's ``cardmaker dlq redrive --queue all --reopen`` (the installed command).

Checked, not just printed (exit 1): no card in two notice deliveries' accepted ma.send, no
accepted ma.send / ma.resend for an order after its cards were voided, every send notice's
delivery ends DELIVERED, CANCELLED, or FAILED with its ma.failsend SENT, and each accepted
ma.send carries its notice's token. ``CHAOS_SEED`` and ``CHAOS_ETICKET_NOTICES`` change the run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import requests

from cardmaker import notice_delivery_id
from cardmaker_cli.notice import order_token, post_notice
from cardmaker_cli.samples import DEMO_NOTICE_SECRET, sample_notice, sample_order
from cardmaker_cli.target import Target
from chaos._fault_plan import FaultPlan, Step
from chaos._schedule import Schedule
from local.platform import sign_demo_call
from local.serve import write_state
from local.stack import LocalStack
from local.top_gateway import MA_FAILSEND, MA_RESEND, MA_SEND, Fault, RecordedCall

SEED = int(os.environ.get("CHAOS_SEED", "20261130"))
NOTICES = int(os.environ.get("CHAOS_ETICKET_NOTICES", "60"))
OWN_SIGN: Final = "daily"
STOCK_ORDER = 41001
TEMPLATE = "EV"
MAPPED = "CHAOS-EV"  # certificate_type 1: card number + secret (a resend is an ma.send again)
MAPPED_CODES = "CHAOS-EV-CODE"  # certificate_type 0: the secret as a code (resent by ma.resend)
UNMAPPED = "CHAOS-EV-NONE"
FIRST_ORDER_ID = 4200000000000000
READ_TIMEOUT = 0.3  # TOP_READ_TIMEOUT_SECONDS of the functions in this run
STOCK_WAIT = 3  # EticketStockWaitSeconds of this run
TIMEOUT = 600.0
CRASHING = ("EticketFulfilmentFunction", "CardDeliveryFunction")
FATES = ["send", "send_twice", "resend_before_send", "cancel_before_send", "cancel_after", "none"]
WEIGHTS = [3, 2, 1, 1, 2, 1]

TRANSIENT: dict[str, Step] = {
    "stall_before_processing": Fault.stall(READ_TIMEOUT * 2),
    "timeout_after_processing": Fault.delay(READ_TIMEOUT * 2),
    "drop_after_processing": Fault.drop(),
    "http_503": Fault.http_status(503),
    "isp_error": Fault.error(15, "isp.top-remote-connection-timeout"),
}
OUTAGE = Fault.error(15, "isp.remote-service-error")


class InjectedCrash(Exception):
    """The function dies here; the stream hands the batch again."""


class Crashes:
    """A seeded share of stream invocations of the crashing functions dies, before the
    handler ran or after it (its writes and calls done, the checkpoint lost)."""

    def __init__(self, rng: Schedule, share: float = 0.12) -> None:
        self._rng, self._share, self._lock = rng, share, threading.Lock()
        self.fired: Counter[str] = Counter()
        self.enabled = True

    def draw(self, function: str) -> str | None:
        if not self.enabled or not threading.current_thread().name.startswith("stream-"):
            return None
        with self._lock:
            if self._rng.random() >= self._share:
                return None
            point = self._rng.choice(["before", "after"])
            self.fired[f"{function}:{point}"] += 1
            return point


@contextlib.contextmanager
def crashing(stack: LocalStack, crashes: Crashes) -> Iterator[None]:
    saved = {name: stack.functions[name].handler for name in CRASHING}

    def wrap(name: str) -> Any:
        handler = saved[name]

        def crash_around(event: dict[str, Any], context: Any) -> Any:
            point = crashes.draw(name)
            if point == "before":
                raise InjectedCrash(f"{name} dies before its batch")
            result = handler(event, context)
            if point == "after":
                raise InjectedCrash(f"{name} dies after its batch, before the checkpoint")
            return result

        return crash_around

    for name in CRASHING:
        stack.functions[name].handler = wrap(name)
    try:
        yield
    finally:
        for name, handler in saved.items():
            stack.functions[name].handler = handler


def plan_notices(rng: Schedule, plan: FaultPlan) -> dict[str, dict[str, Any]]:
    """Each Taobao order's fate, cards asked and TOP faults."""
    orders: dict[str, dict[str, Any]] = {}
    for number in range(NOTICES):
        order_id = str(FIRST_ORDER_ID + number)
        fate = rng.choices(FATES, WEIGHTS)[0]
        names: list[str] = []
        steps: list[Step] = []
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            name = rng.choice(sorted(TRANSIENT))
            steps.append(TRANSIENT[name])
            names.append(name)
        then = None
        if rng.random() < 0.08:
            then = OUTAGE
            names.append("outage")
        plan.script(order_id, *steps, then=then)
        code = rng.choice([MAPPED, MAPPED_CODES])
        orders[order_id] = {"fate": fate, "num": rng.randint(1, 2), "faults": names, "code": code}
    return orders


def notice(order_id: str, fate: dict[str, Any], method: str) -> dict[str, str]:
    code = UNMAPPED if fate["fate"] == "none" else fate["code"]
    extra = {"cancel_num": str(fate["num"])} if method == "cancel" else {}
    return sample_notice(
        method,
        order_id,
        token=order_token(order_id),
        num=fate["num"],
        merchant_code=code,
        **extra,
    )


def post(target: Target, parameters: dict[str, str]) -> None:
    status, body = post_notice(target, parameters, DEMO_NOTICE_SECRET)
    if status != 200 or body.get("code") != 200:
        raise RuntimeError(f"notice {parameters['method']} refused: {status} {body}")


def accepted(call: RecordedCall) -> bool:
    return (
        call.sign_valid
        and call.processed
        and call.answer is not None
        and "error_response" not in call.answer
    )


def main() -> int:
    """Run the scenario; print its figures; 1 if an invariant broke."""
    started = time.monotonic()
    rng = Schedule(SEED)  # a fault schedule, not a secret
    plan = FaultPlan()
    orders = plan_notices(rng, plan)
    crashes = Crashes(rng)
    environment = {
        "TOP_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    print(
        f"eticket: {NOTICES} Taobao orders' notices (duplicates, out of order, cancels, no "
        "stock) under TOP faults and crashes, then the operator's redrive",
        flush=True,
    )
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    voided_at: dict[str, datetime] = {}
    with (
        tempfile.TemporaryDirectory() as folder,
        contextlib.redirect_stdout(io.StringIO()),
        LocalStack(
            port=0,
            log=io.StringIO(),
            log_level="ERROR",
            environment=environment,
            parameters={"EticketStockWaitSeconds": str(STOCK_WAIT)},
        ) as stack,
    ):
        gateway = stack.top_gateway
        assert gateway is not None
        target = Target("local", stack.outputs(), stack.session(), local=True)
        call = sign_demo_call(sample_order(STOCK_ORDER, OWN_SIGN, [(TEMPLATE, 3 * NOTICES, "100")]))
        requests.post(call.url(stack.url), data=call.body, headers=call.headers, timeout=30)
        stack.wait_idle(TIMEOUT)
        for code, certificate_type in ((MAPPED, 1), (MAPPED_CODES, 0)):
            product = {
                "own_sign": OWN_SIGN,
                "template_no": TEMPLATE,
                "certificate_type": certificate_type,
            }
            url = f"{stack.url}/eticket/products/{code}"
            answer = requests.put(url, json=product, timeout=30)
            if answer.status_code != 200:
                raise RuntimeError(f"PUT product answered {answer.status_code}")
        gateway.fail_by(plan)

        with crashing(stack, crashes):
            play_notices(stack, target, orders, voided_at)
        crashes.enabled = False
        before = views(stack.url, orders)
        faulted_seconds = time.monotonic() - started

        # 3. the operator's redrive, once the faults are lifted
        for order_id in orders:
            plan.lift(order_id)
        state = Path(folder) / "local-stack.json"
        write_state(state, stack)
        outcomes = redrive_queue(state, "all")
        stack.wait_idle(TIMEOUT)
        time.sleep(2)  # a schedule round for deadlines reopened by the redrive
        stack.wait_idle(TIMEOUT)
        after = views(stack.url, orders)
        calls = gateway.calls

    result = figures(orders, before, after, calls, voided_at)
    result.update(
        {
            "crashes": sum(crashes.fired.values()),
            "redrive_messages": len(outcomes),
            "seconds": round(time.monotonic() - started),
            "seconds_faulted_run": round(faulted_seconds),
        }
    )
    print(f"seed={SEED}")
    for name, value in result.items():
        print(f"{name}={value}")
    fates = Counter(str(fate["fate"]) for fate in orders.values())
    print("# fates: " + ", ".join(f"{kind} {count}" for kind, count in sorted(fates.items())))
    names = Counter(name for fate in orders.values() for name in fate["faults"])
    print("# faults scripted: " + ", ".join(f"{n} {c}" for n, c in sorted(names.items())))
    print("# crashes: " + ", ".join(f"{n} {c}" for n, c in sorted(crashes.fired.items())))
    broken = broken_invariants(result)
    for message in broken:
        print(f"BROKEN: {message}")
    return 1 if broken else 0


def play_notices(
    stack: LocalStack,
    target: Target,
    orders: dict[str, dict[str, Any]],
    voided_at: dict[str, datetime],
) -> None:
    """The platform's notices for every Taobao order, as its fate says; ``voided_at``
    gets, for each order refunded after delivery, a time by which its cards were void."""
    # 1. the first notices, some out of order
    for order_id, fate in orders.items():
        kind = fate["fate"]
        if kind == "resend_before_send":
            post(target, notice(order_id, fate, "resend"))
        if kind == "cancel_before_send":
            post(target, notice(order_id, fate, "cancel"))
        post(target, notice(order_id, fate, "send"))
        if kind == "send_twice":
            post(target, notice(order_id, fate, "send"))
    stack.wait_idle(TIMEOUT)
    # 2. the follow-ups: a second send later, refunds after delivery, resends of delivered
    # cards; then a resend of the voided cards (which must send nothing)
    for order_id, fate in orders.items():
        if fate["fate"] == "send_twice":
            post(target, notice(order_id, fate, "send"))
        if fate["fate"] == "cancel_after":
            post(target, notice(order_id, fate, "cancel"))
        if fate["fate"] == "send":  # the buyer asks for the codes again (ma.resend)
            post(target, notice(order_id, fate, "resend"))
    stack.wait_idle(TIMEOUT)
    now = datetime.now(UTC)
    for order_id, fate in orders.items():
        if fate["fate"] == "cancel_after":
            voided_at[order_id] = now
            post(target, notice(order_id, fate, "resend"))
    time.sleep(STOCK_WAIT + 2)  # the unmapped ones reach their deadline
    stack.wait_idle(TIMEOUT)


def redrive_queue(state: Path, queue: str) -> list[dict[str, object]]:
    """``cardmaker dlq redrive --queue QUEUE --reopen --json``, the installed command."""
    script = Path(sys.executable).with_name("cardmaker")
    command = [str(script)]
    if not script.exists():
        command = [sys.executable, "-c", "from cardmaker_cli.main import main; main()"]
    result = subprocess.run(
        [
            *command,
            *("--local-state", str(state), "dlq", "redrive", "--queue", queue),
            *("--reopen", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise RuntimeError(f"dlq redrive exited {result.returncode}: {result.stderr[-2000:]}")
    parsed = json.loads(result.stdout) if result.stdout.strip() else []
    return parsed if isinstance(parsed, list) else []


def views(url: str, orders: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each Taobao order's notice delivery as the operator API shows it ({} if none)."""
    found = {}
    for order_id in orders:
        answer = requests.get(f"{url}/deliveries/{notice_delivery_id(order_id)}", timeout=30)
        found[order_id] = answer.json() if answer.status_code == 200 else {}
    return found


def ended(view: dict[str, Any]) -> bool:
    status = view.get("status")
    failsend = (view.get("failsend") or {}).get("state")
    return status in ("DELIVERED", "CANCELLED") or (status == "FAILED" and failsend == "SENT")


def figures(
    orders: dict[str, dict[str, Any]],
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    calls: list[RecordedCall],
    voided_at: dict[str, datetime],
) -> dict[str, int]:
    sends = [c for c in calls if c.method == MA_SEND and accepted(c)]
    holders: dict[str, set[str]] = {}
    for call in sends:
        for card in call.cards:
            holders.setdefault(card, set()).add(call.business_id)
    reissued = [
        c
        for c in calls
        if c.method in (MA_SEND, MA_RESEND)
        and accepted(c)
        and c.business_id in voided_at
        and c.at > voided_at[c.business_id]
    ]
    statuses = Counter(str(view.get("status")) for view in after.values())
    return {
        "notices_orders": len(orders),
        "cards_in_two_deliveries": sum(1 for owners in holders.values() if len(owners) > 1),
        "voided_cards_reissued": len(reissued),
        "deliveries_not_ended": sum(1 for view in after.values() if not ended(view)),
        "deliveries_not_ended_before_redrive": sum(
            1 for view in before.values() if not ended(view)
        ),
        "ma_send_without_its_token": sum(
            1 for c in sends if c.params.get("token") != order_token(c.business_id)
        ),
        "orders_with_two_accepted_ma_send": sum(
            1 for n in Counter(c.business_id for c in sends).values() if n > 1
        ),
        "accepted_ma_send": len(sends),
        "accepted_ma_failsend": sum(1 for c in calls if c.method == MA_FAILSEND and accepted(c)),
        "accepted_ma_resend": sum(1 for c in calls if c.method == MA_RESEND and accepted(c)),
        "top_calls": len(calls),
        "delivered": statuses["DELIVERED"],
        "cancelled": statuses["CANCELLED"],
        "failed_failsend_sent": sum(
            1 for v in after.values() if v.get("status") == "FAILED" and ended(v)
        ),
        "cards_voided": sum(
            1 for v in after.values() for c in v.get("cards", []) if c.get("outcome") == "VOIDED"
        ),
    }


def broken_invariants(result: dict[str, int]) -> list[str]:
    return [
        f"{name}={result[name]} (must be 0)"
        for name in (
            "cards_in_two_deliveries",
            "voided_cards_reissued",
            "deliveries_not_ended",
            "ma_send_without_its_token",
        )
        if result[name]
    ]


if __name__ == "__main__":
    sys.exit(main())
