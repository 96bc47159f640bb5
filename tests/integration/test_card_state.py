"""A card looked up by its number (``GET /cards/{card_no}``, the operator API's handler with
API Gateway's events, against moto) and a print run's release
(``POST /orders/{id}/templates/{t}/print-run/release``): the state each card shows follows
the records as cards move (AVAILABLE, ALLOCATED, ISSUED, BOUND, PRINTED, VOIDED) with no
write per card, never a secret; a release gives unprinted cards back with a record of its own,
and is refused once printed; an export whose print run was released fails."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest

from cardmaker import (
    BindDeliveryRequest,
    CardOutcome,
    CardResult,
    Delivery,
    DeliveryStatus,
    DynamoDBCardRepository,
    DynamoDBDeliveryRepository,
    DynamoDBOrderRepository,
    KmsDataKeys,
    OrderKey,
    PrintRefused,
    PrintRuns,
    Requester,
    Sealer,
    SecretOpener,
    request_fingerprint,
    runtime,
)
from cardmaker.store import PK
from local.apigw import http_api_event
from tests.conftest import OPERATOR
from tests.integration.test_print_run import CHUNK_SIZE, generate

REGION = "us-east-1"


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


def card_event(card_no: str, iam: dict[str, Any] | None = OPERATOR) -> dict[str, Any]:
    return http_api_event(
        "GET",
        f"/cards/{card_no}",
        route_key="GET /cards/{card_no}",
        path_parameters={"card_no": card_no},
        iam=iam,
    )


def release_event(
    card_order_id: int | str, template_no: str, iam: dict[str, Any] | None = OPERATOR
) -> dict[str, Any]:
    return http_api_event(
        "POST",
        f"/orders/{card_order_id}/templates/{template_no}/print-run/release",
        raw_query="own_sign=daily",
        route_key="POST /orders/{card_order_id}/templates/{template_no}/print-run/release",
        path_parameters={"card_order_id": str(card_order_id), "template_no": template_no},
        iam=iam,
    )


def looked_up(invoke, card_no: str) -> dict[str, Any]:
    answer = invoke(card_event(card_no))
    assert answer["statusCode"] == 200, answer["body"]
    return json.loads(answer["body"])


def card_numbers(cards: DynamoDBCardRepository, key: OrderKey, template_no: str, count: int):
    return [card.card_no for card in cards.iter_cards(key, template_no, range(count))]


def cards_table_items(stack) -> list[dict[str, Any]]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return dynamodb.scan(TableName=stack.physical["CardsTable"], ConsistentRead=True)["Items"]


def test_a_card_is_found_by_its_number_with_its_order_template_and_position(
    generator_env, cards, invoke
):
    # Given two GENERATED orders, the second of two templates
    generate(15001, [("T1", 4, "100")])
    key = generate(15002, [("T1", 3, "100"), ("T2", 25, "5000")])
    numbers = card_numbers(cards, key, "T2", 25)

    # When support looks up a card of the second template, in its third chunk
    shown = looked_up(invoke, numbers[21])

    # Then it names the order, template and position, AVAILABLE since it was made
    assert shown["card_order_id"] == 15002
    assert shown["own_sign"] == "daily"
    assert shown["making_card_no"] == "CM-daily-15002"
    assert (shown["template_no"], shown["position"], shown["par_value"]) == ("T2", 21, "5000")
    assert shown["state"] == "AVAILABLE"
    assert shown["since"] == shown["created_at"]
    assert shown["print_run"] is False
    assert "delivery_id" not in shown
    # and never its secret, sealed or open
    body = json.dumps(shown)
    assert "secret" not in body
    assert secret_of_t2(cards, key, 21) not in body


def secret_of_t2(cards: DynamoDBCardRepository, key: OrderKey, position: int) -> str:
    (card,) = cards.read_cards(key, "T2", range(position, position + 1))
    data_key = boto3.client("kms", region_name=REGION).decrypt(
        CiphertextBlob=cards.wrapped_chunk_key(key, card.chunk_id),
        EncryptionContext={"card_order": key.label, "chunk": card.chunk_id},
    )["Plaintext"]
    return Sealer(data_key).open(card.card_no, card.sealed_secret)


def test_the_state_follows_the_cards_as_deliveries_take_and_hand_them_out(
    generator_env, cards, invoke
):
    # Given a GENERATED order's 6 cards, 3 claimed by a delivery that bound 2 of them
    key = generate(15003, [("T1", 6, "100")])
    numbers = card_numbers(cards, key, "T1", 6)
    deliveries = DynamoDBDeliveryRepository(generator_env.physical["DeliveriesTable"])
    delivery = _bind_delivery(deliveries, "bind-15003", quantity=3)
    assert cards.claim(key, "T1", delivery.delivery_id, 3, 6) == 0
    before = cards_table_items(generator_env)
    assert looked_up(invoke, numbers[1])["state"] == "ALLOCATED"

    started = deliveries.start_sending(delivery.delivery_id, 0)
    assert started is not None
    outcomes = [CardOutcome.BOUND, CardOutcome.BIND_FAILED, CardOutcome.BOUND]
    results = tuple(
        CardResult(numbers[position], position, outcome)
        for position, outcome in enumerate(outcomes)
    )
    assert deliveries.finish(replace(started, status=DeliveryStatus.PARTIAL, cards=results))

    # When support looks up each card
    shown = [looked_up(invoke, number) for number in numbers]

    # Then the delivery's outcome says where each of its cards stands, the rest is AVAILABLE
    assert [card["state"] for card in shown] == [
        "BOUND",
        "ALLOCATED",  # the platform did not bind it: still the delivery's, never reused
        "BOUND",
        "AVAILABLE",
        "AVAILABLE",
        "AVAILABLE",
    ]
    assert {card.get("delivery_id") for card in shown[:3]} == {delivery.delivery_id}
    assert shown[1]["outcome"] == "BIND_FAILED"
    assert shown[0]["since"] is not None
    # and nothing was written per card to keep that state: the cards table has the same items
    assert cards_table_items(generator_env) == before

    # When a refund voids a card, it shows VOIDED
    cards.void_cards(key, "T1", [0], "2026-03-01T10:00:00+00:00")
    voided = looked_up(invoke, numbers[0])
    assert (voided["state"], voided["since"]) == ("VOIDED", "2026-03-01T10:00:00+00:00")


def _bind_delivery(deliveries: DynamoDBDeliveryRepository, outer: str, quantity: int):
    request = BindDeliveryRequest.model_validate(
        {
            "type": "bind",
            "card_order_id": int(outer.split("-")[1]),
            "own_sign": "daily",
            "template_no": "T1",
            "quantity": quantity,
            "out_biz_id": outer,
            "buyer_nick": "buyer",
        }
    )
    delivery = Delivery.new(request, "2026-03-01T09:00:00+00:00", Requester("arn:test"))
    deliveries.create(delivery, request_fingerprint(request))
    return delivery


def test_a_print_run_holds_its_cards_until_its_file_is_written_then_they_are_printed(
    generator_env, cards, print_runs, invoke
):
    key = generate(15004, [("T1", 5, "100")])
    numbers = card_numbers(cards, key, "T1", 5)
    run = print_runs.claim(key, "T1")

    claimed = looked_up(invoke, numbers[4])
    assert (claimed["state"], claimed["print_run"]) == ("ALLOCATED", True)
    assert claimed["since"] == run.claimed_at

    list(print_runs.cards(run))
    print_runs.confirm(run, "2026-03-02T08:00:00+00:00")

    printed = looked_up(invoke, numbers[4])
    assert (printed["state"], printed["since"]) == ("PRINTED", "2026-03-02T08:00:00+00:00")


def test_a_release_gives_the_print_runs_cards_back_with_a_record_of_its_own(
    generator_env, cards, print_runs, invoke
):
    # Given a template whose first 2 cards a delivery holds and the rest a print run
    key = generate(15005, [("T1", 7, "100")])
    numbers = card_numbers(cards, key, "T1", 7)
    assert cards.claim(key, "T1", "BD-earlier", 2, 7) == 0
    run = print_runs.claim(key, "T1")
    assert run.positions == range(2, 7)

    # When an operator releases the print run
    answer = invoke(release_event(15005, "T1"))

    # Then its 5 cards are given back and the release says who, when and which
    assert answer["statusCode"] == 200, answer["body"]
    released = json.loads(answer["body"])
    assert released["first_position"] == 2
    assert released["count"] == 5
    assert released["released_by"]["user_arn"] == "arn:aws:iam::123456789012:user/operator-alice"
    assert released["claimed_at"] == run.claimed_at
    record = [
        item for item in cards_table_items(generator_env) if item[PK]["S"].startswith("RELEASE#")
    ]
    assert len(record) == 1
    assert record[0]["quantity"] == {"N": "5"}
    assert record[0]["released_by"]["M"]["user_arn"]["S"].endswith("operator-alice")
    # and the audit trail has it, with who
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    (entry,) = dynamodb.scan(TableName=generator_env.physical["AuditTable"])["Items"]
    assert entry["action"]["S"] == "print_claim.released"
    assert entry["subject"]["S"] == "CM-daily-15005/T1"
    assert entry["who"]["M"]["user_arn"]["S"].endswith("operator-alice")
    assert [looked_up(invoke, number)["state"] for number in numbers] == (
        ["ALLOCATED"] * 2 + ["AVAILABLE"] * 5
    )
    # and a later delivery takes them again
    assert cards.claim(key, "T1", "BD-later", 3, 7) == 2
    assert looked_up(invoke, numbers[3])["delivery_id"] == "BD-later"

    # And the export that was under way when the release came fails: its file is not printed
    with pytest.raises(PrintRefused) as refused:
        print_runs.confirm(run, "2026-03-02T08:00:00+00:00")
    assert refused.value.reason == "released"


def test_a_printed_print_run_is_never_released(generator_env, cards, print_runs, invoke):
    key = generate(15006, [("T1", 4, "100")])
    run = print_runs.claim(key, "T1")
    print_runs.confirm(run, "2026-03-02T08:00:00+00:00")
    before = cards_table_items(generator_env)

    answer = invoke(release_event(15006, "T1"))

    assert answer["statusCode"] == 409
    problem = json.loads(answer["body"])["detail"][0]
    assert problem["type"] == "printed"
    assert problem["loc"] == ["path", "template_no"]
    assert cards_table_items(generator_env) == before


@pytest.mark.parametrize(
    ("card_order_id", "template_no", "iam", "status", "kind"),
    [
        (15007, "T1", OPERATOR, 409, "not_claimed"),  # no print run holds its cards
        (15007, "T9", OPERATOR, 422, "no_such_template"),
        (15999, "T1", OPERATOR, 404, None),
        (15007, "T1", None, 403, "no_iam_identity"),
        ("x", "T1", OPERATOR, 422, None),
    ],
)
def test_a_release_refused_writes_nothing(
    generator_env, invoke, card_order_id, template_no, iam, status, kind
):
    generate(15007, [("T1", 3, "100")])
    before = cards_table_items(generator_env)

    answer = invoke(release_event(card_order_id, template_no, iam=iam))

    assert answer["statusCode"] == status, answer["body"]
    if kind is not None:
        assert json.loads(answer["body"])["detail"][0]["type"] == kind
    assert cards_table_items(generator_env) == before


def test_an_unknown_card_number_is_a_404_and_a_malformed_one_a_422_naming_card_no(
    generator_env, cards, invoke
):
    key = generate(15008, [("T1", 3, "100")])
    (number, *_) = card_numbers(cards, key, "T1", 3)
    # One digit changed: a number of the scheme, but no card of ours has it
    other = number[:-1] + str((int(number[-1]) + 1) % 10)

    missing = invoke(card_event(other))
    assert missing["statusCode"] == 404
    assert json.loads(missing["body"])["message"] == f"no card numbered {other}"

    for malformed in ("31019x", "3101abc0000000000000", "99" + number[2:], number + "0"):
        answer = invoke(card_event(malformed))
        assert answer["statusCode"] == 422, (malformed, answer["body"])
        (problem,) = json.loads(answer["body"])["detail"]
        assert problem["loc"] == ["path", "card_no"]
        assert malformed not in answer["body"]
