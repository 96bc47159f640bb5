"""The platform's lifecycle SPI calls on POST /top/spi through the real handler: status.query,
template.new and receipt, signed as the platform signs them, as API Gateway events, moto
behind. Every body shape the platform may use, both answer formats, replays, and every
refusal with nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus, urlencode
from xml.etree import ElementTree

import pytest

from cardmaker import (
    CARD_TEMPLATE_NEW,
    CARDORDER_RECEIPT,
    CARDORDER_STATUS_QUERY,
    DynamoDBGenerationRepository,
    DynamoDBLifecycleRepository,
    DynamoDBOrderRepository,
    DynamoDBTemplateRegistry,
    OrderKey,
    Waybill,
)
from cardmaker.top import SpiCall, format_timestamp, sign_spi, utc_now
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from local.platform import sign_demo_call
from tests.conftest import order_event, spi_event, spi_response

KEY = OrderKey("daily", 16002)
WAYBILL = Waybill("顺丰速运", "SF1234567890")
TEMPLATE = {
    "template_no": "3010030E02",
    "card_name": "猫超储值卡面额100",
    "par_value": "100",
    "picture_url": "https://img.alicdn.com/card/3010030E02.png",
    "is_test": False,
    "own_sign": "daily",
}


def reference(card_order_id: int = KEY.card_order_id, own_sign: str = "daily") -> dict[str, Any]:
    return {"card_order_id": card_order_id, "own_sign": own_sign}


def status_query(struct: dict[str, Any] | None = None, **options: Any) -> SpiCall:
    """status.query as TOP sends a struct: ``request`` holding the struct (JSON text in a
    form, nested in a JSON body)."""
    return sign_demo_call(
        {"request": struct or reference()}, method=CARDORDER_STATUS_QUERY, **options
    )


def template_new(changes: dict[str, Any] | None = None, **options: Any) -> SpiCall:
    merged = {**TEMPLATE, **(changes or {})}
    business = {key: value for key, value in merged.items() if value is not None}
    return sign_demo_call(business, method=CARD_TEMPLATE_NEW, **options)


def receipt(card_order_id: int = KEY.card_order_id, **options: Any) -> SpiCall:
    return sign_demo_call(reference(card_order_id), method=CARDORDER_RECEIPT, **options)


def send(invoke: Callable[[dict[str, Any]], dict[str, Any]], call: SpiCall) -> dict[str, Any]:
    answer = invoke(spi_event(call))
    assert answer["statusCode"] == 200, answer
    return spi_response(answer)


@pytest.fixture
def order_at(invoke, dynamodb, orders_table):
    """Receive the sample order through the SPI, then move it the way the generator and the
    operators do, up to ``status``."""

    def move(status: str, key: OrderKey = KEY) -> None:
        answer = send(invoke, sign_demo_call(sample_order(key.card_order_id, key.own_sign)))
        assert answer["result_code"] == "SUCCESS"
        if status == "RECEIVED":
            return
        generation = DynamoDBGenerationRepository(orders_table, dynamodb)
        stored = DynamoDBOrderRepository(orders_table, dynamodb).get(key)
        assert stored is not None
        assert generation.start(stored.order, 0, 5000, 0)  # no chunk: finished at once
        if status == "GENERATING":
            return
        assert generation.finish(key)
        lifecycle = DynamoDBLifecycleRepository(orders_table, dynamodb)
        steps = {
            "MADE": lambda: lifecycle.mark_made(key, "operator", utc_now()),
            "SHIPPED": lambda: lifecycle.ship(key, WAYBILL, utc_now()),
            "CONFIRMED": lambda: lifecycle.confirm(key, utc_now()),
        }
        for step in ("MADE", "SHIPPED", "CONFIRMED")[
            : ["GENERATED", "MADE", "SHIPPED", "CONFIRMED"].index(status)
        ]:
            steps[step]()

    return move


# --- cardorder.status.query ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "platform_status"),
    [
        ("RECEIVED", "REQUEST_RECEIVED"),
        ("GENERATING", "REQUEST_RECEIVED"),
        ("GENERATED", "REQUEST_RECEIVED"),
        ("MADE", "WAITING_DELIVERY"),
    ],
)
def test_status_query_answers_where_the_order_is(invoke, order_at, status, platform_status):
    # Given an order at ``status``
    order_at(status)
    # When the platform asks how it is going
    response = send(invoke, status_query())
    # Then the answer is its status in the platform's words, with no waybill yet
    assert response == {
        "success": True,
        "result_code": "SUCCESS",
        "result_message": f"order is {platform_status}",
        "status": platform_status,
    }


@pytest.mark.parametrize("status", ["SHIPPED", "CONFIRMED"])
def test_status_query_of_a_shipped_order_gives_the_waybill(invoke, order_at, status):
    order_at(status)
    response = send(invoke, status_query())
    # The platform's enum ends at DELIVERED: a confirmed order stays DELIVERED
    assert response["status"] == "DELIVERED"
    assert (response["logistics_company"], response["logistics_order_id"]) == (
        "顺丰速运",
        "SF1234567890",
    )


def test_status_query_of_an_unknown_order_is_request_not_exist(invoke, table_items):
    response = send(invoke, status_query(reference(99)))
    # Not a refusal: the platform's enum has a status for it
    assert (response["success"], response["status"]) == (True, "REQUEST_NOT_EXIST")
    assert table_items() == []


def test_status_query_is_per_environment(invoke, order_at):
    order_at("MADE")
    assert send(invoke, status_query(reference(own_sign="pre")))["status"] == "REQUEST_NOT_EXIST"


def _raw_call(method: str, body: bytes, content_type: str, **query: str) -> SpiCall:
    """A call signed by hand (for shapes ``sign_spi_call`` does not make)."""
    params = {
        "method": method,
        "app_key": DEMO_APP_KEY,
        "timestamp": format_timestamp(utc_now()),
        "v": "2.0",
        "format": "json",
        "sign_method": "md5",
        **query,
    }
    is_form = content_type.startswith("application/x-www-form-urlencoded")
    form = dict(pair.split("=", 1) for pair in body.decode().split("&")) if is_form else {}
    signed = {**params, **{k: unquote_plus(v) for k, v in form.items()}}
    params["sign"] = sign_spi(signed, None if is_form else body.decode(), DEMO_SECRET)
    return SpiCall(urlencode(params), {"content-type": content_type}, body)


STRUCT = json.dumps(reference(), separators=(",", ":"))
STATUS_QUERY_SHAPES = {
    "form field holding JSON": lambda: status_query(body_format="form"),
    "JSON body, struct nested": lambda: status_query(body_format="json"),
    "JSON body, struct as JSON text": lambda: sign_demo_call(
        {"request": STRUCT}, method=CARDORDER_STATUS_QUERY
    ),
    "JSON body, the struct's fields flat": lambda: sign_demo_call(
        reference(), method=CARDORDER_STATUS_QUERY
    ),
    "JSON body, id as digits": lambda: status_query(
        {"card_order_id": "16002", "own_sign": "daily"}
    ),
    "query parameter holding JSON": lambda: _raw_call(
        CARDORDER_STATUS_QUERY, b"", "", request=STRUCT
    ),
}


@pytest.mark.parametrize("make_call", STATUS_QUERY_SHAPES.values(), ids=STATUS_QUERY_SHAPES.keys())
def test_status_query_takes_every_plausible_shape_of_its_struct(invoke, order_at, make_call):
    order_at("MADE")
    assert send(invoke, make_call())["status"] == "WAITING_DELIVERY"


def test_status_query_answers_in_xml_when_asked(invoke, order_at):
    order_at("SHIPPED")
    answer = invoke(spi_event(status_query(response_format="xml")))
    assert answer["headers"]["Content-Type"].startswith("application/xml")
    root = ElementTree.fromstring(answer["body"])
    assert root.tag == "response"
    assert {child.tag: child.text for child in root} == {
        "success": "true",
        "result_code": "SUCCESS",
        "result_message": "order is DELIVERED",
        "status": "DELIVERED",
        "logistics_company": "顺丰速运",
        "logistics_order_id": "SF1234567890",
    }


def test_status_query_writes_nothing_and_answers_the_same_again(invoke, order_at, table_items):
    order_at("MADE")
    before = table_items()
    first = send(invoke, status_query())
    assert send(invoke, status_query(body_format="form")) == first
    assert table_items() == before


# --- card.template.new --------------------------------------------------------------------


def registry(dynamodb, orders_table) -> DynamoDBTemplateRegistry:
    return DynamoDBTemplateRegistry(orders_table, dynamodb)


@pytest.mark.parametrize("body_format", ["json", "form"])
def test_template_new_registers_the_template(invoke, dynamodb, orders_table, body_format):
    response = send(invoke, template_new(body_format=body_format))
    assert response == {
        "success": True,
        "result_code": "SUCCESS",
        "result_message": "template registered",
    }
    stored = registry(dynamodb, orders_table).get("daily", "3010030E02")
    assert stored is not None
    assert (stored.version, stored.is_test, stored.announcement.picture_url) == (
        1,
        False,
        TEMPLATE["picture_url"],
    )


def test_template_new_replayed_answers_as_the_first_time_and_writes_nothing(invoke, table_items):
    first = invoke(spi_event(template_new()))
    before = table_items()
    # the platform's retry: same content, new timestamp, other body encoding
    replay = invoke(spi_event(template_new(body_format="form")))
    assert (replay["statusCode"], replay["body"]) == (first["statusCode"], first["body"])
    assert table_items() == before


def test_template_new_with_other_content_is_a_new_version_and_keeps_the_history(
    invoke, dynamodb, orders_table
):
    send(invoke, template_new())
    response = send(invoke, template_new({"card_name": "猫超储值卡新版", "is_test": True}))
    assert response["result_code"] == "SUCCESS"
    templates = registry(dynamodb, orders_table)
    assert [
        (t.version, t.announcement.card_name) for t in templates.history("daily", "3010030E02")
    ] == [
        (1, "猫超储值卡面额100"),
        (2, "猫超储值卡新版"),
    ]
    current = templates.get("daily", "3010030E02")
    assert current is not None
    assert (current.version, current.is_test) == (2, True)


def test_template_new_without_picture_and_per_environment(invoke, dynamodb, orders_table):
    send(invoke, template_new({"picture_url": None, "own_sign": "pre"}))
    templates = registry(dynamodb, orders_table)
    assert templates.get("daily", "3010030E02") is None
    stored = templates.get("pre", "3010030E02")
    assert stored is not None
    assert stored.announcement.picture_url is None


def test_template_new_answers_in_xml_when_asked(invoke):
    answer = invoke(spi_event(template_new(response_format="xml")))
    assert answer["body"] == (
        '<?xml version="1.0" encoding="utf-8"?><response><success>true</success>'
        "<result_code>SUCCESS</result_code><result_message>template registered</result_message>"
        "</response>"
    )


# --- cardorder.receipt ------------------------------------------------------------------


@pytest.mark.parametrize("status", ["MADE", "SHIPPED"])
@pytest.mark.parametrize("body_format", ["json", "form"])
def test_receipt_confirms_a_made_or_shipped_order(invoke, order_at, status, body_format):
    order_at(status)
    response = send(invoke, receipt(body_format=body_format))
    assert response == {
        "success": True,
        "result_code": "SUCCESS",
        "result_message": "receipt confirmed",
    }
    view = json.loads(invoke(order_event(KEY.card_order_id))["body"])
    assert view["status"] == "CONFIRMED"
    assert view["lifecycle"]["confirmed_at"] is not None


def test_receipt_replayed_answers_as_the_first_time_and_writes_nothing(
    invoke, order_at, table_items
):
    order_at("SHIPPED")
    first = invoke(spi_event(receipt()))
    before = table_items()
    replay = invoke(spi_event(receipt(body_format="form")))
    assert (replay["statusCode"], replay["body"]) == (first["statusCode"], first["body"])
    assert table_items() == before


def test_receipt_of_an_unknown_order_is_order_not_found(invoke, table_items):
    response = send(invoke, receipt(99))
    assert (response["success"], response["result_code"]) == (False, "ORDER_NOT_FOUND")
    assert table_items() == []


@pytest.mark.parametrize("status", ["RECEIVED", "GENERATING", "GENERATED"])
@pytest.mark.parametrize("answer_format", ["json", "xml"])
def test_receipt_before_the_cards_are_made_is_invalid_order_status(
    invoke, order_at, table_items, status, answer_format
):
    order_at(status)
    before = table_items()
    answer = invoke(spi_event(receipt(response_format=answer_format)))
    assert answer["statusCode"] == 200
    if answer_format == "xml":
        root = ElementTree.fromstring(answer["body"])
        fields = {child.tag: child.text for child in root}
        assert (root.tag, fields["success"]) == ("response", "false")
    else:
        fields = spi_response(answer)
        assert fields["success"] is False
    assert fields["result_code"] == "INVALID_ORDER_STATUS"
    assert status in (fields["result_message"] or "")
    assert table_items() == before


# --- refusals: nothing written ----------------------------------------------------------

REFUSALS: dict[str, tuple[Callable[[], SpiCall], str]] = {
    # status.query
    "status.query: no request": (
        lambda: sign_demo_call({}, method=CARDORDER_STATUS_QUERY, body_format="form"),
        "INVALID_PARAMETER",
    ),
    "status.query: request not JSON": (
        lambda: sign_demo_call({"request": "{"}, method=CARDORDER_STATUS_QUERY, body_format="form"),
        "INVALID_PARAMETER",
    ),
    "status.query: own_sign not an environment": (
        lambda: status_query(reference(own_sign="prod")),
        "INVALID_PARAMETER",
    ),
    "status.query: id zero": (lambda: status_query(reference(0)), "INVALID_PARAMETER"),
    "status.query: id beyond a Java long": (
        lambda: status_query(reference(2**63)),
        "INVALID_PARAMETER",
    ),
    "status.query: id a float": (
        lambda: status_query({"card_order_id": 1.5, "own_sign": "daily"}),
        "INVALID_PARAMETER",
    ),
    "status.query: id a boolean": (
        lambda: status_query({"card_order_id": True, "own_sign": "daily"}),
        "INVALID_PARAMETER",
    ),
    "status.query: struct nested and flat at once": (
        lambda: sign_demo_call(
            {"request": reference(), **reference(7)}, method=CARDORDER_STATUS_QUERY
        ),
        "INVALID_PARAMETER",
    ),
    "status.query: flat form fields": (
        lambda: sign_demo_call(reference(), method=CARDORDER_STATUS_QUERY, body_format="form"),
        "INVALID_PARAMETER",
    ),
    "status.query: XML body": (
        lambda: _raw_call(CARDORDER_STATUS_QUERY, b"<request/>", "application/xml"),
        "INVALID_PARAMETER",
    ),
    "status.query: JSON array body": (
        lambda: _raw_call(CARDORDER_STATUS_QUERY, b"[1]", "application/json"),
        "INVALID_PARAMETER",
    ),
    "status.query: forged sign": (
        lambda: status_query(secret="guess"),
        "INVALID_SIGNATURE",
    ),
    "status.query: stale timestamp": (
        lambda: status_query(timestamp=utc_now() - timedelta(minutes=6)),
        "INVALID_TIMESTAMP",
    ),
    "status.query: another app": (lambda: status_query(app_key="87654321"), "INVALID_APP_KEY"),
    # template.new
    "template.new: no template_no": (
        lambda: template_new({"template_no": None}),
        "INVALID_PARAMETER",
    ),
    "template.new: template_no not an identifier": (
        lambda: template_new({"template_no": "T 1/x"}),
        "INVALID_PARAMETER",
    ),
    "template.new: template_no too long": (
        lambda: template_new({"template_no": "T" * 65}),
        "INVALID_PARAMETER",
    ),
    "template.new: blank card_name": (
        lambda: template_new({"card_name": "  "}),
        "INVALID_PARAMETER",
    ),
    "template.new: card_name too long": (
        lambda: template_new({"card_name": "卡" * 129}),
        "INVALID_PARAMETER",
    ),
    "template.new: card_name with a control character": (
        lambda: template_new({"card_name": "卡\u202e"}),
        "INVALID_PARAMETER",
    ),
    "template.new: par_value not fen digits": (
        lambda: template_new({"par_value": "1.00"}),
        "INVALID_PARAMETER",
    ),
    "template.new: par_value zero": (lambda: template_new({"par_value": "0"}), "INVALID_PARAMETER"),
    "template.new: picture_url not a URL": (
        lambda: template_new({"picture_url": "javascript:alert(1)"}),
        "INVALID_PARAMETER",
    ),
    "template.new: picture_url too long": (
        lambda: template_new({"picture_url": "https://a.cn/" + "x" * 1024}),
        "INVALID_PARAMETER",
    ),
    "template.new: is_test missing": (lambda: template_new({"is_test": None}), "INVALID_PARAMETER"),
    "template.new: is_test a number": (lambda: template_new({"is_test": 1}), "INVALID_PARAMETER"),
    "template.new: is_test yes in a form": (
        lambda: template_new({"is_test": "yes"}, body_format="form"),
        "INVALID_PARAMETER",
    ),
    "template.new: own_sign not an environment": (
        lambda: template_new({"own_sign": "prod"}),
        "INVALID_PARAMETER",
    ),
    "template.new: unknown form field": (
        lambda: sign_demo_call(
            {**TEMPLATE, "is_test": "false", "count": "3"},
            method=CARD_TEMPLATE_NEW,
            body_format="form",
        ),
        "INVALID_PARAMETER",
    ),
    "template.new: forged sign": (lambda: template_new(secret="guess"), "INVALID_SIGNATURE"),
    # receipt
    "receipt: no card_order_id": (
        lambda: sign_demo_call({"own_sign": "daily"}, method=CARDORDER_RECEIPT),
        "INVALID_PARAMETER",
    ),
    "receipt: id negative": (
        lambda: sign_demo_call(reference(-1), method=CARDORDER_RECEIPT),
        "INVALID_PARAMETER",
    ),
    "receipt: id signed text in a form": (
        lambda: sign_demo_call(
            {"card_order_id": "+16002", "own_sign": "daily"},
            method=CARDORDER_RECEIPT,
            body_format="form",
        ),
        "INVALID_PARAMETER",
    ),
    "receipt: own_sign not an environment": (
        lambda: sign_demo_call(reference(own_sign="DAILY"), method=CARDORDER_RECEIPT),
        "INVALID_PARAMETER",
    ),
    "receipt: forged sign": (lambda: receipt(secret="guess"), "INVALID_SIGNATURE"),
    "receipt: future timestamp": (
        lambda: receipt(timestamp=utc_now() + timedelta(minutes=4)),
        "INVALID_TIMESTAMP",
    ),
}


@pytest.mark.parametrize(("make_call", "code"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_calls_write_nothing(invoke, order_at, table_items, make_call, code):
    # Given a known order (so that a refusal is not just "no such order"), shipped
    order_at("SHIPPED")
    before = table_items()
    # When a call is refused, its answer says why
    response = send(invoke, make_call())
    assert (response["success"], response["result_code"]) == (False, code), response
    assert "status" not in response
    # and nothing was written
    assert table_items() == before


XML_REFUSALS = {
    "status.query": (
        lambda: status_query(reference(own_sign="prod"), response_format="xml"),
        "INVALID_PARAMETER",
    ),
    "template.new": (
        lambda: template_new({"par_value": "0"}, response_format="xml"),
        "INVALID_PARAMETER",
    ),
    "receipt": (lambda: receipt(99, response_format="xml"), "ORDER_NOT_FOUND"),
    "forged": (lambda: receipt(secret="guess", response_format="xml"), "INVALID_SIGNATURE"),
}


@pytest.mark.parametrize(("make_call", "code"), XML_REFUSALS.values(), ids=XML_REFUSALS.keys())
def test_refusals_answer_in_xml_when_asked(invoke, table_items, make_call, code):
    answer = invoke(spi_event(make_call()))
    assert answer["headers"]["Content-Type"].startswith("application/xml")
    root = ElementTree.fromstring(answer["body"])
    fields = {child.tag: child.text for child in root}
    assert (root.tag, fields["success"], fields["result_code"]) == ("response", "false", code)
    assert table_items() == []


def test_an_internal_failure_answers_system_error_so_the_platform_retries(
    invoke, dynamodb, orders_table
):
    dynamodb.delete_table(TableName=orders_table)
    for call in (status_query(), template_new(), receipt()):
        answer = invoke(spi_event(call))
        assert answer["statusCode"] == 500
        assert spi_response(answer)["result_code"] == "SYSTEM_ERROR"
        assert "ResourceNotFound" not in answer["body"]


# --- the order view: templates announced or not ------------------------------------------


def test_the_order_view_says_which_templates_were_announced(invoke):
    # Given T2 announced as a test template, T1 never announced
    send(invoke, template_new({"template_no": "T2", "is_test": True}))
    send(
        invoke,
        sign_demo_call(sample_order(16010, templates=[("T1", 1, "100"), ("T2", 1, "100")])),
    )
    # When the order is shown
    view = json.loads(invoke(order_event(16010))["body"])
    # Then it says so per template
    assert [(t["template_no"], t["registered"], t.get("is_test")) for t in view["templates"]] == [
        ("T1", False, None),
        ("T2", True, True),
    ]


def test_a_template_announced_in_another_environment_is_not_registered_for_this_one(invoke):
    send(invoke, template_new({"template_no": "T1", "own_sign": "pre"}))
    send(invoke, sign_demo_call(sample_order(16011, templates=[("T1", 1, "100")])))
    view = json.loads(invoke(order_event(16011))["body"])
    assert view["templates"][0]["registered"] is False


def test_a_bare_signed_request_body_is_refused_for_a_flat_method(invoke, table_items):
    # receipt's parameters are flat: a body nesting them is refused, not guessed at
    call = sign_demo_call({"request": reference()}, method=CARDORDER_RECEIPT)
    response = send(invoke, call)
    assert response["result_code"] == "INVALID_PARAMETER"
    assert table_items() == []


def test_a_refusal_names_the_failing_field_not_its_value(invoke):
    response = send(invoke, sign_demo_call(reference(0), method=CARDORDER_RECEIPT))
    assert response["result_message"].startswith("card_order_id: ")
    assert "16002" not in response["result_message"]
