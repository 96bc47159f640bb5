"""Why a delivery waits, cancelling one that waits, and an order's deliveries: through the
operator API's handler (real API Gateway events) and the delivery function's sender, moto
behind, the fake TOP gateway over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from cardmaker import (
    Delivery,
    DeliveryStatus,
    DynamoDBDeliveryRepository,
    NoticeDeliveryRequest,
    OrderKey,
    Requester,
    request_fingerprint,
    runtime,
)
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from local.apigw import http_api_event
from local.platform import sample_delivery, sign_demo_call
from local.template import REGION
from local.top_gateway import FakeTopGateway
from tests.conftest import (
    OPERATOR,
    SESSION_KEY,
    delivery_get_event,
    delivery_post_event,
    spi_event,
)

CARD_BIND = "tmall.purchase.card.bind"
ORDER = OrderKey("daily", 16002)


@pytest.fixture
def gateway(stack, monkeypatch):
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as fake:
        monkeypatch.setenv("TOP_GATEWAY_URL", fake.url)
        monkeypatch.setenv("CHUNK_SIZE", "4")
        runtime.reset()
        yield fake


def receive(invoke, count=10):
    invoke(spi_event(sign_demo_call(sample_order(16002, templates=[("T1", count, "100")]))))


def audit_trail(stack) -> list[dict]:
    """The audit trail's entries as GET /audit would show them (names only; order aside)."""
    items = boto3.client("dynamodb", region_name=REGION).scan(
        TableName=stack.physical["AuditTable"]
    )["Items"]
    return [
        {
            "action": item["action"]["S"],
            "subject": item["subject"]["S"],
            "who": {"user_arn": item["who"]["M"]["user_arn"]["S"]},
        }
        for item in items
    ]


def generate():
    generator = runtime.card_generator()
    for chunk in generator.plan(ORDER).chunks:
        generator.generate(chunk)
    runtime.delivery_sender().wake_waiting(ORDER)


def deliver(delivery_id):
    return runtime.delivery_sender().deliver(delivery_id)


def bind(quantity, out_biz_id):
    return sample_delivery("bind", template_no="T1", quantity=quantity, out_biz_id=out_biz_id)


def create(invoke, body):
    answer = invoke(delivery_post_event(body))
    assert answer["statusCode"] == 202, answer
    return json.loads(answer["body"])["delivery_id"]


def view(invoke, delivery_id):
    return json.loads(invoke(delivery_get_event(delivery_id))["body"])


def cancel(invoke, delivery_id, iam=OPERATOR):
    answer = invoke(
        http_api_event(
            "POST",
            f"/deliveries/{delivery_id}/cancel",
            route_key="POST /deliveries/{delivery_id}/cancel",
            path_parameters={"delivery_id": delivery_id},
            iam=iam,
        )
    )
    return answer["statusCode"], json.loads(answer["body"])


def listed(invoke, query):
    answer = invoke(
        http_api_event(
            "GET", "/deliveries", raw_query=query, route_key="GET /deliveries", iam=OPERATOR
        )
    )
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def deliveries_table(stack):
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")

    def scan():
        items = dynamodb.scan(TableName=stack.physical["DeliveriesTable"], ConsistentRead=True)
        return sorted(items["Items"], key=lambda item: item["pk"]["S"])

    return scan


# --- why a delivery waits -------------------------------------------------------------------


def test_a_delivery_waiting_for_its_order_says_so(stack, invoke, gateway):
    # Given an order received but not generated, and a delivery of 2 of its cards
    receive(invoke)
    delivery_id = create(invoke, bind(2, "WAIT-ORDER"))

    # When the delivery function finds no cards yet
    deliver(delivery_id)

    # Then the delivery's view says it waits for the order, as a sentence and as data
    shown = view(invoke, delivery_id)
    assert shown["status"] == "WAITING_STOCK"
    waiting = shown["waiting"]
    assert waiting["reason"] == "order_not_generated"
    assert waiting["message"] == (
        "waiting for order CM-daily-16002 to be generated: it is RECEIVED (0 of its 10 cards made)"
    )
    assert (waiting["order_status"], waiting["quantity"]) == ("RECEIVED", 2)

    # And once generated it is delivered, and the view no longer has a reason
    generate()
    deliver(delivery_id)
    shown = view(invoke, delivery_id)
    assert shown["status"] == "DELIVERED"
    assert "waiting" not in shown


def test_a_delivery_waiting_for_stock_says_how_many_cards_are_left(stack, invoke, gateway):
    # Given a generated order of 10 cards, 8 of them bound to a buyer
    receive(invoke)
    generate()
    first = create(invoke, bind(8, "TAKES-8"))
    deliver(first)

    # When a delivery asks for 3 of the 2 left
    second = create(invoke, bind(3, "WANTS-3"))
    deliver(second)

    # Then its view says the template's remaining count against the quantity
    waiting = view(invoke, second)["waiting"]
    assert waiting == {
        "reason": "not_enough_cards",
        "message": "waiting for stock: template T1 has 2 cards left, 3 asked (deliveries and "
        "print runs of order CM-daily-16002 hold the others)",
        "quantity": 3,
        "template_no": "T1",
        "remaining": 2,
        "order_status": "GENERATED",
    }


