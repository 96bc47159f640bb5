"""Crashing the card generator and the delivery function, and checking what they leave.

Shared by ``chaos/crashes.py`` and ``tests/reliability/test_crashes.py``:

* ``CrashInjector``: an in-process crash at one point of the functions' work: before or after
  the Nth DynamoDB write (PutItem, UpdateItem, BatchWriteItem, DeleteItem, TransactWriteItems:
  a claim) they make, or the
  Nth TOP call. It raises once, then lets everything through: the local stream mapping
  retries the record as Lambda would, and the retry must repair what the crash left.
* ``Workload``: an order and its deliveries, sent over HTTP to a local stack; ``check``
  scans moto for the invariants (exact counts, no duplicate numbers, no gaps, every delivery
  final, no card in two deliveries).
* ``hard_kill_round``: process 1 (``first_process``, run as ``python -m chaos._crash_world
  SPEC``) starts a local stack against a moto server of its own process and sends a
  workload; it is SIGKILLed at a chosen moment, and a stack in this process attaches to the
  same resources and finishes the work.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import boto3
import requests
from pydantic import TypeAdapter

from cardmaker import (
    FINAL,
    BindDeliveryRequest,
    DynamoDBDeliveryRepository,
    DynamoDBOrderRepository,
    EticketDeliveryRequest,
    OrderKey,
    OrderStatus,
    delivery_id,
    runtime,
)
from cardmaker.store import PK, card_schema, from_item
from cardmaker.top import TopClient
from cardmaker_cli.samples import sample_order
from local.platform import sample_delivery, sign_demo_call
from local.stack import FAKE_CREDENTIALS, HOST, LocalStack
from local.template import LOCAL_STACK, REGION
from local.top_gateway import Fault

OWN_SIGN: Final = "daily"
DELIVERY_REQUEST: TypeAdapter[EticketDeliveryRequest | BindDeliveryRequest] = TypeAdapter(
    EticketDeliveryRequest | BindDeliveryRequest
)
WRITES = frozenset(
    {"put_item", "update_item", "batch_write_item", "delete_item", "transact_write_items"}
)
# The repositories' modules each hold their own name for the shared client factory.
_CLIENT_USERS = ("cardmaker.store.cards", "cardmaker.store.orders", "cardmaker.store.deliveries")
# Threads the generator and the delivery function run on in the local stack: the stream
# pollers and the generator's card writers. The HTTP functions' calls are not crash points.
_FUNCTION_THREADS = ("stream-", "cards")


class InjectedCrash(Exception):
    """The function dies here (Lambda reports a function error; the stream retries)."""


@dataclass(frozen=True)
class CrashPoint:
    """Where to crash: ``kind`` "store" (the Nth DynamoDB write) or "top" (the Nth TOP
    call), ``when`` "before" or "after" that call went through."""

    kind: str
    nth: int
    when: str

    def __str__(self) -> str:
        return f"{self.when} {self.kind} call #{self.nth}"


@dataclass
class CrashInjector:
    """Counts the functions' writes and TOP calls; crashes once at ``point`` (if any)."""

    point: CrashPoint | None = None
    writes: Counter[str] = field(default_factory=Counter)
    top_calls: int = 0
    fired: str | None = None  # what the crash interrupted, once it has
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, point: CrashPoint | None) -> None:
        with self._lock:
            self.point, self.fired, self.top_calls = point, None, 0
            self.writes.clear()

    def around(self, kind: str, operation: str, call: Callable[[], Any]) -> Any:
        """Run ``call`` (the ``operation`` of ``kind``), crashing before or after it if it is
        the armed point."""
        if not threading.current_thread().name.startswith(_FUNCTION_THREADS):
            return call()
        with self._lock:
            if kind == "store":
                self.writes[operation] += 1
                nth = sum(self.writes.values())
            else:
                self.top_calls += 1
                nth = self.top_calls
            point = self.point
            hit = point is not None and (point.kind, point.nth) == (kind, nth)
            if hit and point is not None and point.when == "before":
                self.point, self.fired = None, f"before {operation}"
                raise InjectedCrash(str(point))
        answer = call()
        if hit and point is not None:
            with self._lock:
                self.point, self.fired = None, f"after {operation}"
            raise InjectedCrash(str(point))
        return answer


class _CrashingClient:
    """A DynamoDB client whose writes pass through the injector."""

    def __init__(self, real: Any, injector: CrashInjector) -> None:
        self._real = real
        self._injector = injector

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name not in WRITES:
            return attribute

        def write(**kwargs: Any) -> Any:
            return self._injector.around("store", name, lambda: attribute(**kwargs))

        return write


