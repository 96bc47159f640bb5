"""`cardmaker dlq list` / `dlq redrive` against the in-process local stack: a chunk whose
cards cannot be written fails on every attempt, the stream gives its batch up to the
GeneratorFailures queue, and the operator lists it and replays it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
import requests

from cardmaker import (
    DynamoDBCardRepository,
    DynamoDBDeliveryRepository,
    DynamoDBLifecycleRepository,
    DynamoDBOrderRepository,
    EventBridgeBus,
    NoticeState,
    OrderKey,
    OrderStatus,
    PlatformNotice,
)
from cardmaker.top import MakeFinishRequest, utc_now
from cardmaker_cli.samples import sample_order
from cardmaker_cli.stream_batches import peek, release
from local.platform import sample_delivery, sign_demo_call
from local.streams import streams_client
from local.top_gateway import CARD_BIND, Fault
from tests.cli.conftest import ORDER_ID, OWN_SIGN, TEMPLATES

MAKE_FINISH = MakeFinishRequest.METHOD
_order_ids = itertools.count(17101)
CARDS = 3


@pytest.fixture
def failing_cards(monkeypatch: pytest.MonkeyPatch) -> set[int | tuple[int, str]]:
    """Card writes of the orders (order id) or templates ((order id, template no)) in this
    set fail, on every attempt, as an unreachable cards table would; the rest are written."""
    failing: set[int | tuple[int, str]] = set()
    original = DynamoDBCardRepository.write_cards

    def write_cards(self, batches):
        batches = list(batches)  # small orders: one batch per chunk
        for batch in batches:
            order_id = batch.order.card_order_id
            if order_id in failing or (order_id, batch.template_no) in failing:
                raise OSError("the cards table is unreachable")
        return original(self, batches)

    monkeypatch.setattr(DynamoDBCardRepository, "write_cards", write_cards)
    return failing


@pytest.fixture
def failing_events(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """Lifecycle events of the orders (order id) in this set are not published, on every
    attempt, as an unreachable EventBridge would refuse them; the rest are published."""
    failing: set[int] = set()
    original = EventBridgeBus.publish

    def publish(self, event):
        if event.detail.get("card_order_id") in failing:
            raise OSError("EventBridge is unreachable")
        original(self, event)

    monkeypatch.setattr(EventBridgeBus, "publish", publish)
    return failing


def failed_events(stack, failing: set[int], order_id: int) -> set[str]:
    """An order whose lifecycle events could not be published (its cards are generated all
    the same): the message ids of the events function's failed batches (its RECEIVED and its
    GENERATED may fail in batches of their own); the fault is lifted."""
    before = set(messages(stack, "EventsFailures"))
    failing.add(order_id)
    send_order(stack, order_id)
    stack.wait_idle(60)
    failing.clear()
    failed = set(messages(stack, "EventsFailures")) - before
    assert failed
    return failed


def queue_url(stack, name="GeneratorFailures"):
    return stack.outputs()[f"{name}QueueUrl"]


def messages(stack, name="GeneratorFailures"):
    """The queue's messages, peeked directly (not through the command under test)."""
    sqs = stack.client("sqs")
    found = peek(sqs, queue_url(stack, name), hold_seconds=30, wait_seconds=0)
    release(sqs, queue_url(stack, name), found)
    return {message["MessageId"]: message for message in found}


def delete_messages(stack, ids, name="GeneratorFailures"):
    sqs = stack.client("sqs")
    found = peek(sqs, queue_url(stack, name), hold_seconds=30, wait_seconds=0)
    for message in found:
        if message["MessageId"] in ids:
            sqs.delete_message(
                QueueUrl=queue_url(stack, name), ReceiptHandle=message["ReceiptHandle"]
            )
    release(sqs, queue_url(stack, name), [m for m in found if m["MessageId"] not in ids])


def stored_order(stack, order_id):
    orders = DynamoDBOrderRepository(stack.stack.physical["OrdersTable"], stack.client("dynamodb"))
    return orders.get(OrderKey("daily", order_id))


