"""Platform notifications under crashes, duplicate stream records and TOP faults.

Orders on the local stack go through their lifecycle: some of test templates only (the
notifier makes them MADE itself), the rest made by an operator and most of them shipped, a
few shipped at once (before ``make.finish`` can have gone out). Meanwhile:

* TOP faults, per order (``card_order_id`` is the notices' business id): read timeouts
  before and after the platform processed the call, dropped connections, resets, 5xx,
  ``isp.*`` errors, rate-limit bursts, slow answers; a few refusals (``isv.*``,
  ``success: false``) and outages that outlast every retry;
* crashes of the notifier: after the attempt is counted and before the call, and after the
  platform answered but before ``SENT`` is recorded (the retry must repeat the same call);
* duplicate stream records: every record the notifier's filter takes is delivered to it
  twice more once the streams are idle.

Then the operator's ``cardmaker dlq redrive --queue notifier --reopen`` (the installed
command) sends what FAILED once the faults are lifted.

Checked, not just printed (exit 1): exactly one accepted ``make.finish`` per MADE order and
one accepted ``status.sended`` per SHIPPED order, ``status.sended`` never accepted before
``make.finish``, no call for an order that owes none or after its notification was recorded
SENT (a second send, even one the platform would take as a repeat), the waybill sent as
recorded, and
every notification SENT after the redrive. ``CHAOS_SEED`` and ``CHAOS_NOTIFY_ORDERS`` change
the run.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import requests

from cardmaker import (
    CardTemplateAnnouncement,
    DynamoDBLifecycleRepository,
    DynamoDBTemplateRegistry,
    NoticeState,
    OrderKey,
    Waybill,
    notification_task,
)
from cardmaker.top import MakeFinishRequest, StatusSendedRequest, utc_now
from cardmaker_cli.samples import sample_order
from cardmaker_cli.stream_records import lambda_record
from chaos._fault_plan import FaultPlan, Step
from chaos._schedule import Schedule
from chaos._top_figures import notice_figures
from local.platform import sign_demo_call
from local.serve import write_state
from local.stack import LocalStack
from local.streams import streams_client
from local.top_gateway import Fault

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))
ORDERS = int(os.environ.get("CHAOS_NOTIFY_ORDERS", "40"))
FIRST_ORDER = 31001
OWN_SIGN: Final = "daily"
READ_TIMEOUT = 0.3  # TOP_READ_TIMEOUT_SECONDS of the functions in this run
TIMEOUT = 600.0
MAKE_FINISH = MakeFinishRequest.METHOD
STATUS_SENDED = StatusSendedRequest.METHOD
NOTIFIER = "PlatformNotifierFunction"

TRANSIENT: dict[str, Step] = {
    "stall_before_processing": Fault.stall(READ_TIMEOUT * 2),
    "timeout_after_processing": Fault.delay(READ_TIMEOUT * 2),
    "drop_after_processing": Fault.drop(),
    "http_500": Fault.http_status(500),
    "http_503": Fault.http_status(503),
    "reset": Fault.reset(),
    "isp_error": Fault.error(15, "isp.top-remote-connection-timeout"),
    "service_unavailable": Fault.error(10, msg="Service Currently Unavailable"),
    "slow_answer": Fault.delay(READ_TIMEOUT / 3),
}
RATE_LIMITED = Fault.error(7, msg="App Call Limited")
REFUSALS: dict[str, Fault] = {
    "refused_isv": Fault.error(15, "isv.invalid-parameter", msg="Remote service error"),
    "refused_not_successful": Fault.notice_result(success=False),
}
OUTAGES: dict[str, Fault] = {
    "outage_isp": Fault.error(15, "isp.remote-service-error"),
    "outage_drop": Fault.drop(),
}


class InjectedCrash(Exception):
    """The notifier dies here; the stream retries the record."""


class Crashes:
    """One crash per chosen order and point: ``counted`` (after the attempt is counted,
    before the call) or ``answered`` (after the platform answered, before SENT)."""

    def __init__(self, plan: dict[int, str]) -> None:
        self._plan = dict(plan)
        self._lock = threading.Lock()
        self.fired: Counter[str] = Counter()

    def crash(self, order: int, point: str) -> None:
        if not threading.current_thread().name.startswith("stream-"):
            return  # the operator's redrive and the test's own writes are not crash points
        with self._lock:
            if self._plan.get(order) != point:
                return
            del self._plan[order]
            self.fired[point] += 1
        raise InjectedCrash(f"crash {point} for order {order}")


@contextlib.contextmanager
def crashing_notifier(crashes: Crashes) -> Iterator[None]:
    """The notifier's two writes around the call go through ``crashes``."""
    start, record = (
        DynamoDBLifecycleRepository.start_notice_attempt,
        DynamoDBLifecycleRepository.record_notice,
    )

    def start_then_crash(self: Any, key: OrderKey, *args: Any, **kwargs: Any) -> bool:
        counted = start(self, key, *args, **kwargs)
        if counted:
            crashes.crash(key.card_order_id, "counted")
        return counted

    def crash_then_record(self: Any, key: OrderKey, notice: Any, recorded: Any, **kw: Any) -> bool:
        if recorded.state is NoticeState.SENT:
            crashes.crash(key.card_order_id, "answered")
        return record(self, key, notice, recorded, **kw)

    DynamoDBLifecycleRepository.start_notice_attempt = start_then_crash  # type: ignore[method-assign]
    DynamoDBLifecycleRepository.record_notice = crash_then_record  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBLifecycleRepository.start_notice_attempt = start  # type: ignore[method-assign]
        DynamoDBLifecycleRepository.record_notice = record  # type: ignore[method-assign]