@contextmanager
def crashing_functions(injector: CrashInjector) -> Iterator[CrashInjector]:
    """While inside: the functions' repositories and TOP client go through ``injector``.
    Call it with the local stack idle: the functions' services are rebuilt."""
    modules = [sys.modules[name] for name in _CLIENT_USERS]
    factories = [module.dynamodb_client for module in modules]
    real_call = TopClient.call

    def crashing_factory() -> Any:
        return _CrashingClient(factories[0](), injector)

    def crashing_call(self: TopClient, *args: Any, **kwargs: Any) -> Any:
        return injector.around("top", "TOP call", lambda: real_call(self, *args, **kwargs))

    for module in modules:
        module.dynamodb_client = crashing_factory  # type: ignore[attr-defined]
    TopClient.call = crashing_call  # type: ignore[method-assign]
    runtime.reset()
    try:
        yield injector
    finally:
        for module, factory in zip(modules, factories, strict=True):
            module.dynamodb_client = factory  # type: ignore[attr-defined]
        TopClient.call = real_call  # type: ignore[method-assign]
        runtime.reset()


# --- the workload --------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """An order (templates as (template_no, count, par_value)) and deliveries of its cards
    ((kind, template_no, quantity)), the first ones asked for before the cards exist."""

    card_order_id: int
    templates: tuple[tuple[str, int, str], ...]
    deliveries: tuple[tuple[str, str, int], ...]

    @property
    def key(self) -> OrderKey:
        return OrderKey(OWN_SIGN, self.card_order_id)

    @property
    def cards(self) -> int:
        return sum(count for _, count, _ in self.templates)

    def delivery_bodies(self) -> list[dict[str, Any]]:
        """The ``POST /deliveries`` bodies, each with its own outer_id / out_biz_id."""
        bodies = []
        for index, (kind, template_no, quantity) in enumerate(self.deliveries):
            reference = f"C{self.card_order_id}-{index}"
            reference_field = "out_biz_id" if kind == "bind" else "outer_id"
            bodies.append(
                sample_delivery(
                    "bind" if kind == "bind" else "eticket",
                    self.card_order_id,
                    OWN_SIGN,
                    template_no,
                    quantity=quantity,
                    **{reference_field: reference},
                )
            )
        return bodies

    def delivery_ids(self) -> list[str]:
        """The deliveries' ids, as the operator API derives them (before they exist)."""
        return [
            delivery_id(DELIVERY_REQUEST.validate_python(body)) for body in self.delivery_bodies()
        ]

    def send(self, api_url: str) -> list[str]:
        """POST the order to /top/spi and its deliveries to /deliveries (both idempotent:
        sending again changes nothing); the delivery ids."""
        call = sign_demo_call(sample_order(self.card_order_id, OWN_SIGN, list(self.templates)))
        answer = requests.post(call.url(api_url), data=call.body, headers=call.headers, timeout=30)
        if answer.json()["response"].get("success") is not True:
            raise RuntimeError(f"order {self.card_order_id} refused: {answer.text}")
        ids = []
        for body in self.delivery_bodies():
            posted = requests.post(f"{api_url}/deliveries", json=body, timeout=30)
            if posted.status_code not in (200, 202):
                raise RuntimeError(f"delivery refused: {posted.status_code} {posted.text}")
            ids.append(posted.json()["delivery_id"])
        return ids


def small_workload(card_order_id: int) -> Workload:
    """A few dozen cards of two templates, one bind and one e-voucher delivery."""
    return Workload(
        card_order_id,
        (("3010030E02", 60, "100"), ("3010030E05", 7, "5000")),
        (("bind", "3010030E02", 3), ("eticket", "3010030E05", 2), ("bind", "3010030E02", 30)),
    )


@dataclass
class Findings:
    """What ``check`` found: the ``*_checked`` fields count, every other one must stay 0."""

    orders_checked: int = 0
    cards_checked: int = 0
    deliveries_checked: int = 0
    count_mismatches: int = 0
    duplicates: int = 0
    gaps: int = 0
    orders_not_generated: int = 0
    deliveries_not_final: int = 0
    deliveries_not_delivered: int = 0
    cards_in_two_deliveries: int = 0
    delivered_cards_missing: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def broken(self) -> int:
        return (
            self.count_mismatches
            + self.duplicates
            + self.gaps
            + self.orders_not_generated
            + self.deliveries_not_final
            + self.cards_in_two_deliveries
            + self.delivered_cards_missing
        )

    def add(self, other: Findings) -> None:
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.problems += other.problems


