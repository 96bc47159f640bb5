"""Concurrency and load on the local stack, over real HTTP on 127.0.0.1.

- Duplicate orders: many concurrent ``cardorder.make`` calls of one order (each signed at its
  own moment, JSON or form) -> exactly one order, every answer identical, its cards made once.
- Racing deliveries: more deliveries than a template has cards, created at once while the
  order is not generated yet (the generator held, as a function throttled to zero concurrency
  would be): they wait for stock; once generated they are woken and race for the cards -> as
  many delivered as the cards allow, the rest back to WAITING_STOCK (nothing else wakes them:
  an order's cards are fixed), no card in two deliveries. Then several delivery "execution
  environments" race on one cursor at once (the layer's sender from threads): the same.
- Sustained load: new single-card orders from concurrent clients for a while -> throughput,
  p50/p99 latency, 0 errors, every acknowledged order stored exactly once.

The local stack runs one invocation per function at a time (one warm environment), so the
throughput measured is the local stack's, not Lambda's. ``tests/reliability/
test_concurrency.py`` runs the same scenarios, shorter.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import requests

from cardmaker import OrderKey, OwnSign, runtime
from cardmaker.store import PK, SK, from_item, schema, to_item
from cardmaker.top import utc_now
from cardmaker_cli.samples import sample_order
from chaos._evidence import dynamodb, percentile, print_figures, quiet_stack
from local.platform import sample_delivery, sign_demo_call
from local.stack import LocalStack
from local.top_gateway import MA_SEND

LOAD_SECONDS = 60.0
# Connections in flight at once. The local stack's HTTP server listens with the standard
# library's backlog of 5 (socketserver's request_queue_size): more clients connecting at once
# get connection resets that API Gateway would never give. Four stays under it.
CONNECTIONS = 4
LOAD_CLIENTS = CONNECTIONS
DUPLICATE_CALLS = 64
RACE_CARDS = 10  # the template's cards
RACE_DELIVERIES = 8  # of RACE_QUANTITY cards each: more than the cards allow
RACE_QUANTITY = 3
ENVIRONMENTS = CONNECTIONS  # delivery execution environments racing on one cursor
TIMEOUT = 30.0
_LOAD_ORDER_IDS = itertools.count(500_000)


# --- duplicate orders ---------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateFigures:
    calls: int
    distinct_answers: int
    statuses: Counter[int]
    orders_stored: int
    cards_requested: int
    cards_generated: int

    @property
    def broken(self) -> bool:
        return (
            self.distinct_answers != 1
            or set(self.statuses) != {200}
            or self.orders_stored != 1
            or self.cards_generated != self.cards_requested
        )


def duplicate_orders(
    stack: LocalStack, calls: int = DUPLICATE_CALLS, card_order_id: int = 40_001
) -> DuplicateFigures:
    """``calls`` retries of one order, all at once: each signed at its own moment, half as
    JSON and half as form bodies (as the platform may retry with either)."""
    templates = [("D1", 7, "100"), ("D2", 3, "500")]
    order = sample_order(card_order_id, "daily", templates, logistics=True)
    signed = [
        sign_demo_call(
            order,
            timestamp=utc_now() - timedelta(seconds=n % 60),
            body_format="json" if n % 2 else "form",
        )
        for n in range(calls)
    ]

    def send(n: int) -> tuple[int, str]:
        call = signed[n]
        answer = requests.post(
            call.url(stack.url), data=call.body, headers=call.headers, timeout=TIMEOUT
        )
        return answer.status_code, answer.text

    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        answers = list(pool.map(send, range(calls)))
    stack.wait_idle(TIMEOUT * 4)
    view = requests.get(
        f"{stack.url}/orders/{card_order_id}", params={"own_sign": "daily"}, timeout=TIMEOUT
    ).json()
    return DuplicateFigures(
        calls=calls,
        distinct_answers=len({text for _, text in answers}),
        statuses=Counter(status for status, _ in answers),
        orders_stored=_order_headers(stack, "daily", card_order_id),
        cards_requested=sum(count for _, count, _ in templates),
        cards_generated=sum(t["generated"] for t in view["templates"]),
    )


def _order_headers(stack: LocalStack, own_sign: OwnSign, card_order_id: int) -> int:
    """How many order headers the table holds for one order (a query on its partition)."""
    key = schema.header_key(OrderKey(own_sign, card_order_id))
    answer = dynamodb(stack).query(
        TableName=stack.stack.physical["OrdersTable"],
        KeyConditionExpression=f"{PK} = :pk AND {SK} = :sk",
        ExpressionAttributeValues={":pk": key[PK], ":sk": key[SK]},
        ConsistentRead=True,
    )
    return answer["Count"]


def _stored_orders(stack: LocalStack, own_sign: str, card_order_ids: set[int]) -> int:
    """How many of these orders have their header in the table (one paginated scan)."""
    pages = (
        dynamodb(stack)
        .get_paginator("scan")
        .paginate(
            TableName=stack.stack.physical["OrdersTable"],
            FilterExpression=f"{SK} = :sk AND own_sign = :own_sign",
            ExpressionAttributeValues=to_item({":sk": schema.HEADER_SK, ":own_sign": own_sign}),
            ProjectionExpression="card_order_id",
            ConsistentRead=True,
        )
    )
    stored = {from_item(item)["card_order_id"] for page in pages for item in page["Items"]}
    return len(stored & card_order_ids)


# --- racing deliveries --------------------------------------------------------------------


@dataclass
class RaceFigures:
    deliveries: int = 0
    cards: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    cards_delivered: int = 0
    double_allocations: int = 0  # cards sent for two different deliveries
    overlapping_claims: int = 0  # cursor ranges of two deliveries that overlap
    last_card_served: bool = False
    # Invocations of a racing environment that failed (an unknown TOP outcome, say): the
    # stack's delivery function, released, carries those deliveries on as the stream would.
    failed_invocations: list[str] = field(default_factory=list)

    @property
    def broken(self) -> bool:
        return self.double_allocations > 0 or self.overlapping_claims > 0


@contextmanager
def held(stack: LocalStack, function: str) -> Iterator[None]:
    """Hold a function's one execution environment: its invocations wait, as they would with
    the function throttled to zero concurrency."""
    lock = stack.functions[function].lock
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def racing_deliveries(stack: LocalStack, card_order_id: int = 40_002) -> RaceFigures:
    """Deliveries created at once before their order is generated race for its cards once
    it is; then one more delivery takes exactly what is left."""
    figures = RaceFigures(deliveries=RACE_DELIVERIES + 1, cards=RACE_CARDS)
    order = sample_order(card_order_id, "daily", [("R1", RACE_CARDS, "100")])
    with held(stack, "CardGeneratorFunction"):
        call = sign_demo_call(order)
        answer = requests.post(
            call.url(stack.url), data=call.body, headers=call.headers, timeout=TIMEOUT
        )
        _expect('"success":true' in answer.text, f"the race's order was refused: {answer.text}")

        def create(n: int) -> str:
            return _create_delivery(
                stack, card_order_id, "R1", f"race-{card_order_id}-{n}", RACE_QUANTITY
            )

        with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
            racers = list(pool.map(create, range(RACE_DELIVERIES)))
        # The order is not generated: every one of them waits for stock.
        _wait_for(stack, racers, {"WAITING_STOCK"})
    # Released: the order is generated, its GENERATED wakes them all, they race.
    stack.wait_idle(TIMEOUT * 4)
    final = _wait_for(stack, racers, {"DELIVERED", "WAITING_STOCK"})
    # What is left (RACE_CARDS mod RACE_QUANTITY cards) goes to a delivery that fits.
    left = RACE_CARDS - RACE_QUANTITY * (RACE_CARDS // RACE_QUANTITY)
    last = _create_delivery(stack, card_order_id, "R1", f"race-{card_order_id}-last", left)
    stack.wait_idle(TIMEOUT * 4)
    final |= _wait_for(stack, [last], {"DELIVERED", "WAITING_STOCK"})
    figures.last_card_served = final[last] == "DELIVERED"
    figures.statuses = Counter(final.values())
    _judge_allocation(stack, card_order_id, "R1", list(final), figures)
    return figures


def racing_environments(stack: LocalStack, card_order_id: int = 40_003) -> RaceFigures:
    """Several delivery execution environments (the layer's sender, one per thread) carry
    out deliveries of one template at the same moment, all racing on its cursor."""
    figures = RaceFigures(deliveries=RACE_DELIVERIES, cards=RACE_CARDS)
    order = sample_order(card_order_id, "daily", [("E1", RACE_CARDS, "100")])
    call = sign_demo_call(order)
    answer = requests.post(
        call.url(stack.url), data=call.body, headers=call.headers, timeout=TIMEOUT
    )
    _expect('"success":true' in answer.text, f"the race's order was refused: {answer.text}")
    stack.wait_idle(TIMEOUT * 4)
    # The stack's own delivery function is held: only the racing environments deliver.
    with held(stack, "CardDeliveryFunction"):
        racers = [
            _create_delivery(stack, card_order_id, "E1", f"env-{card_order_id}-{n}", RACE_QUANTITY)
            for n in range(RACE_DELIVERIES)
        ]
        start = threading.Barrier(ENVIRONMENTS)

        def environment(n: int) -> None:
            sender = runtime.delivery_sender.__wrapped__()  # a cold start of its own
            start.wait()
            for delivery_id in racers[n::ENVIRONMENTS]:
                try:
                    sender.deliver(delivery_id)
                except Exception as error:  # the stream retries it, as on AWS
                    with lock:
                        figures.failed_invocations.append(f"{delivery_id}: {error!r}"[:300])

        lock = threading.Lock()

        with ThreadPoolExecutor(max_workers=ENVIRONMENTS) as pool:
            list(pool.map(environment, range(ENVIRONMENTS)))
    # The held invocations now find them done or waiting (or finish what failed).
    stack.wait_idle(TIMEOUT * 4)
    final = _wait_for(stack, racers, {"DELIVERED", "WAITING_STOCK"})
    figures.statuses = Counter(final.values())
    _judge_allocation(stack, card_order_id, "E1", racers, figures)
    return figures


def _create_delivery(
    stack: LocalStack, card_order_id: int, template_no: str, outer_id: str, quantity: int
) -> str:
    body = sample_delivery(
        "eticket", card_order_id, "daily", template_no, outer_id=outer_id, quantity=quantity
    )
    answer = requests.post(f"{stack.url}/deliveries", json=body, timeout=TIMEOUT)
    _expect(answer.status_code == 202, f"a racing delivery was refused: {answer.text}")
    return str(answer.json()["delivery_id"])


def _wait_for(stack: LocalStack, deliveries: list[str], statuses: set[str]) -> dict[str, str]:
    """Each delivery's status once all are in ``statuses`` (``TimeoutError`` otherwise)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        seen = {d: _delivery(stack, d)["status"] for d in deliveries}
        if set(seen.values()) <= statuses:
            return seen
        if time.monotonic() > deadline:
            raise TimeoutError(f"deliveries not {sorted(statuses)} in {TIMEOUT:g} s: {seen}")
        time.sleep(0.05)


def _delivery(stack: LocalStack, delivery_id: str) -> dict:
    return requests.get(f"{stack.url}/deliveries/{delivery_id}", timeout=TIMEOUT).json()


def _judge_allocation(
    stack: LocalStack,
    card_order_id: int,
    template_no: str,
    deliveries: list[str],
    figures: RaceFigures,
) -> None:
    """Cards as the gateway received them and as the deliveries record them: none in two
    deliveries; claimed ranges on the cursor never overlap."""
    owners: dict[str, set[str]] = {}
    gateway = stack.top_gateway
    _expect(gateway is not None, "the race needs the fake TOP gateway")
    assert gateway is not None
    for call in gateway.calls_of(MA_SEND):
        outer_id = call.params.get("outer_id", "")
        for entry in call.structs.get("isv_ka_list") or []:
            owners.setdefault(entry["ka_no"], set()).add(outer_id)
    recorded: dict[str, set[str]] = {}
    ranges = []
    for delivery_id in deliveries:
        view = _delivery(stack, delivery_id)
        for card in view.get("cards") or []:
            recorded.setdefault(card["card_no"], set()).add(delivery_id)
        positions = [card["position"] for card in view.get("cards") or []]
        if positions:
            ranges.append((min(positions), max(positions)))
    # Only this race's calls: its outer ids all start with its own prefix.
    mine = {card: ids for card, ids in owners.items() if any(str(card_order_id) in i for i in ids)}
    figures.double_allocations = sum(len(ids) - 1 for ids in mine.values()) + sum(
        len(ids) - 1 for ids in recorded.values()
    )
    figures.cards_delivered = len(recorded)
    ranges.sort()
    figures.overlapping_claims = sum(
        1 for (_, end), (start, _) in itertools.pairwise(ranges) if start <= end
    )


# --- sustained SPI load -------------------------------------------------------------------


@dataclass
class LoadFigures:
    seconds: float
    clients: int
    calls: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    orders_acknowledged: int = 0
    orders_stored: int = 0

    @property
    def per_s(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    @property
    def broken(self) -> bool:
        return self.errors > 0 or self.orders_stored != self.orders_acknowledged

    def figures(self) -> dict[str, object]:
        return {
            "spi_calls": self.calls,
            "spi_errors": self.errors,
            "spi_p50_ms": round(percentile(self.latencies_ms, 0.50), 1),
            "spi_p99_ms": round(percentile(self.latencies_ms, 0.99), 1),
            "spi_max_ms": round(max(self.latencies_ms, default=0.0), 1),
            "spi_per_s": round(self.per_s, 1),
            "spi_clients": self.clients,
            "spi_seconds": round(self.seconds, 1),
            "orders_acknowledged": self.orders_acknowledged,
            "orders_stored": self.orders_stored,
        }


def spi_load(stack: LocalStack, seconds: float, clients: int = LOAD_CLIENTS) -> LoadFigures:
    """New single-card orders, signed as the platform signs them, from ``clients`` threads
    back to back for ``seconds``; the generator runs meanwhile, as it would."""
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    acknowledged: list[int] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        nonlocal errors
        with requests.Session() as session:
            while time.monotonic() < deadline:
                card_order_id = next(_LOAD_ORDER_IDS)
                call = sign_demo_call(sample_order(card_order_id, "pre", [("L1", 1, "100")]))
                started = time.perf_counter()
                try:
                    answer = session.post(
                        call.url(stack.url), data=call.body, headers=call.headers, timeout=TIMEOUT
                    )
                    ok = answer.status_code == 200 and '"success":true' in answer.text
                except requests.RequestException:
                    ok = False
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if ok:
                        acknowledged.append(card_order_id)
                    else:
                        errors += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, name=f"spi-load-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    stored = _stored_orders(stack, "pre", set(acknowledged))
    return LoadFigures(
        seconds=elapsed,
        clients=clients,
        calls=len(latencies),
        errors=errors,
        latencies_ms=latencies,
        orders_acknowledged=len(acknowledged),
        orders_stored=stored,
    )


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(message)


def main() -> int:
    started = time.monotonic()
    with quiet_stack() as stack:
        duplicates = duplicate_orders(stack)
        race = racing_deliveries(stack)
        environments = racing_environments(stack)
        load = spi_load(stack, LOAD_SECONDS)
    print_figures(
        [
            "concurrency and load on the local stack over real HTTP on 127.0.0.1",
            "the local stack runs one invocation per function at a time (one warm execution "
            "environment) and shares 2 cores with moto, the stream pollers and the clients: "
            "the throughput is the local stack's, not Lambda's",
            f"load: new 1-card orders from {LOAD_CLIENTS} clients back to back for "
            f"{LOAD_SECONDS:g} s, card generation running meanwhile",
        ],
        {
            "duplicate_calls": duplicates.calls,
            "duplicate_orders_stored": duplicates.orders_stored,
            "duplicate_distinct_answers": duplicates.distinct_answers,
            "duplicate_cards_generated": duplicates.cards_generated,
            "duplicate_cards_requested": duplicates.cards_requested,
            "racing_deliveries": race.deliveries,
            "racing_cards": race.cards,
            "racing_delivered": race.statuses["DELIVERED"],
            "racing_waiting_stock": race.statuses["WAITING_STOCK"],
            "racing_cards_delivered": race.cards_delivered,
            "racing_last_card_served": race.last_card_served,
            "racing_environments": ENVIRONMENTS,
            "racing_env_delivered": environments.statuses["DELIVERED"],
            "racing_env_waiting_stock": environments.statuses["WAITING_STOCK"],
            "racing_env_failed_invocations": len(environments.failed_invocations),
            "double_allocations": race.double_allocations + environments.double_allocations,
            "overlapping_claims": race.overlapping_claims + environments.overlapping_claims,
            **load.figures(),
            "elapsed_s": round(time.monotonic() - started),
        },
    )
    broken = duplicates.broken or race.broken or environments.broken or load.broken
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