def cards_of(stack, order_id):
    items = stack.client("dynamodb").scan(
        TableName=stack.stack.physical["CardsTable"],
        FilterExpression="entity = :card AND card_order_id = :order",
        ExpressionAttributeValues={":card": {"S": "CARD"}, ":order": {"N": str(order_id)}},
    )["Items"]
    return sorted((int(item["position"]["N"]), item["card_no"]["S"]) for item in items)


def send_order(stack, order_id, templates=(("T1", CARDS, "100"),)):
    call = sign_demo_call(sample_order(order_id, "daily", list(templates)))
    answer = requests.post(call.url(stack.url), data=call.body, headers=call.headers, timeout=10)
    assert answer.json()["response"]["success"] is True, answer.text


def outcomes(result):
    return {outcome["message_id"]: outcome for outcome in json.loads(result.stdout)}


@pytest.fixture
def failed_generation(local_stack, failing_cards) -> Iterator[tuple[int, str]]:
    """An order whose one chunk failed on every attempt: the order is FAILED and its batch
    is in the generator's failure queue. Yields (order id, message id); the fault is on."""
    before = set(messages(local_stack))
    order_id = next(_order_ids)
    failing_cards.add(order_id)
    send_order(local_stack, order_id)
    local_stack.wait_idle(60)
    (message_id,) = set(messages(local_stack)) - before
    yield order_id, message_id
    delete_messages(local_stack, {message_id})


def test_list_shows_the_failed_batch_and_consumes_nothing(cli, local_stack, failed_generation):
    order_id, message_id = failed_generation
    assert stored_order(local_stack, order_id).order.status is OrderStatus.FAILED

    # When the operator lists the generator's queue as JSON, twice
    first = cli("dlq", "list", "--queue", "generator", "--json")
    second = cli("dlq", "list", "--queue", "generator", "--json")

    # Then the batch is there both times, described from Lambda's failure record
    assert first.exit_code == 0, first.output
    listed = {batch["message_id"]: batch for batch in json.loads(first.stdout)}
    again = {batch["message_id"]: batch for batch in json.loads(second.stdout)}
    batch = listed[message_id]
    assert batch["queue"] == "generator"
    assert batch["function"] == "CardGeneratorFunction"
    assert batch["condition"] == "RetryAttemptsExhausted"
    assert batch["function_error"] == "Unhandled"
    assert batch["invocations"] == 5  # StreamMaxRetries 4, plus the first attempt
    assert batch["batch_size"] == 1
    assert batch["start_sequence"] == batch["end_sequence"]
    assert batch["shard_id"]
    assert batch["failed_at"]
    assert again[message_id]["receive_count"] > batch["receive_count"] >= 1
    # and the queue still holds it, visible to the next reader
    assert message_id in messages(local_stack)

    # The table says the same for people
    table = cli("dlq", "list", env={"COLUMNS": "300"})
    assert table.exit_code == 0
    assert message_id in table.stdout
    assert "RetryAttemptsExhausted" in table.stdout
    assert "CardGeneratorFunction" in table.stdout


