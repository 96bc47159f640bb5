"""Generating an order's cards against moto: exact, unique, sealed, resumable, counted once."""

from __future__ import annotations

import json
from collections import Counter

import boto3
import pytest
from botocore.exceptions import ClientError

from cardmaker import runtime
from cardmaker.cards.keys import KmsDataKeys
from cardmaker.cards.sealing import Sealer
from cardmaker.orders import CardOrderMakeRequest, OrderKey, OrderStatus
from cardmaker.store import card_schema
from cardmaker.store.cards import DynamoDBCardRepository
from cardmaker.store.schema import from_item
from cardmaker_cli.samples import sample_order
from local.template import functions
from tests.conftest import order_event

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
    chunks = generator.plan(key)
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
    return [from_item(item) for item in items if item["pk"]["S"].startswith(prefix)]


def open_secret(stack, card):
    """Decrypt one card's secret the way the delivery will: unwrap its chunk's data key."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    key_item = client.get_item(
        TableName=stack.physical["CardsTable"],
        Key={
            "pk": {"S": f"CHUNKKEY#{card['own_sign']}#{card['card_order_id']}#{card['chunk_id']}"},
            "sk": {"S": "KEY"},
        },
    )["Item"]
    context = {
        "card_order": f"{card['own_sign']}:{card['card_order_id']}",
        "chunk": card["chunk_id"],
    }
    keys = KmsDataKeys(
        boto3.client("kms", region_name="us-east-1"), functions_env(stack)["CARD_KEY_ID"]
    )
    data_key = keys.unwrap(key_item["wrapped_key"]["B"], context)
    return Sealer(data_key.plaintext).open(card["card_no"], bytes(card["secret"]))


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
    assert {card["status"] for card in cards} == {"AVAILABLE"}
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
    clear = [open_secret(generator_env, card) for card in cards[:150]]
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
    (chunk,) = generator.plan(key)
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
    assert all(open_secret(generator_env, card) for card in cards[::50])  # one key for all attempts


def test_a_chunk_is_counted_once_however_often_it_runs(generator_env, invoke):
    key = receive(4, [("T1", 250, "100")])
    generator = runtime.card_generator()
    chunks = generator.plan(key)
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
    chunks = generator.plan(key)
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
    assert first == second
    counter = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=generator_env.physical["CardsTable"],
        Key=card_schema.sequence_key(generator._numberer.scheme.name),
    )["Item"]
    assert counter["next_sequence"]["N"] == "350"  # one block, reserved once


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
