"""POST /deliveries and GET /deliveries/{id} through the handler."""

from __future__ import annotations

import json

import pytest

from cardmaker.store import from_item
from cardmaker_cli.samples import sample_order
from local.apigw import iam_identity
from local.platform import sample_delivery, sign_demo_call
from tests.conftest import OPERATOR, delivery_get_event, delivery_post_event, spi_event

ETICKET = sample_delivery("eticket")
BIND = sample_delivery("bind")


@pytest.fixture
def order(invoke):
    invoke(spi_event(sign_demo_call(sample_order(16002, templates=[("3010030E02", 10, "100")]))))


@pytest.fixture
def deliveries(dynamodb, stack):
    def scan():
        return dynamodb.scan(TableName=stack.physical["DeliveriesTable"], ConsistentRead=True)[
            "Items"
        ]

    return scan


def post(invoke, body, iam=OPERATOR):
    answer = invoke(delivery_post_event(body, iam))
    return answer["statusCode"], json.loads(answer["body"])


def shown(invoke, delivery_id):
    return json.loads(invoke(delivery_get_event(delivery_id))["body"])


@pytest.mark.parametrize(
    "body", [ETICKET, BIND, {**BIND, "buyer_nick": None, "buyer_open_uid": "AAF8"}]
)
def test_a_delivery_is_accepted_and_readable(invoke, order, deliveries, body):
    body = {key: value for key, value in body.items() if value is not None}
    status, answer = post(invoke, body)
    assert status == 202
    assert answer["status"] == "PENDING"
    assert answer["delivery_id"].startswith("ET-" if body["type"] == "eticket" else "BD-")
    view = json.loads(invoke(delivery_get_event(answer["delivery_id"]))["body"])
    assert (view["status"], view["quantity"], view["cards"]) == ("PENDING", body["quantity"], [])
    assert len(deliveries()) == 1


def test_the_same_id_again_is_the_same_delivery(invoke, order, deliveries):
    first = post(invoke, ETICKET)
    again = post(invoke, ETICKET)
    assert first == again
    assert len(deliveries()) == 1


def test_the_same_id_with_other_content_is_a_conflict(invoke, order, deliveries):
    post(invoke, ETICKET)
    before = deliveries()
    status, answer = post(invoke, {**ETICKET, "quantity": 3})
    assert status == 409
    assert answer["detail"][0]["loc"] == ["body", "outer_id"]
    assert deliveries() == before


INVALID = {
    "no type": ({k: v for k, v in ETICKET.items() if k != "type"}, "type"),
    "unknown type": ({**ETICKET, "type": "sms"}, "type"),
    "zero quantity": ({**ETICKET, "quantity": 0}, "quantity"),
    "more than 200 e-voucher cards": ({**ETICKET, "quantity": 201}, "quantity"),
    "quantity as text": ({**ETICKET, "quantity": "2"}, "quantity"),
    "order id as text": ({**ETICKET, "card_order_id": "16002"}, "card_order_id"),
    "unknown own_sign": ({**ETICKET, "own_sign": "prod"}, "own_sign"),
    "outer_id with spaces": ({**ETICKET, "outer_id": "a b"}, "outer_id"),
    "blank token": ({**ETICKET, "token": ""}, "token"),
    "certificate type 2": ({**ETICKET, "certificate_type": 2}, "certificate_type"),
    "unknown field": ({**ETICKET, "colour": "red"}, "colour"),
    "both buyers": ({**BIND, "buyer_open_uid": "AAF8"}, "bind"),
    "no buyer": ({k: v for k, v in BIND.items() if k != "buyer_nick"}, "bind"),
    "501 bind cards": ({**BIND, "quantity": 501}, "quantity"),
    "unknown order": ({**ETICKET, "card_order_id": 99}, "card_order_id"),
    "unknown template": ({**ETICKET, "template_no": "NOPE"}, "template_no"),
    "more cards than the template has": ({**ETICKET, "quantity": 11}, "quantity"),
    "escape sequence in the token": ({**ETICKET, "token": "t\x1b[2Jx"}, "token"),
    "C1 control in buyer_nick": ({**BIND, "buyer_nick": "tracey\x9b05"}, "buyer_nick"),
    "bidi override in buyer_nick": ({**BIND, "buyer_nick": "tracey\u202e50"}, "buyer_nick"),
    "bidi isolate in buyer_open_uid": (
        {k: v for k, v in {**BIND, "buyer_open_uid": "AAF8\u2066x"}.items() if k != "buyer_nick"},
        "buyer_open_uid",
    ),
}


