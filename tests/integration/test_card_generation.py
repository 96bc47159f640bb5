"""Generating an order's cards against moto: exact, unique, sealed, resumable, counted once."""

from __future__ import annotations

import json
from collections import Counter

import boto3
import pytest
from botocore.exceptions import ClientError

from cardmaker import (
    CardOrderMakeRequest,
    DynamoDBCardRepository,
    GenerateChunk,
    KmsDataKeys,
    NumberingKeyChanged,
    OrderKey,
    OrderStatus,
    Sealer,
    generation_task,
    runtime,
)
from cardmaker.generation import service as generation_service
from cardmaker.store import card_schema, from_item
from cardmaker_cli.samples import sample_order
from local.template import functions
from tests.conftest import order_event, stream_records
from tests.metrics import emitted_metrics

CHUNK_SIZE = 100


@pytest.fixture
def generator_env(stack, monkeypatch):
    for name, value in functions_env(stack).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CHUNK_SIZE", str(CHUNK_SIZE))
    runtime.reset()
    return stack


def functions_env(stack):
    return functions(stack)["CardGeneratorFunction"].environment


def receive(card_order_id, templates, own_sign="daily"):
    request = CardOrderMakeRequest.model_validate(sample_order(card_order_id, own_sign, templates))
    runtime.order_service().receive(request)
    return OrderKey(own_sign, card_order_id)


def run_all(key):
    generator = runtime.card_generator()
    chunks = generator.plan(key).chunks
    return chunks, [generator.generate(chunk) for chunk in chunks]


def cards_of(stack, key):
    client = boto3.client("dynamodb", region_name="us-east-1")
    items, page = [], {"TableName": stack.physical["CardsTable"], "ConsistentRead": True}
    while True:
        answer = client.scan(**page)
        items.extend(answer["Items"])
        if "LastEvaluatedKey" not in answer:
            break
        page["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    prefix = f"CARD#{key.own_sign}#{key.card_order_id}#"
    return [card for card in map(from_item, items) if card["pk"].startswith(prefix)]


def aws_clients():
    """The DynamoDB and KMS clients ``open_secret`` reads with (one pair for many cards: a
    client costs more to make than the calls it makes here)."""
    return boto3.client("dynamodb", region_name="us-east-1"), boto3.client(
        "kms", region_name="us-east-1"
    )


def open_secret(stack, card, clients=None):
    """Decrypt one card's secret the way the delivery will: unwrap its chunk's data key."""
    client, kms = clients or aws_clients()
    order = OrderKey(card["own_sign"], card["card_order_id"])
    key_item = client.get_item(
        TableName=stack.physical["CardsTable"],
        Key=card_schema.chunk_key_of(order, card["chunk_id"]),
    )["Item"]
    context = {
        "card_order": f"{card['own_sign']}:{card['card_order_id']}",
        "chunk": card["chunk_id"],
    }
    keys = KmsDataKeys(kms, functions_env(stack)["CARD_KEY_ID"])
    data_key = keys.unwrap(from_item(key_item)["wrapped_key"], context)
    return Sealer(data_key.plaintext).open(card["card_no"], card["secret"])


def test_order_is_generated_exactly(generator_env, invoke):
    key = receive(1, [("T1", 1200, "100"), ("T2", 37, "5000")])
    chunks, results = run_all(key)
    assert len(chunks) == 12 + 1
    assert [result.order_status for result in results][-1] is OrderStatus.GENERATED
    assert sum(result.order_status is OrderStatus.GENERATED for result in results) == 1

    cards = cards_of(generator_env, key)
    per_template = Counter(card["template_no"] for card in cards)
    assert per_template == {"T1": 1200, "T2": 37}
    assert len({card["card_no"] for card in cards}) == 1237
    for template, count in per_template.items():
        assert sorted(c["position"] for c in cards if c["template_no"] == template) == list(
            range(count)
        )
    # no per-card status is stored: one written once and never changed would mislead
    assert not any("status" in card for card in cards)
    assert all(len(card["card_no"]) == 19 and card["card_no"].startswith("3101") for card in cards)
    assert {card["par_value"] for card in cards if card["template_no"] == "T2"} == {"5000"}

    view = json.loads(invoke(order_event(1))["body"])
    assert view["status"] == "GENERATED"
    assert [(t["template_no"], t["requested"], t["generated"]) for t in view["templates"]] == [
        ("T1", 1200, 1200),
        ("T2", 37, 37),
    ]
    assert (view["chunks_done"], view["chunks_total"]) == (13, 13)


def test_secrets_are_stored_only_as_ciphertext(generator_env):
    key = receive(2, [("T1", 150, "100")])
    run_all(key)
    cards = cards_of(generator_env, key)
    clients = aws_clients()
    clear = [open_secret(generator_env, card, clients) for card in cards[:150]]
    assert all(len(secret) == 16 for secret in clear)
    everything = repr(
        boto3.client("dynamodb", region_name="us-east-1").scan(
            TableName=generator_env.physical["CardsTable"]
        )
    ) + repr(
        boto3.client("dynamodb", region_name="us-east-1").scan(
            TableName=generator_env.physical["OrdersTable"]
        )
    )
    assert not any(secret in everything for secret in clear)


class FailingWrites:
    """A DynamoDB client whose BatchWriteItem dies after ``allowed`` calls (a crash mid-chunk)."""

    def __init__(self, real, allowed):
        self._real = real
        self.allowed = allowed

    def batch_write_item(self, **kwargs):
        if self.allowed <= 0:
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}}, "BatchWriteItem"
            )
        self.allowed -= 1
        return self._real.batch_write_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.parametrize("allowed", [0, 1, 3, 7])