def test_redrive_with_reopen_finishes_the_order(cli, local_stack, failing_cards, failed_generation):
    order_id, message_id = failed_generation
    redrive = ("dlq", "redrive", "--queue", "generator", "--message-id", message_id, "--json")

    # A dry run reads the records and changes nothing
    dry = cli(*redrive, "--dry-run", "--reopen")
    assert dry.exit_code == 0, dry.output
    assert outcomes(dry)[message_id]["result"] == "dry-run"
    assert f"order daily/{order_id} FAILED (would reopen)" in outcomes(dry)[message_id]["detail"]
    assert outcomes(dry)[message_id]["records"] == 1
    assert stored_order(local_stack, order_id).order.status is OrderStatus.FAILED
    assert message_id in messages(local_stack)

    # Without --reopen the replay would be a no-op on a FAILED order: it is not done
    plain = cli(*redrive)
    assert plain.exit_code == 1
    assert outcomes(plain)[message_id]["result"] == "skipped"
    assert "--reopen" in outcomes(plain)[message_id]["detail"]
    assert message_id in messages(local_stack)

    # While the fault lasts, a reopened replay fails again and the message stays
    still = cli(*redrive, "--reopen")
    assert still.exit_code == 1
    failing = outcomes(still)[message_id]
    assert failing["result"] == "failing"
    assert failing["reopened"] == [f"order daily/{order_id} FAILED → GENERATING"]
    assert message_id in messages(local_stack)
    assert stored_order(local_stack, order_id).order.status is OrderStatus.FAILED
    assert cards_of(local_stack, order_id) == []

    # Once the fault is gone, the reopened replay generates exactly the requested cards
    failing_cards.discard(order_id)
    done = cli(*redrive, "--reopen")
    assert done.exit_code == 0, done.output
    assert outcomes(done)[message_id]["result"] == "redriven"
    order = stored_order(local_stack, order_id)
    assert order.order.status is OrderStatus.GENERATED
    assert order.cards_generated == {"T1": CARDS}
    cards = cards_of(local_stack, order_id)
    assert [position for position, _ in cards] == list(range(CARDS))
    assert len({number for _, number in cards}) == CARDS
    # and the message is gone from the queue
    assert message_id not in messages(local_stack)
    listed = cli("dlq", "list", "--queue", "generator", "--json")
    assert message_id not in {batch["message_id"] for batch in json.loads(listed.stdout)}


def test_reopen_also_replays_the_chunks_that_stood_down(cli, local_stack, failing_cards):
    # Given an order of two templates (two chunks) whose first chunk fails on every attempt:
    # the order FAILED, and the second chunk, run after that, stood down without a trace
    before = set(messages(local_stack))
    order_id = next(_order_ids)
    failing_cards.add((order_id, "T1"))
    send_order(local_stack, order_id, [("T1", CARDS, "100"), ("T2", 2, "500")])
    local_stack.wait_idle(60)
    (message_id,) = set(messages(local_stack)) - before
    try:
        order = stored_order(local_stack, order_id)
        assert order.order.status is OrderStatus.FAILED
        assert order.cards_generated == {"T1": 0, "T2": 0}

        # When the fault is gone and the one failed batch is replayed with --reopen
        failing_cards.clear()
        result = cli("dlq", "redrive", "--queue", "generator", "--reopen", "--json")

        # Then the stood-down chunk is replayed too, and the order is whole
        assert result.exit_code == 0, result.output
        found = outcomes(result)
        assert found[message_id]["result"] == "redriven"
        stood_down = found[f"(order daily/{order_id})"]
        assert (stood_down["result"], stood_down["records"]) == ("redriven", 1)
        order = stored_order(local_stack, order_id)
        assert order.order.status is OrderStatus.GENERATED
        assert order.cards_generated == {"T1": CARDS, "T2": 2}
        assert len(cards_of(local_stack, order_id)) == CARDS + 2
    finally:
        delete_messages(local_stack, {message_id})


def test_records_gone_from_the_stream_are_reported_and_kept(cli, local_stack):
    # Given a failure record whose sequence numbers the stream no longer has (moto never
    # trims: numbers beyond anything written play that part), and a message that is not one
    streams = streams_client(local_stack.session(), local_stack.moto_url)
    arn = local_stack.outputs()["OrdersTableStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    body = {
        "requestContext": {
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:CardGeneratorFunction",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 5,
        },
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-21T10:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": "9" * 30,
            "endSequenceNumber": "9" * 30,
            "batchSize": 1,
            "streamArn": arn,
        },
    }
    sqs = local_stack.client("sqs")
    expired = sqs.send_message(QueueUrl=queue_url(local_stack), MessageBody=json.dumps(body))
    garbled = sqs.send_message(QueueUrl=queue_url(local_stack), MessageBody="not json")
    ids = {expired["MessageId"], garbled["MessageId"]}
    try:
        # When both are redriven
        result = cli("dlq", "redrive", "--queue", "generator", "--json")
        # Then each is reported, kept, and the command says so with its exit code
        assert result.exit_code == 1
        found = outcomes(result)
        assert found[expired["MessageId"]]["result"] == "expired"
        assert "no longer in the stream" in found[expired["MessageId"]]["detail"]
        assert found[garbled["MessageId"]]["result"] == "skipped"
        assert ids <= set(messages(local_stack))
        listed = cli("dlq", "list", "--json")
        problems = {b["message_id"]: b["problem"] for b in json.loads(listed.stdout)}
        assert problems[garbled["MessageId"]] == "not a DynamoDB stream failure record"
    finally:
        delete_messages(local_stack, ids)


