"""The print run, the layer's service against moto: it claims every card no delivery holds,
the same cards when asked again, and reads them back in order with their secrets, lazily;
it refuses an order that is not GENERATED, an unknown template, a template with nothing left,
and stops at a missing card or a secret that does not open."""

from __future__ import annotations

import boto3
import pytest

from cardmaker import (
    PRINT_CLAIM,
    CardMissing,
    CardOrderMakeRequest,
    DynamoDBCardRepository,
    DynamoDBOrderRepository,
    KmsDataKeys,
    OrderKey,
    OrderNotFound,
    OrderStatus,
    PrintedCard,
    PrintRefused,
    PrintRun,
    PrintRuns,
    Sealer,
    SecretOpener,
    SecretTampered,
    runtime,
)
from cardmaker.store import PK, SK, card_schema, from_item, to_item
from cardmaker_cli.samples import sample_order

REGION = "us-east-1"
CHUNK_SIZE = 10  # a 30-card template spans three chunks, each sealed under its own data key


@pytest.fixture
def generator_env(stack, monkeypatch):
    monkeypatch.setenv("CHUNK_SIZE", str(CHUNK_SIZE))
    runtime.reset()
    return stack


@pytest.fixture
def cards(generator_env) -> DynamoDBCardRepository:
    return DynamoDBCardRepository(
        generator_env.physical["CardsTable"], boto3.client("dynamodb", region_name=REGION)
    )


@pytest.fixture
def print_runs(generator_env, cards) -> PrintRuns:
    kms = KmsDataKeys(
        boto3.client("kms", region_name=REGION), generator_env.physical["CardDataKey"]
    )
    return PrintRuns(
        DynamoDBOrderRepository(generator_env.physical["OrdersTable"]),
        cards,
        SecretOpener(cards, kms),
    )


def receive(card_order_id: int, templates) -> OrderKey:
    request = CardOrderMakeRequest.model_validate(sample_order(card_order_id, "daily", templates))
    runtime.order_service().receive(request)
    return OrderKey("daily", card_order_id)


def generate(card_order_id: int, templates, *, chunks: int | None = None) -> OrderKey:
    """Receive an order and make its cards: every chunk, or only the first ``chunks``."""
    key = receive(card_order_id, templates)
    generator = runtime.card_generator()
    planned = generator.plan(key).chunks
    statuses = [generator.generate(chunk).order_status for chunk in planned[:chunks]]
    assert (statuses[-1] is OrderStatus.GENERATED) == (chunks is None)
    return key


def secret_of(cards: DynamoDBCardRepository, key: OrderKey, position: int) -> str:
    """A card's secret, opened here without the print run (KMS, then the sealer)."""
    (card,) = cards.read_cards(key, "T1", range(position, position + 1))
    data_key = boto3.client("kms", region_name=REGION).decrypt(
        CiphertextBlob=cards.wrapped_chunk_key(key, card.chunk_id),
        EncryptionContext={"card_order": key.label, "chunk": card.chunk_id},
    )["Plaintext"]
    return Sealer(data_key).open(card.card_no, card.sealed_secret)