def test_a_chunk_killed_midway_is_redone_exactly(generator_env, monkeypatch, allowed):
    monkeypatch.setenv("CHUNK_SIZE", "600")
    runtime.reset()
    key = receive(3, [("T1", 600, "100")])
    generator = runtime.card_generator()
    (chunk,) = generator.plan(key).chunks
    real = boto3.client("dynamodb", region_name="us-east-1")
    broken = DynamoDBCardRepository(
        generator_env.physical["CardsTable"], FailingWrites(real, allowed), writers=1
    )
    healthy_cards = generator._cards
    generator._cards = broken
    with pytest.raises(ClientError):
        generator.generate(chunk)
    written_before = len(cards_of(generator_env, key))
    assert written_before == min(allowed * 25, 600)
    generator._cards = healthy_cards
    result = generator.generate(chunk)  # the retry
    assert (result.generated, result.order_status) == (600, OrderStatus.GENERATED)
    cards = cards_of(generator_env, key)
    assert sorted(card["position"] for card in cards) == list(range(600))  # no gaps, no duplicates
    numbers = [card["card_no"] for card in sorted(cards, key=lambda card: card["position"])]
    assert numbers == generator._numberer.numbers(chunk.first_sequence, 600)  # same numbers
    clients = aws_clients()
    assert all(
        open_secret(generator_env, card, clients) for card in cards[::50]
    )  # one key for all attempts


def test_a_chunk_is_counted_once_however_often_it_runs(generator_env, invoke):
    key = receive(4, [("T1", 250, "100")])
    generator = runtime.card_generator()
    chunks = generator.plan(key).chunks
    first = generator.generate(chunks[0])
    again = generator.generate(chunks[0])  # a redelivered stream record
    assert (first.generated, again.generated) == (100, 0)
    # an attempt that died after counting but before finishing: counting again is refused
    assert runtime.card_generator()._orders.count_chunk(chunks[0]) is None
    for chunk in chunks[1:]:
        generator.generate(chunk)
    view = json.loads(invoke(order_event(4))["body"])
    assert (view["status"], view["cards_generated"], view["templates"][0]["generated"]) == (
        "GENERATED",
        250,
        250,
    )


def test_the_last_attempt_marks_the_order_failed(generator_env, invoke, monkeypatch):
    monkeypatch.setenv("STREAM_MAX_RETRIES", "2")  # three attempts in all
    runtime.reset()
    key = receive(5, [("T1", 150, "100")])
    generator = runtime.card_generator()
    chunks = generator.plan(key).chunks
    real = boto3.client("dynamodb", region_name="us-east-1")
    generator._cards = DynamoDBCardRepository(
        generator_env.physical["CardsTable"], FailingWrites(real, 0)
    )
    for attempt in (1, 2):
        with pytest.raises(ClientError):
            generator.generate(chunks[0])
        assert json.loads(invoke(order_event(5))["body"])["status"] == "GENERATING", attempt
    with pytest.raises(ClientError):
        generator.generate(chunks[0])
    view = json.loads(invoke(order_event(5))["body"])
    assert view["status"] == "FAILED"
    assert "chunk 0.0 of template T1 failed 3 times" in view["failure_reason"]
    # the other chunk stands down instead of generating cards for a failed order
    assert generator.generate(chunks[1]).generated == 0


