"""POST /top/spi through the real handler: API Gateway events in, TOP answers out, moto behind."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import get_args
from urllib.parse import parse_qsl, quote_plus, urlencode

import pytest

from cardmaker import CARDORDER_MAKE_PARAMETERS, OrderConflict, SpiRefused, runtime
from cardmaker.top import ResultCode, SpiAnswerFields, SpiCall, format_timestamp, sign_spi, utc_now
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
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
        "app_key": DEMO_APP_KEY,
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

    # (its business parameters: this test signs a cardorder.make's under the new name)
    methods = sys.modules["test_spi_methods.methods"]
    entry = methods.SpiMethod(parameters=CARDORDER_MAKE_PARAMETERS, serve=status_query)
    monkeypatch.setitem(app.SPI_METHODS, method, entry)
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


# --- one reading of a signed call ---------------------------------------------------------
# TOP signs k1v1k2v2... with no separators, and neither top-sign-list nor the charset is
# signed: a captured call can be cut into other parameters and still verify. Each re-cut below
# verifies with main's SpiUtils rules; it must be refused with nothing written, and the
# platform's genuine call must then be stored (not answered ORDER_CONFLICT).


def _pairs(text: str) -> dict[str, str]:
    return dict(parse_qsl(text, keep_blank_values=True))


def _encoded(pairs: dict[str, str]) -> str:
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in pairs.items())


def _recut_event(
    call: SpiCall,
    *,
    query: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    signed_headers: dict[str, str] | None = None,
):
    """``call`` with its query, form or headers replaced; ``signed_headers`` are added and
    named in top-sign-list (their values URL-encoded, as the verifier decodes them)."""
    sent = dict(call.headers if headers is None else headers)
    for name, value in (signed_headers or {}).items():
        sent[name.lower()] = quote_plus(value)
    if signed_headers:
        sent["top-sign-list"] = ",".join(signed_headers)
    return http_api_event(
        "POST",
        "/top/spi",
        raw_query=call.raw_query if query is None else _encoded(query),
        headers=sent.items(),
        body=call.body if form is None else _encoded(form).encode("ascii"),
        route_key="POST /top/spi",
    )


def _form_call(card_order_id: int) -> SpiCall:
    return sign_demo_call(sample_order(card_order_id, logistics=True), body_format="form")


def _key_swallows_its_value(call: SpiCall):
    form = _pairs(call.body.decode())
    logistics = form.pop("logistics_info")
    return _recut_event(call, form={**form, "logistics_info" + logistics: ""})


def _format_swallows_the_next_parameter(call: SpiCall):
    query, form = _pairs(call.raw_query), _pairs(call.body.decode())
    query["format"] += "logistics_info" + form.pop("logistics_info")
    return _recut_event(call, query=query, form=form)


def _field_moved_into_a_signed_header(call: SpiCall):
    form = _pairs(call.body.decode())
    logistics = form.pop("logistics_info")
    return _recut_event(call, form=form, signed_headers={"logistics_info": logistics})


def _header_cut_from_a_parameter_name(call: SpiCall):
    form = _pairs(call.body.decode())
    logistics = form.pop("logistics_info")
    return _recut_event(call, form=form, signed_headers={"logistics": "_info" + logistics})


def _header_across_a_value_and_a_name(call: SpiCall):
    # format's value "json" and "logistics" make a header's name: "jsonlogistics" sorts
    # between format and method, so the signed text is the same.
    query, form = _pairs(call.raw_query), _pairs(call.body.decode())
    query["format"] = ""
    logistics = form.pop("logistics_info")
    return _recut_event(
        call, query=query, form=form, signed_headers={"jsonlogistics": "_info" + logistics}
    )


def _charset_relabelled(call: SpiCall):
    headers = {**call.headers, "content-type": "application/json;charset=gbk"}
    return _recut_event(call, headers=headers)


def _json_call(card_order_id: int) -> SpiCall:
    order = sample_order(card_order_id)
    # A name whose UTF-8 bytes are also valid GBK (as other characters): a relabelled call
    # verifies, as garbled text.
    order["card_product_infos"][0]["card_name"] = "礼品"
    assert "礼品".encode().decode("gbk") != "礼品"
    return sign_demo_call(order)


RECUTS = {
    "form key swallows its value": (_form_call, _key_swallows_its_value),
    "format swallows the next parameter": (_form_call, _format_swallows_the_next_parameter),
    "business field moved into a signed header": (_form_call, _field_moved_into_a_signed_header),
    "signed header cut from a parameter's name": (_form_call, _header_cut_from_a_parameter_name),
    "signed header across a value and a name": (_form_call, _header_across_a_value_and_a_name),
    "UTF-8 body relabelled GBK": (_json_call, _charset_relabelled),
}


@pytest.mark.parametrize(("genuine", "recut"), RECUTS.values(), ids=RECUTS.keys())
def test_a_recut_call_is_refused_and_the_genuine_call_stored(invoke, table_items, genuine, recut):
    # Given a genuine platform call, captured and cut into other parameters of the same sign
    call = genuine(16100)
    answer = invoke(recut(call))
    # Then the re-cut call is refused, and nothing is written
    response = spi_response(answer)
    assert (answer["statusCode"], response["success"]) == (200, False), response
    assert response["result_code"] == "INVALID_PARAMETER"
    assert table_items() == []
    # and the platform's genuine call is stored as it was signed
    status, response = send(invoke, call)
    assert (status, response["result_code"]) == (200, "SUCCESS")
    view = json.loads(invoke(order_event(16100))["body"])
    if genuine is _form_call:
        assert view["logistics_info"]["receiver_name"] == "张三"
    else:
        assert view["templates"][0]["card_name"] == "礼品"


def test_a_gbk_integration_takes_its_calls_and_refuses_utf8_ones(invoke, table_items, monkeypatch):
    # Given an integration configured for GBK (SPI_CHARSET)
    monkeypatch.setenv("SPI_CHARSET", "gbk")
    runtime.reset()
    order = sample_order(16101, logistics=True)
    # When a UTF-8 call comes, it is refused, and nothing is written
    status, response = send(invoke, sign_demo_call(order, body_format="form"))
    assert (status, response["result_code"]) == (200, "INVALID_PARAMETER")
    assert "charset" in response["result_message"]
    assert table_items() == []
    # while its GBK calls, labelled or not, are stored in their charset
    call = sign_demo_call(order, body_format="form", charset="gbk")
    assert (send(invoke, call)[1]["result_code"]) == "SUCCESS"
    unlabelled = {**call.headers, "content-type": "application/x-www-form-urlencoded"}
    answer = invoke(_recut_event(call, headers=unlabelled))
    assert spi_response(answer)["result_code"] == "SUCCESS"
    view = json.loads(invoke(order_event(16101))["body"])
    assert view["logistics_info"]["receiver_name"] == "张三"


# --- refused, never crashed: what reaches the handler before the sign is checked -----------
# A crash answers HTTP 500, which the platform retries forever; an unsigned caller must not be
# able to cause one.

NOT_IN_GBK = "\U0001f600"  # raw (not percent-encoded): the gbk codec cannot encode it


def _gbk_integration(monkeypatch) -> None:
    monkeypatch.setenv("SPI_CHARSET", "gbk")
    runtime.reset()


def test_raw_character_outside_the_charset_in_the_query_is_refused(
    invoke, table_items, monkeypatch, captured_logs, capsys
):
    _gbk_integration(monkeypatch)
    call = sign_demo_call(sample_order(16102), charset="gbk")
    answer = invoke(spi_event(call, raw_query=call.raw_query + "&partner_id=" + NOT_IN_GBK))
    response = spi_response(answer)
    assert (answer["statusCode"], response["result_code"]) == (200, "INVALID_PARAMETER")
    assert table_items() == []
    # and nothing logged tells where the secret ends (the codec's "in position N")
    printed = capsys.readouterr()
    assert "position" not in captured_logs.getvalue() + printed.out + printed.err


def test_raw_character_outside_the_charset_in_a_signed_header_is_refused(
    invoke, table_items, monkeypatch, captured_logs, capsys
):
    _gbk_integration(monkeypatch)
    call = sign_demo_call(
        sample_order(16103), charset="gbk", signed_headers={"X-Top-Trace": "trace"}
    )
    headers = {**call.headers, "x-top-trace": NOT_IN_GBK}
    answer = invoke(_recut_event(call, headers=headers))
    response = spi_response(answer)
    assert (answer["statusCode"], response["result_code"]) == (200, "INVALID_PARAMETER")
    assert table_items() == []
    printed = capsys.readouterr()
    assert "position" not in captured_logs.getvalue() + printed.out + printed.err


def test_signed_form_struct_nested_too_deep_is_refused(invoke, table_items):
    deep = "[" * 100_000 + "]" * 100_000
    call = sign_demo_call({**sample_order(16104), "card_product_infos": deep}, body_format="form")
    status, response = send(invoke, call)
    assert (status, response["success"], response["result_code"]) == (
        200,
        False,
        "INVALID_PARAMETER",
    )
    assert "card_product_infos" in response["result_message"]
    assert table_items() == []


# --- our app key only ---------------------------------------------------------------------


def _without_app_key() -> SpiCall:
    """A call signed with our secret but carrying no app_key at all."""
    body = json.dumps(sample_order(16105)).encode()
    query = {
        "method": "alibaba.fundplatform.cardorder.make",
        "timestamp": format_timestamp(utc_now()),
        "v": "2.0",
        "format": "json",
        "sign_method": "md5",
    }
    query["sign"] = sign_spi(query, body.decode(), DEMO_SECRET)
    return SpiCall(urlencode(query), {"content-type": "application/json"}, body)


APP_KEYS = {
    "another app's key": (lambda: sign_demo_call(sample_order(16105), app_key="87654321")),
    "an empty app_key": (lambda: sign_demo_call(sample_order(16105), app_key="")),
    "no app_key": _without_app_key,
}


@pytest.mark.parametrize("make_call", APP_KEYS.values(), ids=APP_KEYS.keys())
def test_a_call_for_another_app_is_refused(invoke, table_items, make_call):
    # Given a call signed with our secret, for an app key that is not ours
    status, response = send(invoke, make_call())
    # Then it is refused, and nothing is written
    assert (status, response["success"], response["result_code"]) == (
        200,
        False,
        "INVALID_APP_KEY",
    )
    assert table_items() == []
    # while the same order under our app key is taken
    status, response = send(invoke, sign_demo_call(sample_order(16105)))
    assert (status, response["result_code"]) == (200, "SUCCESS")