# --- cancelling a waiting delivery --------------------------------------------------------


def test_a_waiting_delivery_is_cancelled_and_never_sends(stack, invoke, gateway):
    # Given a delivery waiting for its order's cards
    receive(invoke)
    delivery_id = create(invoke, bind(2, "CANCEL-ME"))
    deliver(delivery_id)

    # When an operator cancels it
    status, answer = cancel(invoke, delivery_id)

    # Then it is CANCELLED, with who cancelled it
    assert status == 200, answer
    assert answer == {"delivery_id": delivery_id, "status": "CANCELLED", "cancelled": True}
    shown = view(invoke, delivery_id)
    assert shown["status"] == "CANCELLED"
    assert shown["cancelled_by"]["user_arn"] == OPERATOR["userArn"]
    assert "waiting" not in shown
    # and on the audit trail, once, with who
    cancels = [entry for entry in audit_trail(stack) if entry["action"] == "delivery.cancelled"]
    assert [(entry["subject"], entry["who"]["user_arn"]) for entry in cancels] == [
        (delivery_id, OPERATOR["userArn"])
    ]

    # And when the stock arrives afterwards it is neither woken nor sent, nor its cards claimed
    generate()
    attempt = deliver(delivery_id)
    assert (attempt.status, attempt.acted) == (DeliveryStatus.CANCELLED, False)
    assert gateway.calls_of(CARD_BIND) == []
    assert view(invoke, delivery_id)["status"] == "CANCELLED"
    later = create(invoke, bind(10, "ALL-TEN"))  # every card is still there for others
    deliver(later)
    assert view(invoke, later)["status"] == "DELIVERED"


def test_cancelling_again_changes_nothing(stack, invoke, gateway, deliveries_table):
    receive(invoke)
    delivery_id = create(invoke, bind(2, "TWICE"))
    deliver(delivery_id)
    assert cancel(invoke, delivery_id)[0] == 200
    before = deliveries_table()

    status, answer = cancel(invoke, delivery_id)

    assert status == 200
    assert answer["cancelled"] is False
    assert deliveries_table() == before
    # and the trail has the one cancel that changed something
    actions = [entry["action"] for entry in audit_trail(stack)]
    assert actions.count("delivery.cancelled") == 1


def test_a_woken_delivery_is_refused_the_stock_won_the_race(
    stack, invoke, gateway, deliveries_table
):
    # Given a waiting delivery the stock has just woken (PENDING: the sender is taking cards)
    receive(invoke)
    delivery_id = create(invoke, bind(2, "RACE"))
    deliver(delivery_id)
    generate()
    assert view(invoke, delivery_id)["status"] == "PENDING"
    before = deliveries_table()

    # When an operator cancels it, Then the cancel is refused and nothing changes
    status, answer = cancel(invoke, delivery_id)
    assert status == 409
    assert answer["status"] == "PENDING"
    assert answer["detail"][0]["loc"] == ["path", "delivery_id"]
    assert "only a delivery WAITING_STOCK can be cancelled" in answer["detail"][0]["msg"]
    assert deliveries_table() == before
    # And the delivery goes out
    deliver(delivery_id)
    assert view(invoke, delivery_id)["status"] == "DELIVERED"


def test_a_cancel_losing_to_the_wake_writes_nothing(stack, invoke, gateway):
    """The conditional write itself: a delivery woken between the look and the write."""
    receive(invoke)
    delivery_id = create(invoke, bind(2, "RACE-WRITE"))
    deliver(delivery_id)
    store = DynamoDBDeliveryRepository(stack.physical["DeliveriesTable"])
    assert store.wake(delivery_id)  # the stock arrived first

    assert store.cancel_waiting(delivery_id, runtime_requester()) is False
    assert view(invoke, delivery_id)["status"] == "PENDING"


def runtime_requester():
    return Requester(user_arn=OPERATOR["userArn"])


def test_a_sent_delivery_is_refused_and_nothing_changes(stack, invoke, gateway, deliveries_table):
    receive(invoke)
    generate()
    delivery_id = create(invoke, bind(2, "DONE"))
    deliver(delivery_id)
    before = deliveries_table()

    status, answer = cancel(invoke, delivery_id)

    assert status == 409
    assert answer["status"] == "DELIVERED"
    assert answer["detail"][0]["type"] == "delivery_state"
    assert "is DELIVERED: it is final" in answer["detail"][0]["msg"]
    assert deliveries_table() == before


