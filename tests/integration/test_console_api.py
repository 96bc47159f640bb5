"""The console's own read routes through the real handler against moto: GET
/orders/{card_order_id}/stock (each template's cards generated, handed out to deliveries and
print runs, and left) and GET /failures (each on-failure queue's counts, its messages left
where they are). Both only read: every refusal is a 404 or a 422 and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cardmaker import CardOrderMakeRequest, DynamoDBCardRepository, OrderKey, runtime
from cardmaker_cli.samples import sample_order
from local.apigw import http_api_event
from tests.conftest import OPERATOR

REGION = "us-east-1"


def stock_event(card_order_id: int | str, own_sign: str = "daily") -> dict[str, Any]:
    return http_api_event(
        "GET",
        f"/orders/{card_order_id}/stock",
        raw_query=f"own_sign={own_sign}",
        route_key="GET /orders/{card_order_id}/stock",
        path_parameters={"card_order_id": str(card_order_id)},
        iam=OPERATOR,
    )


def failures_event() -> dict[str, Any]:
    return http_api_event("GET", "/failures", route_key="GET /failures", iam=OPERATOR)


def answered(answer: dict[str, Any]) -> tuple[int, Any]:
    return answer["statusCode"], json.loads(answer["body"])


def receive(card_order_id: int, templates: list[tuple[str, int, str]]) -> OrderKey:
    request = CardOrderMakeRequest.model_validate(sample_order(card_order_id, "daily", templates))
    runtime.order_service().receive(request)
    return OrderKey("daily", card_order_id)


def generate(card_order_id: int, templates: list[tuple[str, int, str]]) -> OrderKey:
    key = receive(card_order_id, templates)
    generator = runtime.card_generator()
    for chunk in generator.plan(key).chunks:
        generator.generate(chunk)
    return key


@pytest.fixture
def cards(stack) -> DynamoDBCardRepository:
    return DynamoDBCardRepository(
        stack.physical["CardsTable"], boto3.client("dynamodb", region_name=REGION)
    )


def test_stock_counts_what_deliveries_and_print_runs_claimed(invoke, cards):
    # Given an order whose T1 has 4 cards delivered and whose T2 went to a print run
    key = generate(7, [("T1", 30, "100"), ("T2", 5, "100"), ("T3", 2, "100")])
    assert cards.claim(key, "T1", "BD-1", 4, 30) == 0
    assert cards.claim_rest(key, "T2", "PRINT", 5) == range(5)
    # When the console reads the order's stock
    status, body = answered(invoke(stock_event(7)))
    # Then each template says what is left for the next delivery
    assert status == 200
    assert (body["card_order_id"], body["own_sign"], body["status"]) == (7, "daily", "GENERATED")
    assert [
        (t["template_no"], t["requested"], t["generated"], t["handed_out"], t["remaining"])
        for t in body["templates"]
    ] == [("T1", 30, 30, 4, 26), ("T2", 5, 5, 5, 0), ("T3", 2, 2, 0, 2)]
    assert body["templates"][0]["card_name"]


def test_an_order_not_generated_yet_has_no_stock(invoke):
    receive(8, [("T1", 3, "100")])
    status, body = answered(invoke(stock_event(8)))
    assert status == 200
    assert body["status"] == "RECEIVED"
    assert [(t["generated"], t["handed_out"], t["remaining"]) for t in body["templates"]] == [
        (0, 0, 0)
    ]


def test_stock_of_an_unknown_order_is_404(invoke):
    generate(9, [("T1", 1, "100")])
    status, body = answered(invoke(stock_event(9, "online")))  # 9 is a daily order
    assert status == 404
    assert "does not exist" in body["message"]


@pytest.mark.parametrize(
    ("card_order_id", "own_sign"), [("0", "daily"), ("x", "daily"), ("1", "production")]
)
def test_bad_stock_lookups_are_422_and_read_nothing(invoke, card_order_id, own_sign):
    status, _ = answered(invoke(stock_event(card_order_id, own_sign)))
    assert status == 422


def test_failures_counts_each_queue_and_leaves_the_messages(invoke, stack):
    sqs = boto3.client("sqs", region_name=REGION)
    url = {
        name: sqs.get_queue_url(QueueName=stack.physical[name].rsplit("/", 1)[-1])["QueueUrl"]
        for name in ("DeliveryFailures", "NotifierFailures")
    }
    # Given two failed batches waiting in DeliveryFailures, one being read in NotifierFailures
    for n in range(2):
        sqs.send_message(QueueUrl=url["DeliveryFailures"], MessageBody=json.dumps({"n": n}))
    sqs.send_message(QueueUrl=url["NotifierFailures"], MessageBody="{}")
    assert sqs.receive_message(QueueUrl=url["NotifierFailures"], VisibilityTimeout=60)["Messages"]
    # When the console reads the failures
    status, body = answered(invoke(failures_event()))
    # Then every queue is named with its counts, in the pipeline's order
    assert status == 200
    assert body == {
        "queues": [
            {"queue": "generator", "waiting": 0, "in_flight": 0},
            {"queue": "delivery", "waiting": 2, "in_flight": 0},
            {"queue": "events", "waiting": 0, "in_flight": 0},
            {"queue": "notifier", "waiting": 0, "in_flight": 1},
            {"queue": "fulfilment", "waiting": 0, "in_flight": 0},
        ],
        "waiting": 2,
    }
    # and no message was taken off a queue
    counts = sqs.get_queue_attributes(
        QueueUrl=url["DeliveryFailures"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "2"