def test_unknown_message_id_is_an_error_without_traceback(cli, local_stack):
    result = cli("dlq", "redrive", "--message-id", "no-such-message")
    assert result.exit_code == 1
    assert "no message no-such-message" in result.output
    assert "Traceback" not in result.output


def test_delivery_that_gave_up_is_reopened_and_sent_with_the_same_cards(cli, local_stack):
    # Given a bind delivery whose card.bind calls all lose their answer (an unknown outcome,
    # retried by the stream until the delivery gives up and its batch goes to the queue)

    gateway = local_stack.top_gateway
    before = set(messages(local_stack, "DeliveryFailures"))
    gateway.fail_always(Fault.drop(), method=CARD_BIND)
    body = sample_delivery(
        "bind",
        card_order_id=ORDER_ID,
        own_sign=OWN_SIGN,
        template_no=TEMPLATES[0][0],
        out_biz_id=f"DLQ-{next(_order_ids)}",
    )
    try:
        answer = requests.post(f"{local_stack.url}/deliveries", json=body, timeout=10)
        assert answer.status_code == 202, answer.text
        delivery_id = answer.json()["delivery_id"]
        local_stack.wait_idle(60)
    finally:
        gateway.reset()
    deliveries = DynamoDBDeliveryRepository(
        local_stack.stack.physical["DeliveriesTable"], local_stack.client("dynamodb")
    )
    failed = deliveries.get(delivery_id)
    assert failed.status.value == "FAILED"
    (message_id,) = set(messages(local_stack, "DeliveryFailures")) - before
    try:
        # When the operator replays it with --reopen
        result = cli(
            "dlq",
            "redrive",
            "--queue",
            "delivery",
            "--message-id",
            message_id,
            "--reopen",
            "--json",
        )
        # Then it is delivered: the same claimed cards, the same out_biz_id, one more call
        assert result.exit_code == 0, result.output
        outcome = outcomes(result)[message_id]
        assert outcome["result"] == "redriven"
        assert outcome["reopened"] == [f"delivery {delivery_id} FAILED → SENDING"]
        delivered = deliveries.get(delivery_id)
        assert delivered.status.value == "DELIVERED"
        assert delivered.first_position == failed.first_position
        assert [card.position for card in delivered.cards] == list(failed.positions)
        (call,) = gateway.calls_of(CARD_BIND)
        sent = call.structs["card_bind_req_dto"]
        assert sent["out_biz_id"] == body["out_biz_id"]
        assert sent["card_no_s"].split(",") == [card.card_no for card in delivered.cards]
        assert message_id not in messages(local_stack, "DeliveryFailures")
    finally:
        delete_messages(local_stack, {message_id}, "DeliveryFailures")


