"""POST /top/spi through the real handler: API Gateway events in, TOP answers out, moto behind."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import get_args
from urllib.parse import urlencode

import pytest

from cardmaker import OrderConflict, SpiRefused
from cardmaker.top import ResultCode, SpiAnswerFields, format_timestamp, sign_spi, utc_now
from cardmaker_cli.samples import DEMO_SECRET, sample_order
from local.apigw import LambdaContext, http_api_event
from local.platform import sign_demo_call
from local.template import REPO, load_function_module
from tests.conftest import order_event, spi_event, spi_function, spi_response
from tests.unit.test_order_models import INVALID, invalid_order


def send(invoke, call, **tamper):
    answer = invoke(spi_event(call, **tamper))
    return answer["statusCode"], spi_response(answer)


def test_json_order_is_stored_and_answered(invoke, table_items):
    status, response = send(
        invoke,
        sign_demo_call(sample_order(16002, templates=[("T1", 1200, "100"), ("T2", 37, "5000")])),
    )
    assert status == 200
    assert response == {
        "success": True,
        "result_code": "SUCCESS",
        "result_message": "order received",
        "making_card_no": "CM-daily-16002",
    }
    (header,) = table_items()  # a small order is one item: its header, templates inline
    assert header["pk"]["S"] == "ORDER#daily#16002"
    assert header["status"]["S"] == "RECEIVED"
    assert [t["M"]["template_no"]["S"] for t in header["templates"]["L"]] == ["T1", "T2"]
    assert header["card_count"]["N"] == "1237"


def test_form_order_with_chinese_logistics_is_stored(invoke):
    call = sign_demo_call(sample_order(16003, "pre", logistics=True), body_format="form")
    status, response = send(invoke, call)
    assert (status, response["success"]) == (200, True)
    view = json.loads(invoke(order_event(16003, "pre"))["body"])
    assert view["logistics_info"]["receiver_address"].startswith("浙江省-杭州市")
    assert view["status"] == "RECEIVED"


def test_order_view_shows_requested_and_generated_counts(invoke):
    send(
        invoke, sign_demo_call(sample_order(7, templates=[("T1", 1200, "100"), ("T2", 37, "5000")]))
    )
    answer = invoke(order_event(7))
    assert answer["statusCode"] == 200
    view = json.loads(answer["body"])
    assert view["status"] == "RECEIVED"
    assert [(t["template_no"], t["requested"], t["generated"]) for t in view["templates"]] == [
        ("T1", 1200, 0),
        ("T2", 37, 0),
    ]
    assert (view["card_count"], view["cards_generated"]) == (1237, 0)


def test_same_id_in_another_environment_is_another_order(invoke):
    for own_sign in ("daily", "pre", "online"):
        _, response = send(invoke, sign_demo_call(sample_order(42, own_sign)))
        assert response["making_card_no"] == f"CM-{own_sign}-42"
    assert json.loads(invoke(order_event(42, None))["body"])["own_sign"] == "online"


def test_replay_gets_the_same_answer_and_writes_nothing(invoke, table_items):
    first = send(invoke, sign_demo_call(sample_order(), body_format="json"))
    before = table_items()
    # the platform's retry: same content, new timestamp, other body encoding
    replay = send(invoke, sign_demo_call(sample_order(), body_format="form"))
    assert replay == first
    assert table_items() == before


def test_same_id_with_other_content_is_a_conflict(invoke, table_items):
    send(invoke, sign_demo_call(sample_order(templates=[("T1", 500, "100")])))
    before = table_items()
    status, response = send(invoke, sign_demo_call(sample_order(templates=[("T1", 501, "100")])))
    assert status == 200
    assert response["success"] is False
    assert response["result_code"] == "ORDER_CONFLICT"
    assert "making_card_no" not in response
    assert table_items() == before


def test_parallel_identical_calls_make_one_order(stack, table_items):
    # Ten execution environments (Lambda never runs two invocations in one), each handling one
    # retry of the same order: same content, each signed at its own moment, JSON or form.
    spec = spi_function(stack)
    environments = [spec.load_handler() for _ in range(10)]
    order = sample_order(99, templates=[("T1", 10, "100"), ("T2", 5, "100")])
    calls = [
        sign_demo_call(
            order,
            timestamp=utc_now() - timedelta(seconds=n),
            body_format="json" if n % 2 else "form",
        )
        for n in range(10)
    ]

    def deliver(n):
        answer = environments[n](spi_event(calls[n]), LambdaContext(function_name="TopSpiFunction"))
        return answer["statusCode"], answer["body"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(deliver, range(10)))
    # every caller gets the very same answer, and the table holds one order
    assert len(set(answers)) == 1
    status, body = answers[0]
    assert status == 200
    assert json.loads(body)["response"]["making_card_no"] == "CM-daily-99"
    assert [item["pk"]["S"] for item in table_items()] == ["ORDER#daily#99"]


def test_order_of_999_templates_is_stored_whole(invoke, table_items):
    templates = [(f"T{i:03d}", 1, "100") for i in range(999)]
    status, response = send(invoke, sign_demo_call(sample_order(5, templates=templates)))
    assert (status, response["success"]) == (200, True)
    view = json.loads(invoke(order_event(5))["body"])
    assert view["status"] == "RECEIVED"
    assert [t["template_no"] for t in view["templates"]] == [no for no, _, _ in templates]
    # the templates did not fit the header: they sit in one content-named page beside it
    assert sorted(item["sk"]["S"].split("#")[0] for item in table_items()) == ["ORDER", "TEMPLATES"]


REFUSALS = {
    "forged sign": (
        lambda: sign_demo_call(sample_order()),
        {"sign": "0" * 32},
        "INVALID_SIGNATURE",
    ),
    "wrong secret": (
        lambda: sign_demo_call(sample_order(), secret="guess"),
        {},
        "INVALID_SIGNATURE",
    ),
    "missing sign": (lambda: sign_demo_call(sample_order()), {"sign": None}, "INVALID_SIGNATURE"),
    "stale timestamp": (
        lambda: sign_demo_call(sample_order(), timestamp=utc_now() - timedelta(minutes=6)),
        {},
        "INVALID_TIMESTAMP",
    ),
    "future timestamp": (
        lambda: sign_demo_call(sample_order(), timestamp=utc_now() + timedelta(minutes=4)),
        {},
        "INVALID_TIMESTAMP",
    ),
    "unknown method": (
        lambda: sign_demo_call(sample_order(), method="alibaba.fundplatform.cardorder.cancel"),
        {},
        "INVALID_METHOD",
    ),
    "invalid own_sign": (
        lambda: sign_demo_call({**sample_order(), "own_sign": "prod"}),
        {},
        "INVALID_PARAMETER",
    ),
    "zero count": (
        lambda: sign_demo_call(sample_order(templates=[("T1", 0, "100")])),
        {},
        "INVALID_PARAMETER",
    ),
    "1000 templates": (
        lambda: sign_demo_call(sample_order(templates=[(f"T{i}", 1, "100") for i in range(1000)])),
        {},
        "INVALID_PARAMETER",
    ),
    "form struct not JSON": (
        lambda: sign_demo_call({**sample_order(), "card_product_infos": "[{"}, body_format="form"),
        {},
        "INVALID_PARAMETER",
    ),
}


@pytest.mark.parametrize(
    ("make_call", "query_changes", "code"), REFUSALS.values(), ids=REFUSALS.keys()
)
def test_refused_calls_write_nothing(invoke, table_items, make_call, query_changes, code):
    call = make_call()
    query = dict(pair.split("=", 1) for pair in call.raw_query.split("&"))
    for key, value in query_changes.items():
        if value is None:
            query.pop(key)
        else:
            query[key] = value
    raw_query = "&".join(f"{key}={value}" for key, value in query.items())
    status, response = send(invoke, call, raw_query=raw_query)
    assert status == 200
    assert response["success"] is False
    assert response["result_code"] == code, response
    assert table_items() == []


def _signed_raw(body: bytes, content_type: str):
    """A correctly signed call with an arbitrary body (the signature is not what is wrong)."""
    query = {
        "method": "alibaba.fundplatform.cardorder.make",
        "timestamp": format_timestamp(utc_now()),
        "format": "json",
    }
    text = body.decode("utf-8", errors="replace")
    query["sign"] = sign_spi(query, text, DEMO_SECRET)
    return urlencode(query), {"content-type": content_type}


BODY_REFUSALS = {
    "malformed JSON": (b'{"card_order_id": 1,', "application/json"),
    "JSON array": (b"[1, 2]", "application/json"),
    "deeply nested JSON": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "XML body": (b"<request/>", "application/xml"),
    "unsupported content type": (b"x", "application/octet-stream"),
    "oversized body": (b"{" + b" " * (1024 * 1024) + b"}", "application/json"),
}


@pytest.mark.parametrize(("body", "content_type"), BODY_REFUSALS.values(), ids=BODY_REFUSALS.keys())
def test_bad_bodies_are_refused(invoke, table_items, body, content_type):
    raw_query, headers = _signed_raw(body, content_type)
    event = http_api_event(
        "POST", "/top/spi", raw_query=raw_query, headers=headers.items(), body=body
    )
    answer = invoke(event)
    assert answer["statusCode"] == 200
    response = spi_response(answer)
    assert (response["success"], response["result_code"]) == (False, "INVALID_PARAMETER")
    assert table_items() == []


def test_duplicate_query_key_is_refused(invoke, table_items):
    call = sign_demo_call(sample_order())
    status, response = send(invoke, call, raw_query=call.raw_query + "&format=json")
    assert (status, response["result_code"]) == (200, "INVALID_PARAMETER")
    assert table_items() == []


def test_refusals_answer_in_xml_when_asked(invoke):
    call = sign_demo_call(sample_order(), response_format="xml", secret="guess")
    answer = invoke(spi_event(call))
    assert answer["headers"]["Content-Type"].startswith("application/xml")
    assert "<result_code>INVALID_SIGNATURE</result_code>" in answer["body"]
    assert answer["body"].startswith('<?xml version="1.0" encoding="utf-8"?><response>')


def test_internal_failure_answers_5xx_so_the_platform_retries(invoke, dynamodb, orders_table):
    dynamodb.delete_table(TableName=orders_table)
    answer = invoke(spi_event(sign_demo_call(sample_order())))
    assert answer["statusCode"] == 500
    response = spi_response(answer)
    assert (response["success"], response["result_code"]) == (False, "SYSTEM_ERROR")
    assert "ResourceNotFound" not in answer["body"]


@pytest.mark.parametrize(("changes", "field"), INVALID.values(), ids=INVALID.keys())
@pytest.mark.parametrize("body_format", ["json", "form"])
def test_every_invalid_field_is_refused_through_the_endpoint(
    invoke, table_items, changes, field, body_format
):
    order = invalid_order(changes)
    status, response = send(invoke, sign_demo_call(order, body_format=body_format))
    assert (status, response["success"], response["result_code"]) == (
        200,
        False,
        "INVALID_PARAMETER",
    )
    assert field in response["result_message"]
    assert table_items() == []


# --- the SPI edge: its method table and its one mapping of errors to result codes -----------

SPI_FUNCTION = REPO / "functions" / "top_spi"


def _subclasses(kind: type) -> set[type]:
    found: set[type] = set(kind.__subclasses__())
    return found | {sub for child in found for sub in _subclasses(child)}


def test_every_refusal_has_a_documented_result_code():
    refusals = load_function_module(SPI_FUNCTION, "refusals", "test_spi_refusals")
    # Given every error an SPI call is refused with
    for error in [*_subclasses(SpiRefused), OrderConflict]:
        # Then it has a result code of its own
        assert error in refusals.RESULT_CODES, error
    # and the codes answered are exactly the codes documented
    answered = {*refusals.RESULT_CODES.values(), "SUCCESS", "SYSTEM_ERROR"}
    assert answered == set(get_args(ResultCode))
    # A crash is no refusal: it answers SYSTEM_ERROR, saying nothing of what went wrong
    assert refusals.refusal(RuntimeError("table gone")) is None
    assert refusals.failure().result_message == "internal error, please retry"


def test_a_method_added_to_the_table_is_served(stack, table_items, monkeypatch):
    # Given the SPI function with one more method in its table
    app = load_function_module(SPI_FUNCTION, "app", "test_spi_methods")
    method = "alibaba.fundplatform.cardorder.status.query"
    served = []

    def status_query(call):
        served.append(call.params["method"])
        return SpiAnswerFields.accepted("status: RECEIVED")

    monkeypatch.setitem(app.SPI_METHODS, method, status_query)
    # When the platform calls it, signed as any other
    event = spi_event(sign_demo_call(sample_order(), method=method))
    answer = app.lambda_handler(event, LambdaContext(function_name="TopSpiFunction"))
    # Then the verified call reached its handler, and its answer went back as a TOP answer
    assert served == [method]
    assert spi_response(answer) == {
        "success": True,
        "result_code": "SUCCESS",
        "result_message": "status: RECEIVED",
    }
    assert table_items() == []
    # while a method missing from the table is still refused
    event = spi_event(sign_demo_call(sample_order(), method="alibaba.fundplatform.card.nope"))
    answer = app.lambda_handler(event, LambdaContext(function_name="TopSpiFunction"))
    assert spi_response(answer)["result_code"] == "INVALID_METHOD"