class Checker:
    """Reads a stack's tables straight from moto and checks an order and its deliveries.
    Card numbers seen are remembered: a number in two orders is a duplicate too."""

    def __init__(self, dynamodb: Any, physical: dict[str, str]) -> None:
        self._dynamodb = dynamodb
        self._cards_table = physical["CardsTable"]
        self._orders = DynamoDBOrderRepository(physical["OrdersTable"], dynamodb)
        self._deliveries = DynamoDBDeliveryRepository(physical["DeliveriesTable"], dynamodb)
        self._numbers: set[str] = set()

    def check(self, workload: Workload, delivery_ids: list[str]) -> Findings:
        found = Findings(orders_checked=1)
        stored = self._orders.get(workload.key)
        if stored is None or stored.order.status is not OrderStatus.GENERATED:
            found.orders_not_generated += 1
            status = None if stored is None else stored.order.status.value
            found.problems.append(f"order {workload.card_order_id} is {status}")
        cards: dict[str, dict[int, str]] = {}
        for template_no, count, _ in workload.templates:
            positions = self._cards(workload.key, template_no, count)
            cards[template_no] = dict(positions)
            found.cards_checked += len(positions)
            if len(positions) != count:
                found.count_mismatches += 1
                found.problems.append(f"{template_no}: {len(positions)} cards, not {count}")
            seen = {position for position, _ in positions}
            found.gaps += sum(1 for position in range(count) if position not in seen)
            for _, number in positions:
                if number in self._numbers:
                    found.duplicates += 1
                self._numbers.add(number)
        held: dict[tuple[str, int], str] = {}
        for checked_id in delivery_ids:
            delivery = self._deliveries.get(checked_id)
            found.deliveries_checked += 1
            if delivery is None or delivery.status.value not in FINAL_NAMES:
                found.deliveries_not_final += 1
                status = None if delivery is None else delivery.status.value
                found.problems.append(f"delivery {checked_id} is {status}")
                continue
            if delivery.status.value != "DELIVERED":
                found.deliveries_not_delivered += 1
                found.problems.append(f"delivery {checked_id} ended {delivery.status.value}")
            template_no = delivery.template_no or ""
            for card in delivery.cards:
                holder = held.setdefault((template_no, card.position), checked_id)
                if holder != checked_id:
                    found.cards_in_two_deliveries += 1
                if cards.get(template_no, {}).get(card.position) != card.card_no:
                    found.delivered_cards_missing += 1
        return found

    def _cards(self, order: OrderKey, template_no: str, count: int) -> list[tuple[int, str]]:
        """(position, card number) of every card item of a template, bucket by bucket."""
        found: list[tuple[int, str]] = []
        buckets = max(1, -(-count // card_schema.BUCKET_SIZE)) + 1  # one more: strays
        for bucket in range(buckets):
            key = card_schema.card_key(order, template_no, bucket * card_schema.BUCKET_SIZE)
            query: dict[str, Any] = {
                "TableName": self._cards_table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": key[PK]},
                # Only what is checked: moto's server is slow to serialize whole cards.
                "ProjectionExpression": "#position, card_no",
                "ExpressionAttributeNames": {"#position": "position"},
                "ConsistentRead": True,
            }
            while True:
                page = self._dynamodb.query(**query)
                found += [
                    (card["position"], card["card_no"])
                    for card in map(from_item, page.get("Items", []))
                ]
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    def progress(self, workload: Workload, delivery_ids: list[str]) -> Progress:
        """Where things stand (where a kill left them)."""
        stored = self._orders.get(workload.key)
        written = sum(
            len(self._cards(workload.key, template_no, count))
            for template_no, count, _ in workload.templates
        )
        return Progress(
            order="absent" if stored is None else stored.order.status.value,
            cards=written,
            deliveries=[self.delivery_status(delivery_id) for delivery_id in delivery_ids],
        )

    def order_status(self, workload: Workload) -> str:
        stored = self._orders.get(workload.key)
        return "absent" if stored is None else stored.order.status.value

    def delivery_status(self, delivery_id: str) -> str:
        delivery = self._deliveries.get(delivery_id)
        return "absent" if delivery is None else delivery.status.value


@dataclass(frozen=True)
class Progress:
    order: str
    cards: int
    deliveries: list[str]

    def phase(self, workload: Workload) -> str:
        """What a kill at this point interrupted."""
        if self.order in ("absent", "RECEIVED") or self.cards == 0:
            return "before-generation"
        if self.cards < workload.cards or self.order != "GENERATED":
            return "mid-generation"
        if any(status not in FINAL_NAMES for status in self.deliveries):
            return "mid-delivery"
        return "after-delivery"


FINAL_NAMES = frozenset(status.value for status in FINAL)


def moto_checker(moto_url: str) -> Checker:
    """A checker that reads the tables of the local stack on ``moto_url`` directly (no
    stack needed: to see where a kill left things)."""
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    names = ("CardsTable", "OrdersTable", "DeliveriesTable")
    return Checker(dynamodb, {name: f"{LOCAL_STACK}-{name}" for name in names})


def quiet_stack(**options: Any) -> LocalStack:
    """A local stack whose functions log only errors and publish no metrics (on stdout,
    where the figures go)."""
    return LocalStack(
        log=io.StringIO(),
        access_log=False,
        log_level="ERROR",
        environment={"POWERTOOLS_METRICS_DISABLED": "true"},
        **options,
    )


# --- hard kills --------------------------------------------------------------------------

STARTED = "STARTED"


def start_moto_server(port: int) -> subprocess.Popen[bytes]:
    """``python -m local.moto_server`` (moto's, with local/moto_dynamodb.py's fixes) on
    127.0.0.1:``port``, in a process of its own; returns once it answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "local.moto_server", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/moto-api/", timeout=1):
                return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("the moto server did not start") from None
            time.sleep(0.1)


def reset_moto(moto_url: str) -> None:
    """Forget every resource of the external moto server (between hard-kill rounds)."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def spawn_first_process(
    moto_url: str, workload: Workload, top_delay: float = 0.0
) -> subprocess.Popen[str]:
    """Start process 1: a local stack that creates the resources on ``moto_url`` and sends
    ``workload``. Returns it once its stack is up, about to send."""
    spec = json.dumps(
        {
            "moto_url": moto_url,
            "card_order_id": workload.card_order_id,
            "templates": workload.templates,
            "deliveries": workload.deliveries,
            "top_delay": top_delay,
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos._crash_world", spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(STARTED):
            return process
    process.wait()
    raise RuntimeError(f"process 1 ended before its stack started (exit {process.returncode})")


@dataclass(frozen=True)
class Kill:
    """When process 1 gets SIGKILL: ``after`` seconds once its stack is up, counted from the
    ``moment`` moto first shows (``"started"``; ``"generating"``: the order GENERATING;
    ``"sending"``: a delivery SENDING), or at ``limit`` seconds whatever happened."""

    moment: str = "started"
    after: float = 0.0
    limit: float = 30.0

    def __str__(self) -> str:
        return f"{self.after:.2f} s after {self.moment}"


@dataclass
class KillRound:
    kill: Kill
    at_kill: Progress
    phase: str
    findings: Findings
    recovery_seconds: float


def hard_kill_round(
    moto_url: str, workload: Workload, kill: Kill, *, top_delay: float = 0.0
) -> KillRound:
    """Process 1 starts the stack on ``moto_url`` and sends ``workload``, and is SIGKILLed
    as ``kill`` says; then this process attaches a stack to the same resources, sends the
    workload again (as the platform and the operator would, not knowing what arrived), lets
    it run to completion and checks the invariants. moto is reset afterwards."""
    watcher = moto_checker(moto_url)
    ids = workload.delivery_ids()
    process = spawn_first_process(moto_url, workload, top_delay)
    try:
        started = time.monotonic()
        while kill.moment != "started" and time.monotonic() - started < kill.limit:
            if kill.moment == "generating" and watcher.order_status(workload) == "GENERATING":
                break
            if kill.moment == "sending" and any(
                watcher.delivery_status(one) == "SENDING" for one in ids
            ):
                break
            time.sleep(0.02)
        time.sleep(kill.after)
    finally:
        process.kill()  # SIGKILL: no cleanup of any kind runs in process 1
        process.wait()
    at_kill = watcher.progress(workload, ids)
    with quiet_stack(moto_url=moto_url, attach=True) as stack:
        began = time.monotonic()
        sent_ids = workload.send(stack.url)
        stack.wait_idle(180)
        recovery = time.monotonic() - began
        findings = Checker(stack.client("dynamodb"), stack.stack.physical).check(workload, sent_ids)
    if sent_ids != ids:
        findings.problems.append(f"the deliveries came back as {sent_ids}, not {ids}")
        findings.deliveries_not_final += 1
    reset_moto(moto_url)
    return KillRound(kill, at_kill, at_kill.phase(workload), findings, recovery)


def first_process(spec: dict[str, Any]) -> None:
    """Process 1: start the stack on the external moto server, send the workload, then let
    the functions work until killed. Whatever the kill interrupts, the sending included, the
    next process finds in moto (and the platform and the operator send their requests
    again: both are idempotent)."""
    workload = Workload(
        spec["card_order_id"],
        tuple(tuple(t) for t in spec["templates"]),
        tuple(tuple(d) for d in spec["deliveries"]),
    )
    with quiet_stack(moto_url=spec["moto_url"]) as stack:
        if spec.get("top_delay") and stack.top_gateway is not None:
            # Slow answers (the call is processed first) widen the window for a kill
            # between a TOP call and its recording.
            stack.top_gateway.fail_always(Fault.delay(spec["top_delay"]))
        print(STARTED, flush=True)
        # Nobody reads this process's output any more: a full pipe must not block it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        workload.send(stack.url)
        while True:  # until SIGKILL
            time.sleep(1)


if __name__ == "__main__":
    first_process(json.loads(sys.argv[1]))