def test_lifecycle_events_given_up_on_are_listed_and_published_again(
    cli, local_stack, failing_events
):
    # Given an order whose events could not be published: its batches are in EventsFailures
    order_id = next(_order_ids)
    message_ids = failed_events(local_stack, failing_events, order_id)
    order = f"CM-daily-{order_id}"
    assert json.loads(cli("events", "--order", order, "--json").stdout) == []
    assert stored_order(local_stack, order_id).order.status is OrderStatus.GENERATED

    # When the operator lists the events queue, then replays it (the fault is gone)
    listed = cli("dlq", "list", "--queue", "events", "--json")
    dry = cli("dlq", "redrive", "--queue", "events", "--dry-run", "--json")
    done = cli("dlq", "redrive", "--queue", "events", "--json")

    # Then the batches were listed for the function that gave up on them, and their replay
    # published the order's events, once each, and emptied the queue
    batches = {b["message_id"]: b for b in json.loads(listed.stdout)}
    assert message_ids <= set(batches)
    assert {(batches[m]["queue"], batches[m]["function"]) for m in message_ids} == {
        ("events", "LifecycleEventsFunction")
    }
    assert dry.exit_code == 0, dry.output
    assert {outcomes(dry)[m]["result"] for m in message_ids} == {"dry-run"}
    assert all("published again" in outcomes(dry)[m]["detail"] for m in message_ids)
    assert done.exit_code == 0, done.output
    assert {outcomes(done)[m]["result"] for m in message_ids} == {"redriven"}
    shown = json.loads(cli("events", "--order", order, "--json").stdout)
    assert [event["detail-type"] for event in shown] == ["Order Received", "Order Generated"]
    assert message_ids.isdisjoint(messages(local_stack, "EventsFailures"))


def test_a_failed_platform_notification_is_reopened_and_sent_once(cli, local_stack):
    # Given an order made by an operator whose make.finish the platform refuses: recorded
    # FAILED with the platform's code, and its record in the notifier's failure queue
    gateway = local_stack.top_gateway
    before = set(messages(local_stack, "NotifierFailures"))
    order_id = next(_order_ids)
    send_order(local_stack, order_id)
    local_stack.wait_idle(60)
    key = OrderKey("daily", order_id)
    lifecycle = DynamoDBLifecycleRepository(
        local_stack.stack.physical["OrdersTable"], local_stack.client("dynamodb")
    )
    gateway.fail_always(Fault.error(15, "isv.invalid-parameter"), method=MAKE_FINISH)
    try:
        lifecycle.mark_made(key, "operator-alice", utc_now())
        local_stack.wait_idle(60)
    finally:
        gateway.reset()
    failed = lifecycle.get(key).lifecycle.notices[PlatformNotice.MAKE_FINISH]
    assert (failed.state, failed.code) == (NoticeState.FAILED, "isv.invalid-parameter")
    new = set(messages(local_stack, "NotifierFailures")) - before
    assert new
    try:
        listed = cli("dlq", "list", "--queue", "notifier", "--json")
        assert {batch["message_id"] for batch in json.loads(listed.stdout)} >= new
        assert "PlatformNotifierFunction" in listed.stdout
        message_id = min(new)
        redrive = ("dlq", "redrive", "--queue", "notifier", "--message-id", message_id, "--json")

        # Without --reopen the replay would send nothing: it is not done
        plain = cli(*redrive)
        assert plain.exit_code == 1
        assert "--reopen" in outcomes(plain)[message_id]["detail"]
        assert gateway.calls_of(MAKE_FINISH) == []

        # When the operator replays it with --reopen
        result = cli(*redrive, "--reopen")
        local_stack.wait_idle(60)  # the reopen's own record reaches the live stream too

        # Then make.finish is sent and accepted exactly once, and the message is gone
        assert result.exit_code == 0, result.output
        outcome = outcomes(result)[message_id]
        assert outcome["result"] == "redriven"
        assert outcome["reopened"] == [f"order daily/{order_id} make_finish FAILED → PENDING"]
        calls = gateway.calls_of(MAKE_FINISH)
        assert [call.params["card_order_id"] for call in calls] == [str(order_id)]
        assert calls[0].accepted == (str(order_id),)
        sent = lifecycle.get(key).lifecycle.notices[PlatformNotice.MAKE_FINISH]
        assert (sent.state, sent.code) == (NoticeState.SENT, None)
        assert message_id not in messages(local_stack, "NotifierFailures")
        # The other messages of the same order replay as no-ops now
        rest = cli("dlq", "redrive", "--queue", "notifier", "--json")
        assert rest.exit_code == 0, rest.output
        assert len(gateway.calls_of(MAKE_FINISH)) == 1
    finally:
        delete_messages(local_stack, new, "NotifierFailures")