def plan_orders(rng: Schedule, plan: FaultPlan) -> tuple[dict[int, dict[str, Any]], dict]:
    """Each order's fate (test templates, shipped, shipped at once) and its faults; the
    crashes to inject."""
    orders: dict[int, dict[str, Any]] = {}
    crashes: dict[int, str] = {}
    for number in range(ORDERS):
        order_id = FIRST_ORDER + number
        kind = rng.choices(["test", "made", "shipped", "shipped_at_once"], [2, 2, 4, 2])[0]
        steps: list[Step] = []
        names: list[str] = []
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            if rng.random() < 0.15:
                burst = rng.randint(2, 6)
                steps += [RATE_LIMITED] * burst
                names.append(f"rate_limit_burst_{burst}")
            else:
                name = rng.choice(sorted(TRANSIENT))
                steps.append(TRANSIENT[name])
                names.append(name)
        ending = rng.random()
        then = None
        if ending < 0.08:
            name = rng.choice(sorted(REFUSALS))
            steps.append(REFUSALS[name])
            names.append(name)
        elif ending < 0.13:
            name = rng.choice(sorted(OUTAGES))
            then = OUTAGES[name]
            names.append(name)
        plan.script(str(order_id), *steps, then=then)
        if rng.random() < 0.3:
            crashes[order_id] = rng.choice(["counted", "answered"])
        waybill = Waybill("顺丰速运", f"SF{SEED % 10_000:04d}{number:06d}")
        orders[order_id] = {"kind": kind, "faults": names, "waybill": waybill}
    return orders, crashes


def send_order(stack: LocalStack, order_id: int, template: str) -> None:
    call = sign_demo_call(sample_order(order_id, OWN_SIGN, [(template, 2, "100")]))
    answer = requests.post(call.url(stack.url), data=call.body, headers=call.headers, timeout=30)
    if answer.json()["response"]["success"] is not True:
        raise RuntimeError(f"order {order_id} refused: {answer.text}")