def test_a_sending_delivery_is_refused(stack, invoke, gateway, deliveries_table):
    receive(invoke)
    generate()
    delivery_id = create(invoke, bind(2, "SENDING"))
    DynamoDBDeliveryRepository(stack.physical["DeliveriesTable"]).start_sending(delivery_id, 0)
    before = deliveries_table()

    status, answer = cancel(invoke, delivery_id)

    assert (status, answer["status"]) == (409, "SENDING")
    assert "its cards are being sent" in answer["detail"][0]["msg"]
    assert deliveries_table() == before


def test_unknown_bad_or_anonymous_cancels_are_refused(stack, invoke, gateway, deliveries_table):
    receive(invoke)
    delivery_id = create(invoke, bind(2, "ANON"))
    deliver(delivery_id)
    before = deliveries_table()

    unknown = cancel(invoke, "BD-" + "0" * 24)
    malformed = cancel(invoke, "not-an-id")
    anonymous = cancel(invoke, delivery_id, iam=None)

    assert unknown[0] == 404
    assert malformed[0] == 422
    assert anonymous[0] == 403
    assert anonymous[1]["detail"][0]["type"] == "no_iam_identity"
    assert deliveries_table() == before


def test_a_notice_delivery_is_not_cancelled_by_an_operator(stack, invoke, deliveries_table):
    # Given a send-code notice's delivery waiting for its merchant code to be mapped
    store = DynamoDBDeliveryRepository(stack.physical["DeliveriesTable"])
    request = NoticeDeliveryRequest(
        type="notice", quantity=1, outer_id="91001", token="tk91001", merchant_code="EV-NONE"
    )
    delivery = Delivery.new(request, "2026-11-22T12:30:00.000+00:00", Requester("platform"))
    store.create(delivery, request_fingerprint(request))
    assert store.wait_for_stock(delivery.delivery_id)
    assert view(invoke, delivery.delivery_id)["waiting"]["reason"] == "product_not_mapped"
    before = deliveries_table()

    # When an operator cancels it, Then it is refused (its stock deadline tells the platform)
    status, answer = cancel(invoke, delivery.delivery_id)
    assert (status, answer["status"]) == (409, "WAITING_STOCK")
    assert "send-code notice" in answer["detail"][0]["msg"]
    assert deliveries_table() == before


# --- an order's deliveries ------------------------------------------------------------------


def test_an_orders_deliveries_are_listed_newest_first_a_page_at_a_time(stack, invoke, gateway):
    receive(invoke)
    ids = []
    for number in range(3):
        ids.append(create(invoke, bind(1, f"LIST-{number}")))
        time.sleep(0.002)  # created_at has milliseconds
    deliver(ids[0])  # waits: the order is not generated

    status, first = listed(invoke, "card_order_id=16002&own_sign=daily&limit=2")
    assert status == 200, first
    assert [d["delivery_id"] for d in first["deliveries"]] == [ids[2], ids[1]]
    assert first["deliveries"][0] == {
        **first["deliveries"][0],
        "type": "bind",
        "status": "PENDING",
        "template_no": "T1",
        "quantity": 1,
        "requested_by": OPERATOR["userArn"],
    }
    status, second = listed(
        invoke, f"card_order_id=16002&own_sign=daily&limit=2&next={first['next']}"
    )
    assert status == 200, second
    assert [(d["delivery_id"], d["status"]) for d in second["deliveries"]] == [
        (ids[0], "WAITING_STOCK")
    ]
    assert "next" not in second
    assert "token" not in json.dumps([first, second])


def test_an_order_without_deliveries_lists_none(stack, invoke, gateway):
    assert listed(invoke, "card_order_id=424242&own_sign=daily") == (200, {"deliveries": []})


@pytest.mark.parametrize(
    "query",
    [
        "own_sign=daily",  # no order
        "card_order_id=0&own_sign=daily",
        "card_order_id=16002&own_sign=prod",
        "card_order_id=16002&own_sign=daily&limit=0",
        "card_order_id=16002&own_sign=daily&limit=101",
        "card_order_id=16002&own_sign=daily&next=bm90LWEtdG9rZW4",
    ],
)
def test_a_bad_listing_is_refused(stack, invoke, gateway, query):
    status, answer = listed(invoke, query)
    assert status == 422, answer


def test_a_page_token_of_another_order_is_refused(stack, invoke, gateway):
    receive(invoke)
    for number in range(2):
        create(invoke, bind(1, f"OTHER-{number}"))
        time.sleep(0.002)
    _, page = listed(invoke, "card_order_id=16002&own_sign=daily&limit=1")

    status, answer = listed(invoke, f"card_order_id=16003&own_sign=daily&next={page['next']}")

    assert status == 422
    assert answer["detail"][0]["msg"] == "next belongs to another order's deliveries"