def cursor_claims(stack, key: OrderKey, template_no: str) -> dict[str, int] | None:
    """The template's claims (claim id -> first position), None if it has no cursor yet."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = stack.physical["CardsTable"]
    cursor = dynamodb.get_item(
        TableName=table, Key=card_schema.cursor_key(key, template_no), ConsistentRead=True
    ).get("Item")
    claims = dynamodb.query(
        TableName=table,
        KeyConditionExpression=f"{PK} = :claims",
        ExpressionAttributeValues={
            ":claims": {"S": card_schema.claims_partition(key, template_no)}
        },
        ConsistentRead=True,
    )["Items"]
    if cursor is None:
        assert claims == []
        return None
    return {item[SK]["S"]: card_schema.claimed_range(item).start for item in claims}


def test_a_print_run_claims_every_card_and_reads_them_with_their_secrets(
    generator_env, cards, print_runs
):
    # Given a GENERATED order of two templates
    key = generate(14001, [("T1", 30, "100"), ("T2", 5, "5000")])

    # When a print run of T1 is claimed and its cards read
    run = print_runs.claim(key, "T1")
    printed = list(print_runs.cards(run))

    # Then it holds every card of T1, in position order, each with its own secret
    assert run == PrintRun(key, "T1", "100", 30, range(30))
    assert (run.count, run.handed_out_before) == (30, 0)
    assert all(isinstance(card, PrintedCard) for card in printed)
    assert [card.position for card in printed] == list(range(30))
    assert {(card.template_no, card.par_value) for card in printed} == {("T1", "100")}
    stored = cards.read_cards(key, "T1", range(30))
    assert [card.card_no for card in printed] == [card.card_no for card in stored]
    for position in (0, 9, 10, 29):  # across the three chunks' data keys
        assert printed[position].secret == secret_of(cards, key, position)
    assert printed[0].secret not in repr(printed[0])
    # And the cursor holds them for print: a delivery finds no stock, the other template's do
    assert cursor_claims(generator_env, key, "T1") == {PRINT_CLAIM: 0}
    assert cards.claim(key, "T1", "D-after", 1, 30) is None
    assert cards.claim(key, "T2", "D-other", 1, 5) == 0


def test_claiming_again_gives_the_same_cards_and_leaves_out_the_delivered_ones(
    generator_env, cards, print_runs
):
    # Given a GENERATED order whose first 2 cards a delivery holds
    key = generate(14002, [("T1", 30, "100")])
    assert cards.claim(key, "T1", "D-before", 2, 30) == 0

    # When the print run is claimed twice
    first = print_runs.claim(key, "T1")
    again = print_runs.claim(key, "T1")

    # Then both are the 28 other cards, and read the same
    assert first == again == PrintRun(key, "T1", "100", 30, range(2, 30))
    assert (first.count, first.handed_out_before) == (28, 2)
    assert list(print_runs.cards(first)) == list(print_runs.cards(again))
    assert [card.position for card in print_runs.cards(again)] == list(range(2, 30))
    assert cursor_claims(generator_env, key, "T1") == {"D-before": 0, PRINT_CLAIM: 2}


def test_nothing_left_to_print_is_refused_and_claims_nothing(generator_env, cards, print_runs):
    # Given a GENERATED order whose every card deliveries hold
    key = generate(14003, [("T1", 3, "100")])
    assert cards.claim(key, "T1", "D-all", 3, 3) == 0

    # When a print run is claimed, Then it is refused as having nothing left
    with pytest.raises(PrintRefused) as refused:
        print_runs.claim(key, "T1")

    assert refused.value.reason == "nothing_left"
    assert refused.value.message == (
        "all 3 cards of template T1 were handed out by deliveries: none is left to print"
    )
    assert cursor_claims(generator_env, key, "T1") == {"D-all": 0}


def test_an_order_still_generating_is_refused_and_claims_nothing(generator_env, print_runs):
    # Given an order of which one chunk of three is made (its status says GENERATING)
    key = generate(14004, [("T1", 30, "100")], chunks=1)

    # When a print run is claimed, Then it is refused until the order is GENERATED
    with pytest.raises(PrintRefused) as refused:
        print_runs.claim(key, "T1")

    assert refused.value.reason == "not_generated"
    assert refused.value.message == (
        "order CM-daily-14004 is GENERATING, not GENERATED: 10 of its 30 cards are made"
    )
    assert cursor_claims(generator_env, key, "T1") is None


def test_an_unknown_template_or_order_is_refused(generator_env, print_runs):
    # Given a GENERATED order of templates T1 and T2
    key = generate(14005, [("T1", 2, "100"), ("T2", 1, "5000")])

    # When a print run of a template it does not have, or of an order that does not exist,
    # is claimed
    with pytest.raises(PrintRefused) as no_template:
        print_runs.claim(key, "T9")
    with pytest.raises(OrderNotFound) as no_order:
        print_runs.claim(OrderKey("daily", 14999), "T1")

    # Then each says what is wrong, and nothing is claimed
    assert no_template.value.reason == "no_such_template"
    assert no_template.value.message == "order CM-daily-14005 has no template T9 (T1, T2)"
    assert no_order.value.message == "order CM-daily-14999 does not exist"
    assert cursor_claims(generator_env, key, "T9") is None


@pytest.mark.parametrize("gone", [2, 4], ids=["midway", "last"])
def test_a_missing_card_stops_the_run_where_it_is_missing(generator_env, print_runs, gone):
    # Given a GENERATED order of which one card has gone from the table
    key = generate(14006, [("T1", 5, "100")])
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=generator_env.physical["CardsTable"],
        Key=card_schema.card_key(key, "T1", gone),
    )
    run = print_runs.claim(key, "T1")

    # When its cards are read
    read = print_runs.cards(run)
    before = [next(read) for _ in range(gone)]
    with pytest.raises(CardMissing) as missing:
        next(read)

    # Then the cards before the gap come, then the error names the missing one
    assert [card.position for card in before] == list(range(gone))
    assert (missing.value.template_no, missing.value.position) == ("T1", gone)
    assert missing.value.message == f"card {gone} of template T1 is missing (5 expected)"


def test_a_secret_that_does_not_open_stops_the_run_naming_the_card(generator_env, print_runs):
    # Given a GENERATED order of which one card's sealed secret was altered in the table
    key = generate(14007, [("T1", 5, "100")])
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = generator_env.physical["CardsTable"]
    item_key = card_schema.card_key(key, "T1", 3)
    card = from_item(dynamodb.get_item(TableName=table, Key=item_key)["Item"])
    altered = bytes([card["secret"][0] ^ 1]) + card["secret"][1:]
    dynamodb.update_item(
        TableName=table,
        Key=item_key,
        UpdateExpression="SET secret = :altered",
        ExpressionAttributeValues=to_item({":altered": altered}),
    )
    run = print_runs.claim(key, "T1")

    # When its cards are read
    read = print_runs.cards(run)
    before = [next(read) for _ in range(3)]
    with pytest.raises(SecretTampered) as tampered:
        next(read)

    # Then the cards before it come, then the error names the card (and holds no secret)
    assert [card.position for card in before] == [0, 1, 2]
    assert tampered.value.message == f"the secret of card 3 ({card['card_no']}) does not open"


def test_the_cards_are_read_as_they_are_asked_for(generator_env, cards):
    # Given a GENERATED order of 30 cards, and a card store that counts the cards it reads
    key = generate(14008, [("T1", 30, "100")])
    read: list[int] = []

    class CountingStock:
        def claim_rest(self, order, template_no, claim_id, available):
            return cards.claim_rest(order, template_no, claim_id, available)

        def print_claim(self, order, template_no):
            return cards.print_claim(order, template_no)

        def iter_cards(self, order, template_no, positions):
            for card in cards.iter_cards(order, template_no, positions):
                read.append(card.position)
                yield card

    kms = KmsDataKeys(
        boto3.client("kms", region_name=REGION), generator_env.physical["CardDataKey"]
    )
    runs = PrintRuns(
        DynamoDBOrderRepository(generator_env.physical["OrdersTable"]),
        CountingStock(),
        SecretOpener(cards, kms),
    )

    # When the print run is claimed and its first card taken
    printed = runs.cards(runs.claim(key, "T1"))
    assert read == []
    first = next(printed)

    # Then one card was read for it, not the run
    assert (first.position, read) == (0, [0])
    assert [card.position for card in printed] == list(range(1, 30))
    assert read == list(range(30))