def notifier_records(stack: LocalStack) -> list[dict[str, Any]]:
    """Every record of the orders stream the notifier's code takes, in stream order."""
    streams = streams_client(stack.session(), stack.moto_url)
    arn = stack.stack.attributes["OrdersTable"]["StreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [lambda_record(raw, arn).event for raw in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return [record for record in records if notification_task(record) is not None]


def deliver_duplicates(stack: LocalStack, records: list[dict[str, Any]]) -> int:
    """Hand the records to the notifier again, ten at a time, as a duplicate delivery."""
    function = stack.functions[NOTIFIER]
    delivered = 0
    for start in range(0, len(records), 10):
        batch = records[start : start + 10]
        _in_stream_thread(function.invoke, {"Records": batch})
        delivered += len(batch)
    return delivered


def _in_stream_thread(call: Callable[[dict[str, Any]], Any], event: dict[str, Any]) -> None:
    """``call(event)`` in a thread named like the pollers' (crash points apply to it); a
    failing record is the function's to report, as it would be to Lambda."""

    def run() -> None:
        with contextlib.suppress(Exception):
            call(event)

    worker = threading.Thread(target=run, name="stream-duplicates")
    worker.start()
    worker.join()


def redrive(state: Path) -> list[dict[str, object]]:
    """``cardmaker dlq redrive --queue notifier --reopen --json``, the installed command."""
    script = Path(sys.executable).with_name("cardmaker")
    command = [str(script)]
    if not script.exists():
        command = [sys.executable, "-c", "from cardmaker_cli.main import main; main()"]
    result = subprocess.run(
        [
            *command,
            *("--local-state", str(state), "dlq", "redrive", "--queue", "notifier"),
            *("--reopen", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise RuntimeError(f"dlq redrive exited {result.returncode}: {result.stderr[-2000:]}")
    return json.loads(result.stdout) if result.stdout.strip() else []


def run_lifecycle(
    stack: LocalStack,
    lifecycle: DynamoDBLifecycleRepository,
    orders: dict[int, dict[str, Any]],
    rng: Schedule,
) -> None:
    """Every order received and generated; made (by an operator, or by the notifier for
    test templates), some shipped at once, then most of the rest shipped."""
    for order_id, fate in orders.items():
        send_order(stack, order_id, "NT" if fate["kind"] == "test" else "NR")
    stack.wait_idle(TIMEOUT)
    for order_id, fate in orders.items():
        key = OrderKey(OWN_SIGN, order_id)
        if fate["kind"] != "test":
            lifecycle.mark_made(key, "chaos-operator", utc_now())
        if fate["kind"] == "shipped_at_once":
            lifecycle.ship(key, fate["waybill"], utc_now())
    stack.wait_idle(TIMEOUT)
    for order_id, fate in orders.items():
        if fate["kind"] == "test" and rng.random() < 0.5:
            fate["kind"] = "test_shipped"
        if fate["kind"] in ("shipped", "test_shipped"):
            lifecycle.ship(OrderKey(OWN_SIGN, order_id), fate["waybill"], utc_now())
    stack.wait_idle(TIMEOUT)


def main() -> int:
    """Run the scenario; print its figures; 1 if an invariant broke."""
    started = time.monotonic()
    rng = Schedule(SEED)  # a fault schedule, not a secret
    plan = FaultPlan()
    orders, crash_plan = plan_orders(rng, plan)
    crashes = Crashes(crash_plan)
    environment = {
        "TOP_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    print(
        f"notifications: {ORDERS} orders made / shipped under TOP faults, crashes and "
        "duplicate stream records, then the operator's redrive",
        flush=True,
    )
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with (
        tempfile.TemporaryDirectory() as folder,
        contextlib.redirect_stdout(io.StringIO()),
        LocalStack(port=0, log=io.StringIO(), log_level="ERROR", environment=environment) as stack,
        crashing_notifier(crashes),
    ):
        gateway = stack.top_gateway
        assert gateway is not None
        table, client = stack.stack.physical["OrdersTable"], stack.client("dynamodb")
        lifecycle = DynamoDBLifecycleRepository(table, client)
        DynamoDBTemplateRegistry(table, client).announce(
            CardTemplateAnnouncement(
                template_no="NT", card_name="测试卡", par_value="100", is_test=True,
                own_sign=OWN_SIGN,
            ),
            utc_now(),
        )  # fmt: skip
        gateway.fail_by(plan)
        run_lifecycle(stack, lifecycle, orders, rng)
        faulted_seconds = time.monotonic() - started

        # Duplicate deliveries of every record the notifier takes, twice
        records = notifier_records(stack)
        duplicates = deliver_duplicates(stack, records) + deliver_duplicates(stack, records)
        stack.wait_idle(TIMEOUT)
        before_redrive = _stored(lifecycle, orders)
        failed = sorted(
            order_id
            for order_id, stored in before_redrive.items()
            if any(n.state is NoticeState.FAILED for n in stored.lifecycle.notices.values())
        )

        # The operator's redrive, once the faults are lifted
        for order_id in orders:
            plan.lift(str(order_id))
        state = Path(folder) / "local-stack.json"
        write_state(state, stack)
        outcomes = redrive(state) if failed else []
        stack.wait_idle(TIMEOUT)
        after = _stored(lifecycle, orders)
        calls = gateway.calls

    result: dict[str, int] = {
        "orders": ORDERS,
        **notice_figures(calls, after, orders),
        "crashes_after_count": crashes.fired["counted"],
        "crashes_after_answer": crashes.fired["answered"],
        "duplicate_records_delivered": duplicates,
        "notices_failed_before_redrive": sum(
            1
            for stored in before_redrive.values()
            for notice in stored.lifecycle.notices.values()
            if notice.state is NoticeState.FAILED
        ),
        "orders_redriven": len(failed),
        "redrive_messages": len(outcomes),
        "redrive_messages_redriven": sum(1 for o in outcomes if o.get("result") == "redriven"),
        "seconds": round(time.monotonic() - started),
        "seconds_faulted_run": round(faulted_seconds),
    }
    print(f"seed={SEED}")
    for name, value in result.items():
        print(f"{name}={value}")
    fates = Counter(str(fate["kind"]) for fate in orders.values())
    print("# orders: " + ", ".join(f"{kind} {count}" for kind, count in sorted(fates.items())))
    names = Counter(name for fate in orders.values() for name in fate["faults"])
    print("# faults scripted: " + ", ".join(f"{n} {c}" for n, c in sorted(names.items())))
    broken = broken_invariants(result)
    for message in broken:
        print(f"BROKEN: {message}")
    return 1 if broken else 0


def _stored(lifecycle: DynamoDBLifecycleRepository, orders: dict[int, Any]) -> dict[int, Any]:
    found = {order_id: lifecycle.get(OrderKey(OWN_SIGN, order_id)) for order_id in orders}
    missing = [order_id for order_id, stored in found.items() if stored is None]
    if missing:
        raise RuntimeError(f"orders not found: {missing}")
    return found


def broken_invariants(result: dict[str, int]) -> list[str]:
    """The invariants the figures must hold; a message for each one broken."""
    broken = [
        f"{name}={result[name]} (must be 0)"
        for name in (
            "made_not_accepted_exactly_once",
            "shipped_not_accepted_exactly_once",
            "sended_accepted_before_make_finish",
            "calls_for_orders_owing_none",
            "waybills_sent_wrong",
            "calls_after_sent",
            "notices_not_sent_after_redrive",
            "orders_not_made",
        )
        if result[name]
    ]
    if result["accepted_make_finish"] != result["made_transitions"]:
        broken.append("accepted make.finish calls != MADE transitions")
    if result["accepted_status_sended"] != result["shipped_transitions"]:
        broken.append("accepted status.sended calls != SHIPPED transitions")
    if result["redrive_messages_redriven"] != result["redrive_messages"]:
        broken.append("the redrive left messages in NotifierFailures")
    return broken


if __name__ == "__main__":
    sys.exit(main())