@pytest.mark.parametrize(("body", "field"), INVALID.values(), ids=INVALID.keys())
def test_invalid_deliveries_are_refused_and_nothing_is_written(
    invoke, order, deliveries, body, field
):
    status, answer = post(invoke, body)
    assert status == 422, answer
    assert any(names_field(error, field) for error in answer["detail"]), answer
    assert deliveries() == []


def names_field(error, field):
    # A missing or unknown discriminator is reported on the body as a union-tag error.
    if field == "type":
        return error["type"].startswith("union_tag")
    return field in [str(part) for part in error["loc"]]


def test_malformed_json_is_refused(invoke, order, deliveries):
    answer = invoke(delivery_post_event(b'{"type": "eticket",'))
    assert answer["statusCode"] == 422
    assert deliveries() == []


def test_unknown_delivery_is_404_and_bad_ids_422(invoke):
    assert invoke(delivery_get_event("ET-0123456789abcdef01234567"))["statusCode"] == 404
    assert invoke(delivery_get_event("not an id"))["statusCode"] == 422


def test_an_eticket_token_is_stored_but_never_shown(invoke, order, deliveries):
    # Given an e-voucher delivery (its token authorises ma.send for the buyer's order)
    _, answer = post(invoke, ETICKET)
    # When it is read back
    raw = invoke(delivery_get_event(answer["delivery_id"]))["body"]
    # Then the answer has everything of the request but the token
    view = json.loads(raw)
    assert ETICKET["token"] not in raw
    assert "token" not in view
    assert view["outer_id"] == ETICKET["outer_id"]
    # ... which the delivery function still finds stored
    (item,) = deliveries()
    assert from_item(item)["request"]["token"] == ETICKET["token"]


ALICE_ARN = OPERATOR["userArn"]
BOB = iam_identity(
    "arn:aws:sts::123456789012:assumed-role/CardOps/bob",
    caller_id="AROAEXAMPLEROLE00001:bob",
    principal_org_id="o-abc123def4",
)


@pytest.mark.parametrize("body", [ETICKET, BIND])
def test_the_iam_principal_who_asked_is_recorded_and_shown(invoke, order, deliveries, body):
    # Given a delivery asked for by a role session of an organisation
    _, answer = post(invoke, body, iam=BOB)
    # Then the delivery names it, as stored and as shown
    expected = {
        "user_arn": BOB["userArn"],
        "caller_id": BOB["callerId"],
        "account_id": "123456789012",
        "principal_org_id": "o-abc123def4",
    }
    assert shown(invoke, answer["delivery_id"])["requested_by"] == expected
    (item,) = deliveries()
    assert from_item(item)["requested_by"] == expected


def test_a_replay_by_another_principal_keeps_the_first(invoke, order, deliveries):
    # Given a delivery asked for by alice
    _, first = post(invoke, BIND)
    # When bob sends the very same request
    status, again = post(invoke, BIND, iam=BOB)
    # Then it is the same delivery, and alice stays the one who asked for it
    assert (status, again) == (202, first)
    view = shown(invoke, first["delivery_id"])
    assert view["requested_by"] == {
        "user_arn": ALICE_ARN,
        "caller_id": OPERATOR["callerId"],
        "account_id": "123456789012",
    }
    assert len(deliveries()) == 1


def test_a_request_without_an_iam_identity_is_refused_and_nothing_is_written(
    invoke, order, deliveries
):
    # Given a POST /deliveries that reached the function with no IAM identity (a route left
    # without the IAM authorizer)
    status, answer = post(invoke, BIND, iam=None)
    # Then nobody could be held to it: refused, nothing written
    assert status == 403, answer
    assert answer["detail"][0]["type"] == "no_iam_identity"
    assert deliveries() == []
