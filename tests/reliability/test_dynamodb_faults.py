"""DynamoDB faults across the whole store, on the local stack over real HTTP (moto's server):
throttling, UnprocessedItems / UnprocessedKeys, answers lost after a write was applied,
conflicts, and two writers racing one conditional update. Retried with backoff, never lost,
never duplicated.

The faults are injected into the functions' real DynamoDB client through botocore's hooks
(``chaos/_dynamodb_faults.py``), so botocore's standard retries (5 attempts, jittered
exponential backoff) and the store's own retry rule (``cardmaker/retry.py``) see them as they
would on AWS. The repository tests already stub BatchWriteItem's retries in isolation
(tests/integration/test_order_repository.py); these go through every repository at once.

Cardmaker uses no DynamoDB transactions (see docs/design.md, "Design decisions": one
conditional put, no transaction), so there is no TransactionCanceledException to handle. The
equivalent is tested instead: a ``TransactionConflictException`` (what DynamoDB answers a plain
write that meets someone else's transaction) on the conditional updates, which botocore does
not retry: the stream's retry does, and the conditions make the second attempt exact.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cardmaker import (
    DynamoDBCardRepository,
    DynamoDBDeliveryRepository,
    DynamoDBGenerationRepository,
    OrderKey,
    dynamodb_client,
    runtime,
)
from cardmaker.store import retry_unapplied
from chaos._dynamodb_faults import DynamoDBFaults, recorded_backoffs
from chaos._store_checks import (
    Ledger,
    Sent,
    bind,
    check_deliveries,
    check_order,
    create_delivery,
    eticket,
    scan,
    send_order,
)
from local.stack import LocalStack

TEMPLATES = [("T1", 120, "100"), ("T2", 7, "5000")]
IDLE = 60.0


@pytest.fixture
def local_stack() -> Iterator[LocalStack]:
    with LocalStack(port=0, access_log=False) as stack:
        yield stack


def run(stack: LocalStack, card_order_id: int, sent: Sent) -> tuple[Ledger, list[str]]:
    """An order, then an e-voucher and a bind delivery of its cards, to the end."""
    answer = send_order(stack, card_order_id, TEMPLATES, sent)
    assert answer["result_code"] == "SUCCESS", answer
    stack.wait_idle(IDLE)
    deliveries = [
        create_delivery(stack, eticket(card_order_id, "T1", 5, f"E{card_order_id}"), sent),
        create_delivery(stack, bind(card_order_id, "T1", 6, f"B{card_order_id}"), sent),
        create_delivery(stack, eticket(card_order_id, "T2", 2, f"F{card_order_id}"), sent),
    ]
    stack.wait_idle(IDLE)
    ledger = Ledger()
    check_order(stack, card_order_id, TEMPLATES, ledger)
    check_deliveries(stack, deliveries, ledger)
    return ledger, deliveries


def failure_messages(stack: LocalStack) -> int:
    sqs = stack.client("sqs")
    total = 0
    for queue in ("GeneratorFailures", "DeliveryFailures", "EventsFailures"):
        url = stack.stack.physical[queue]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        total += int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    return total


def every_nth(n: int, kinds: tuple[str, ...], operations: set[str] | None = None) -> Any:
    """A rule faulting every n-th attempt of each operation, cycling through ``kinds``."""
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def rule(operation: str, _params: dict[str, Any]) -> str | None:
        if operations is not None and operation not in operations:
            return None
        with lock:
            seen[operation] = seen.get(operation, 0) + 1
            count = seen[operation]
        return kinds[(count // n) % len(kinds)] if count % n == 0 else None

    return rule


def test_throttling_is_absorbed_by_botocores_backoff_and_nothing_is_lost_or_doubled(
    local_stack,
):
    # Given every 3rd attempt of every DynamoDB operation the functions make throttled
    faults = DynamoDBFaults(dynamodb_client(), every_nth(3, ("throttle", "throttling")))
    sent = Sent()
    # When an order and three deliveries go through
    with recorded_backoffs() as backoffs:
        ledger, _ = run(local_stack, 1, sent)
    # Then botocore retried each throttled attempt after a jittered, growing wait...
    throttled = faults.faults["throttle"] + faults.faults["throttling"]
    assert throttled >= 15
    assert len(backoffs.botocore) == throttled
    assert all(0 <= delay <= 2.0 for delay in backoffs.botocore)  # rand * 1 s * 2^(i-1), i <= 2
    assert len(set(backoffs.botocore)) == len(backoffs.botocore)
    # ...no invocation failed, nothing was lost, counted twice or sent twice
    assert sent.retries == 0
    assert failure_messages(local_stack) == 0
    assert ledger.problems == []
    assert (ledger.cards, ledger.cards_delivered, ledger.deliveries) == (127, 13, 3)
    assert (ledger.lost, ledger.duplicated, ledger.duplicate_sends) == (0, 0, 0)


def test_unprocessed_items_partly_then_all_for_a_while_are_retried_with_backoff(local_stack):
    # Given BatchWriteItem leaving a third of its items unprocessed, and the first card write
    # of each chunk leaving all of them unprocessed for 4 rounds; BatchGetItem leaving half
    # of the keys of a delivery's read unprocessed twice
    rounds: dict[str, int] = {}

    def withhold(operation: str, params: dict[str, Any]) -> float:
        (_, requests), *_ = params["RequestItems"].items()
        if operation == "BatchGetItem":
            rounds["get"] = rounds.get("get", 0) + 1
            return 0.5 if rounds["get"] <= 2 else 0.0
        first = requests[0]["PutRequest"]["Item"]
        batch = first["pk"]["S"] + first["sk"]["S"]
        if batch.startswith("CARD#") and first["sk"]["S"] in {"0000000", "0000100"}:
            rounds[batch] = rounds.get(batch, 0) + 1
            if rounds[batch] <= 4:
                return 1.0
        return 1 / 3

    faults = DynamoDBFaults(dynamodb_client(), withhold=withhold)
    # When the order and its deliveries go through
    with recorded_backoffs() as backoffs:
        ledger, _ = run(local_stack, 2, Sent())
    # Then every withheld item was sent again after the store's backoff, growing per round
    # (4 rounds of all the items of T1's cards 0-24 and 100-119 and T2's 0-6: 208 items)
    assert faults.withheld >= 208
    waits = backoffs.store
    assert max(attempt for attempt, _ in waits) >= 3  # the all-unprocessed rounds
    assert all(0 <= delay <= min(2.0, 0.05 * 2**attempt) for attempt, delay in waits)
    # and nothing is lost or doubled
    assert failure_messages(local_stack) == 0
    assert ledger.problems == []
    assert (ledger.cards, ledger.cards_delivered) == (127, 13)
    assert (ledger.lost, ledger.duplicated, ledger.duplicate_sends) == (0, 0, 0)


def test_unprocessed_items_that_never_clear_fail_the_attempt_and_the_stream_redoes_it(
    local_stack,
):
    # Given the cards of the first chunk refused (all unprocessed) for 9 rounds: more than
    # the store's 8, so that attempt fails
    refused = {"rounds": 0}

    def withhold(operation: str, params: dict[str, Any]) -> float:
        if operation != "BatchWriteItem":
            return 0.0
        (_, requests), *_ = params["RequestItems"].items()
        key = requests[0].get("PutRequest", {}).get("Item", {}).get("pk", {}).get("S", "")
        if key.startswith("CARD#daily#3#T1#") and refused["rounds"] < 9:
            refused["rounds"] += 1
            return 1.0
        return 0.0

    DynamoDBFaults(dynamodb_client(), withhold=withhold)
    with recorded_backoffs() as backoffs:
        ledger, _ = run(local_stack, 3, Sent())
    # Then the chunk's first attempt gave up loudly and the stream's retry wrote it exactly
    assert refused["rounds"] == 9
    assert len(backoffs.store) >= 8
    assert failure_messages(local_stack) == 0
    assert ledger.problems == []
    assert (ledger.lost, ledger.duplicated) == (0, 0)


def test_lost_answers_of_applied_writes_are_resolved_by_their_conditions(local_stack):
    # Given every write's first attempt applied by DynamoDB but its answer lost (a 500):
    # botocore sends it again and the retry meets its own write
    writes = {"PutItem", "UpdateItem"}
    seen: set[str] = set()

    def lose_first(operation: str, params: dict[str, Any]) -> str | None:
        if operation not in writes:
            return None
        fingerprint = repr(sorted(params.items()))
        if fingerprint in seen:
            return None
        seen.add(fingerprint)
        return "lost"

    faults = DynamoDBFaults(dynamodb_client(), lose_first)
    sent = Sent()
    with recorded_backoffs() as backoffs:
        ledger, deliveries = run(local_stack, 4, sent)
    # Then the order was answered SUCCESS (its own header recognised as a replay), each chunk
    # was counted once, each delivery holds its own range: no card lost or doubled
    assert faults.faults["lost"] >= 15
    assert len(backoffs.botocore) == faults.faults["lost"]
    assert sent.retries == 0
    assert [answer.status_code for answer in sent.answers] == [200, 202, 202, 202]
    assert ledger.problems == []
    assert (ledger.cards, ledger.cards_delivered) == (127, 13)
    assert (ledger.lost, ledger.duplicated, ledger.duplicate_sends) == (0, 0, 0)
    # The one cost: an attempt counter ADDed twice (the lost answer and its retry), so a
    # delivery whose first start_sending answer was lost counts 2 attempts for 1 send
    attempts = {
        item["delivery_id"]: item["attempts"] for item in scan(local_stack, "DeliveriesTable")
    }
    assert all(attempts[delivery] == 2 for delivery in deliveries)


def test_conflicts_and_throttling_beyond_botocore_are_retried_by_the_stream(local_stack):
    # Given the generator's conditional updates answered TransactionConflictException once
    # each (botocore does not retry it), the first claim's transaction cancelled for a
    # conflict once, and the chunk-counting update throttled 6 times in a row (more than
    # botocore's 5 attempts)
    conflicted: set[str] = set()
    throttled = {"count": 0}

    def rule(operation: str, params: dict[str, Any]) -> str | None:
        if operation == "TransactWriteItems" and "claim" not in conflicted:
            conflicted.add("claim")  # a claim: its transaction cancelled once
            return "cancelled"
        if operation != "UpdateItem" or "ConditionExpression" not in params:
            return None
        condition = params["ConditionExpression"]
        if "NOT contains(done_chunks" in condition and throttled["count"] < 6:
            throttled["count"] += 1
            return "throttle"
        if condition not in conflicted:
            conflicted.add(condition)
            return "conflict"
        return None

    faults = DynamoDBFaults(dynamodb_client(), rule)
    with recorded_backoffs() as backoffs:
        ledger, _ = run(local_stack, 5, Sent())
    # Then each failed invocation was retried by its stream, and the result is exact
    # the numbering key's check (one condition, as the sequence's reservation and before a
    # chunk), start, count, finish, sending, delivered
    assert faults.faults["conflict"] == 6
    assert faults.faults["cancelled"] == 1  # the claim, tried again by the store
    assert throttled["count"] == 6
    assert len(backoffs.botocore) >= 4  # the throttles botocore retried itself
    assert failure_messages(local_stack) == 0
    assert ledger.problems == []
    assert (ledger.cards, ledger.cards_delivered) == (127, 13)
    # and a delivery TOP has taken is not sent again: its conflicted transition to DELIVERED
    # was retried by the store (the last chunk's conflicted finish by the stream's retry)
    assert (ledger.lost, ledger.duplicated, ledger.duplicate_sends) == (0, 0, 0)


# --- two writers racing one conditional update ------------------------------------------


class Gate:
    """Holds a matching request of one client until released: the other writer goes first."""

    def __init__(self, client: Any, operation: str, marker: str) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self._marker = marker
        client.meta.events.register_first(f"before-send.dynamodb.{operation}", self._hold)

    def _hold(self, request: Any, **_: Any) -> None:
        if self._marker in (request.body or b"").decode() and not self.release.is_set():
            self.reached.set()
            assert self.release.wait(30)


def fresh_client() -> Any:
    runtime.reset()
    return dynamodb_client()


def generated_order(stack: LocalStack, card_order_id: int) -> OrderKey:
    send_order(stack, card_order_id, TEMPLATES, Sent())
    stack.wait_idle(IDLE)
    return OrderKey("daily", card_order_id)


def test_racing_chunk_counts_and_order_starts_count_once(local_stack):
    # Given an order received, with its stream processing stopped so that we plan it
    for poller in local_stack.pollers.values():
        poller.stop()
    send_order(local_stack, 6, TEMPLATES, Sent())
    key = OrderKey("daily", 6)
    orders = local_stack.stack.physical["OrdersTable"]
    gate = Gate(fresh_client(), "UpdateItem", ":received")
    slow = runtime.card_generator()  # built on the gated client
    fresh_client()
    fast = runtime.card_generator()
    # When two planners race RECEIVED -> GENERATING, the slow one held at its update
    plans: dict[str, Any] = {}
    slow_thread = threading.Thread(target=lambda: plans.update(slow=slow.plan(key)))
    slow_thread.start()
    assert gate.reached.wait(30)
    plans["fast"] = fast.plan(key)
    gate.release.set()
    slow_thread.join(30)
    # Then both go on with the winner's chunking and sequence block, and one started it
    assert plans["slow"].chunks == plans["fast"].chunks
    assert (plans["slow"].started, plans["fast"].started) == (False, True)
    # When an attempt of each chunk has written its cards and its count is in flight, while
    # another attempt runs the whole chunk and counts it
    for chunk in plans["fast"].chunks:
        held = DynamoDBGenerationRepository(orders, fresh_client())
        gate = Gate(held._client, "UpdateItem", "done_chunks")
        results: dict[str, Any] = {}
        racer = threading.Thread(
            target=lambda c=chunk, r=results, h=held: r.update(slow=h.count_chunk(c))
        )
        racer.start()
        assert gate.reached.wait(30)
        fast.generate(chunk)
        gate.release.set()
        racer.join(30)
        # Then the condition refuses the count that arrives second
        assert results["slow"] is None
    # Then every chunk counted once, the order GENERATED once, cards exact
    ledger = Ledger()
    check_order(local_stack, 6, TEMPLATES, ledger)
    assert ledger.problems == []
    assert (ledger.lost, ledger.duplicated) == (0, 0)


def test_racing_claims_for_the_last_cards_never_share_one(local_stack):
    key = generated_order(local_stack, 7)
    cards = local_stack.stack.physical["CardsTable"]
    # Given two deliveries each wanting 5 of T2's 7 cards, the first held at its claim
    first = DynamoDBCardRepository(cards, fresh_client())
    gate = Gate(first._client, "TransactWriteItems", "CLAIM#")
    second = DynamoDBCardRepository(cards, fresh_client())
    results: dict[str, Any] = {}
    racer = threading.Thread(target=lambda: results.update(a=first.claim(key, "T2", "A", 5, 7)))
    racer.start()
    assert gate.reached.wait(30)
    # When the second claims while the first is in flight, then the first goes on
    results["b"] = second.claim(key, "T2", "B", 5, 7)
    gate.release.set()
    racer.join(30)
    # Then one got positions 0..4, the other waits for stock; a retry gets its range back
    assert results == {"a": None, "b": 0}
    assert second.claim(key, "T2", "B", 5, 7) == 0
    assert first.claim(key, "T2", "C", 2, 7) == 5
    (cursor,) = [i for i in scan(local_stack, "CardsTable") if i["pk"].startswith("CURSOR#")]
    claims = [i for i in scan(local_stack, "CardsTable") if i["pk"].startswith("CLAIM#")]
    assert cursor["allocated"] == 7
    assert {c["sk"]: (c["first"], c["quantity"]) for c in claims} == {"B": (0, 5), "C": (5, 2)}


def test_racing_delivery_transitions_move_a_delivery_once(local_stack):
    # Given a delivery sent and finished while a late attempt of it was held at start_sending
    generated_order(local_stack, 8)
    for poller in local_stack.pollers.values():
        poller.stop()
    delivery_id = create_delivery(local_stack, eticket(8, "T1", 3, "R8"), Sent())
    table = local_stack.stack.physical["DeliveriesTable"]
    late = DynamoDBDeliveryRepository(table, fresh_client())
    gate = Gate(late._client, "UpdateItem", ":sending")
    results: dict[str, Any] = {}
    racer = threading.Thread(target=lambda: results.update(late=late.start_sending(delivery_id, 0)))
    racer.start()
    assert gate.reached.wait(30)
    runtime.reset()
    attempt = runtime.delivery_sender().deliver(delivery_id)
    # When the late attempt's transition reaches DynamoDB after the delivery finished
    gate.release.set()
    racer.join(30)
    # Then its condition refuses it: the delivery stays DELIVERED, sent once
    assert attempt.status is not None
    assert (attempt.status.value, attempt.acted) == ("DELIVERED", True)
    assert results["late"] is None
    assert late.fail(delivery_id, "too late") is False
    (item,) = scan(local_stack, "DeliveriesTable")
    assert (item["status"], item["attempts"]) == ("DELIVERED", 1)
    gateway = local_stack.top_gateway
    assert gateway is not None
    assert len(gateway.calls_of("taobao.eticket.merchant.ma.send")) == 1


def test_the_store_retries_only_writes_dynamodb_says_it_did_not_apply():
    def failing(codes: list[str]) -> Any:
        def write() -> dict[str, Any]:
            if codes:
                raise ClientError({"Error": {"Code": codes.pop(0)}}, "UpdateItem")
            return {"ok": True}

        return write

    waits: list[float] = []
    unapplied = ["TransactionConflictException", "ThrottlingException"]
    assert retry_unapplied(failing(unapplied), sleep=waits.append) == {"ok": True}
    assert len(waits) == 2
    assert 0 <= waits[0] <= 0.05
    assert 0 <= waits[1] <= 0.1
    # A failed condition is an answer, and anything else may have been applied: not retried
    for code in ("ConditionalCheckFailedException", "InternalServerError"):
        with pytest.raises(ClientError):
            retry_unapplied(failing([code]), sleep=waits.append)
    with pytest.raises(ClientError):  # and it gives up after its attempts
        retry_unapplied(failing(["TransactionConflictException"] * 4), sleep=waits.append)
    assert len(waits) == 2 + 3