def test_planning_twice_changes_nothing(generator_env):
    key = receive(6, [("T1", 350, "100")])
    generator = runtime.card_generator()
    first = generator.plan(key)
    second = generator.plan(key)
    assert first.chunks == second.chunks
    assert (first.started, second.started) == (True, False)  # started once
    counter = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=generator_env.physical["CardsTable"],
        Key=card_schema.sequence_key(generator._numberer.scheme.name),
    )["Item"]
    assert from_item(counter)["next_sequence"] == 350  # one block, reserved once


def test_orders_never_share_a_card_number(generator_env):
    keys = [
        receive(10 + n, [("T1", 300, "100"), ("T2", 120, "100")], own_sign)
        for n, own_sign in enumerate(["daily", "pre", "online"])
    ]
    numbers = []
    for key in keys:
        run_all(key)
        numbers.extend(card["card_no"] for card in cards_of(generator_env, key))
    assert len(numbers) == 3 * 420
    assert len(set(numbers)) == len(numbers)


def test_a_plan_makes_its_chunks_once(generator_env, monkeypatch):
    # Given a plan_chunks that counts its calls
    real = generation_service.plan_chunks
    made = []

    def counted(*args):
        made.append(args)
        return real(*args)

    monkeypatch.setattr(generation_service, "plan_chunks", counted)
    key = receive(7, [("T1", 250, "100"), ("T2", 30, "100")])
    generator = runtime.card_generator()

    # When the order is planned, and planned again (a replayed record)
    first = generator.plan(key)
    second = generator.plan(key)

    # Then each plan made the chunks once, and both made the same ones
    assert len(made) == 2
    assert len(first.chunks) == 3 + 1
    assert first.chunks == second.chunks


def test_an_attempt_that_loses_the_count_reports_no_cards(generator_env):
    # Given a chunk whose count another attempt gets in first (both wrote its cards)
    key = receive(8, [("T1", 100, "100")])
    generator = runtime.card_generator()
    (chunk,) = generator.plan(key).chunks
    orders = generator._orders
    count_chunk = orders.count_chunk

    def counted_first_by_another(counted):
        assert count_chunk(counted) == 1  # the other attempt
        return count_chunk(counted)

    orders.count_chunk = counted_first_by_another

    # When this attempt finishes writing and counts
    result = generator.generate(chunk)

    # Then it added no cards to the order (the other did), and the order is complete
    assert (result.generated, result.order_status) == (0, OrderStatus.GENERATED)
    assert len(cards_of(generator_env, key)) == 100


def test_replayed_records_count_the_plan_and_the_cards_once(
    generator_env, invoke_generator, dynamodb, capsys
):
    # Given an order received, and its record on the orders stream
    key = receive(9, [("T1", 250, "100")])
    (received,) = stream_records(dynamodb, generator_env.physical["OrdersTable"])
    capsys.readouterr()

    # When the record is handled twice (a replay), and so is each chunk's record
    for _ in range(2):
        assert invoke_generator({"Records": [received]}) == {"batchItemFailures": []}
    chunks = [
        record
        for record in stream_records(dynamodb, generator_env.physical["OrdersTable"])
        if isinstance(generation_task(record), GenerateChunk)
    ]
    assert len(chunks) == 3
    for _ in range(2):
        assert invoke_generator({"Records": chunks}) == {"batchItemFailures": []}

    # Then the order was planned once and its cards generated once, and so they are counted
    counted = emitted_metrics(capsys.readouterr().out)
    assert (counted["OrdersPlanned"], counted["CardsGenerated"]) == (1, 250)
    assert len(cards_of(generator_env, key)) == 250


def test_a_new_numbering_key_cannot_continue_the_old_sequence(generator_env):
    # Given cards numbered under the stack's numbering key
    first = receive(40, [("T1", 120, "100")])
    run_all(first)
    # and an order planned under it, its cards not made yet
    planned = receive(42, [("T1", 30, "100")])
    (chunk,) = runtime.card_generator().plan(planned).chunks
    counter_key = card_schema.sequence_key(runtime.card_generator()._numberer.scheme.name)
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = generator_env.physical["CardsTable"]
    before = from_item(client.get_item(TableName=table, Key=counter_key)["Item"])
    # When the numbering secret is replaced (a redeploy made a new one) and an order arrives
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=generator_env.physical["CardNumberSecret"],
        SecretString=json.dumps({"key": "another-numbering-key-" + "x" * 40}),
    )
    runtime.reset()
    second = receive(41, [("T1", 50, "100")])
    # Then planning refuses: the new key's numbers could repeat the old key's cards
    with pytest.raises(NumberingKeyChanged):
        runtime.card_generator().plan(second)
    # and nothing moved: the counter is where the first key left it, the order still waits
    after = from_item(client.get_item(TableName=table, Key=counter_key)["Item"])
    assert after == before
    assert runtime.order_service().get(second).order.status is OrderStatus.RECEIVED
    # and the planned order's chunk is not numbered under the new key either
    with pytest.raises(NumberingKeyChanged):
        runtime.card_generator().generate(chunk)
    assert cards_of(generator_env, planned) == []


# --- a retried chunk keeps the secrets of its cards -----------------------------------------


def secrets_of(stack, key):
    """Every card's secret in clear, by position: what a delivery or an export would read."""
    clients = aws_clients()
    return {card["position"]: open_secret(stack, card, clients) for card in cards_of(stack, key)}


def test_a_stale_attempt_keeps_the_secrets_of_cards_already_read(generator_env):
    # Given a chunk's record delivered twice: the second delivery read the order's progress
    # (chunk not counted yet) just before the first one finished the order, and then the
    # order's cards were read (a delivery sent them, an export wrote them)
    key = receive(20, [("T1", 100, "100")])
    stale = runtime.card_generator()
    (chunk,) = stale.plan(key).chunks
    runtime.reset()
    first = runtime.card_generator()
    read: dict[int, str] = {}
    progress = stale._orders.progress

    def progress_then_the_first_attempt_finishes(order):
        seen = progress(order)
        if not read:  # the stale attempt's first look; it looks again when it counts
            assert first.generate(chunk).order_status is OrderStatus.GENERATED
            read.update(secrets_of(generator_env, key))
        return seen

    stale._orders.progress = progress_then_the_first_attempt_finishes

    # When the stale attempt goes on and writes the chunk's cards again
    result = stale.generate(chunk)

    # Then every card still has the secret that was read, and the order counts no more cards
    assert len(read) == 100
    assert secrets_of(generator_env, key) == read
    assert (result.generated, result.order_status) == (0, OrderStatus.GENERATED)


def test_a_first_attempt_that_writes_late_keeps_the_secrets_already_read(generator_env):
    # Given a chunk's first attempt that claimed the chunk's data key and then stalled, while
    # a second attempt generated the chunk, finished the order and its cards were read
    key = receive(21, [("T1", 100, "100")])
    stale = runtime.card_generator()
    (chunk,) = stale.plan(key).chunks
    runtime.reset()
    second = runtime.card_generator()
    read: dict[int, str] = {}
    claim_chunk_key = stale._cards.claim_chunk_key

    def claim_then_the_second_attempt_finishes(claimed, wrapped):
        answer = claim_chunk_key(claimed, wrapped)
        assert answer[1] == 1  # the stale attempt is the chunk's first
        assert second.generate(chunk).order_status is OrderStatus.GENERATED
        read.update(secrets_of(generator_env, key))
        return answer

    stale._cards.claim_chunk_key = claim_then_the_second_attempt_finishes

    # When the first attempt wakes up and writes its cards (unconditionally: it is the fast one)
    stale.generate(chunk)

    # Then every card still has the secret that was read
    assert len(read) == 100
    assert secrets_of(generator_env, key) == read


def test_a_retried_chunk_keeps_the_secrets_its_first_attempt_wrote(generator_env):
    # Given a chunk whose first attempt wrote every card and then died before counting it
    key = receive(22, [("T1", 100, "100")])
    generator = runtime.card_generator()
    (chunk,) = generator.plan(key).chunks
    orders = generator._orders
    count_chunk = orders.count_chunk

    def dies_before_counting(counted):
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")

    orders.count_chunk = dies_before_counting
    with pytest.raises(ClientError):
        generator.generate(chunk)
    written = secrets_of(generator_env, key)
    orders.count_chunk = count_chunk

    # When the stream retries the chunk
    result = generator.generate(chunk)

    # Then the retry wrote the same secrets again, not new ones
    assert (result.generated, result.order_status) == (100, OrderStatus.GENERATED)
    assert len(written) == 100
    assert secrets_of(generator_env, key) == written
