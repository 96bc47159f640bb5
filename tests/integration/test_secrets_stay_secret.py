"""No secret in any log line, metric or answer, whatever happens (DEBUG logging on)."""

from __future__ import annotations

import ast
import base64
import json
from datetime import timedelta
from typing import Any

import boto3

from cardmaker import KmsDataKeys, OrderKey, Sealer, runtime
from cardmaker.top import utc_now
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, SAMPLE_RECEIVER, sample_order
from local.apigw import LambdaContext
from local.platform import sign_demo_call
from local.template import REPO, functions
from local.top_gateway import FakeTopGateway
from tests.conftest import (
    CARD_NUMBER_KEY,
    SESSION_KEY,
    delivery_get_event,
    delivery_post_event,
    order_event,
    spi_event,
    stream_records,
)


def test_no_secret_or_signature_in_logs_or_answers(
    invoke, captured_logs, capsys, dynamodb, orders_table
):
    calls = [
        sign_demo_call(sample_order(1)),  # accepted
        sign_demo_call(sample_order(1), body_format="form"),  # replayed
        sign_demo_call(sample_order(1, templates=[("T9", 1, "100")])),  # conflict
        sign_demo_call(sample_order(2), secret="not-the-secret"),  # forged
        sign_demo_call(sample_order(3), timestamp=utc_now() - timedelta(hours=1)),  # stale
        sign_demo_call({**sample_order(4), "own_sign": "prod"}),  # invalid
    ]
    answers = [invoke(spi_event(call)) for call in calls]
    answers.append(invoke(order_event(1)))
    dynamodb.delete_table(TableName=orders_table)
    answers.append(invoke(spi_event(sign_demo_call(sample_order(5)))))  # internal failure

    logs = captured_logs.getvalue()
    printed = capsys.readouterr()
    assert "SPI call refused" in logs
    assert "SPI call failed" in logs  # the traceback is logged...
    everything = logs + printed.out + printed.err + json.dumps(answers)
    signs = [call.raw_query.split("sign=")[1].split("&")[0] for call in calls]
    for secret in [DEMO_SECRET, SESSION_KEY, *signs]:
        assert secret not in everything  # ...but never a secret or a signature
    assert "张三" not in logs  # nor the receiver's personal data


def test_generation_never_logs_a_card_secret_or_data_key(
    stack, invoke, invoke_generator, captured_logs, capsys, dynamodb
):
    # Given an order generated with DEBUG logging on
    invoke(spi_event(sign_demo_call(sample_order(7, templates=[("T1", 40, "100")]))))
    records = stream_records(dynamodb, stack.physical["OrdersTable"])
    answers = [invoke_generator({"Records": [record]}) for record in records]
    chunk_records = stream_records(dynamodb, stack.physical["OrdersTable"])[len(records) :]
    answers += [invoke_generator({"Records": [record]}) for record in chunk_records]
    # When the secrets and the data key are recovered the way a delivery would
    cards = dynamodb.scan(TableName=stack.physical["CardsTable"])["Items"]
    (key_item,) = [item for item in cards if item["pk"]["S"].startswith("CHUNKKEY#")]
    context = {"card_order": "daily:7", "chunk": "0.0"}
    data_key = KmsDataKeys(
        boto3.client("kms"), functions(stack)["CardGeneratorFunction"].environment["CARD_KEY_ID"]
    ).unwrap(key_item["wrapped_key"]["B"], context)
    sealer = Sealer(data_key.plaintext)
    secrets = [
        sealer.open(card["card_no"]["S"], card["secret"]["B"])
        for card in cards
        if "card_no" in card
    ]
    assert len(secrets) == 40
    # Then none of them, nor the key, is in any log line, metric or answer
    printed = capsys.readouterr()
    everything = captured_logs.getvalue() + printed.out + printed.err + json.dumps(answers)
    assert "chunk done" in everything
    for secret in secrets:
        assert secret not in everything
    assert data_key.plaintext.hex() not in everything
    assert base64.b64encode(data_key.plaintext).decode() not in everything
    assert CARD_NUMBER_KEY not in everything


def test_delivery_never_logs_a_card_secret(stack, invoke, captured_logs, capsys, monkeypatch):
    # Given generated cards and an e-voucher delivery, with DEBUG logging on
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as gateway:
        monkeypatch.setenv("TOP_GATEWAY_URL", gateway.url)
        monkeypatch.setenv("CHUNK_SIZE", "5")
        runtime.reset()
        invoke(spi_event(sign_demo_call(sample_order(8, templates=[("T1", 10, "100")]))))
        generator = runtime.card_generator()
        for chunk in generator.plan(OrderKey("daily", 8)).chunks:
            generator.generate(chunk)
        body = {
            "type": "eticket",
            "card_order_id": 8,
            "own_sign": "daily",
            "template_no": "T1",
            "quantity": 4,
            "outer_id": "S1",
            "token": "t0k3n",
        }
        created = json.loads(invoke(delivery_post_event(body))["body"])
        # When it is delivered
        runtime.delivery_sender().deliver(created["delivery_id"])
        (call,) = gateway.calls_of("taobao.eticket.merchant.ma.send")
    sent = [entry["ka_mi"] for entry in call.structs["isv_ka_list"]]
    view = invoke(delivery_get_event(created["delivery_id"]))
    # Then the secrets that went to TOP appear nowhere else
    printed = capsys.readouterr()
    everything = captured_logs.getvalue() + printed.out + printed.err + json.dumps(view)
    assert json.loads(view["body"])["status"] == "DELIVERED"
    assert len(sent) == 4
    for secret in sent:
        assert secret not in everything
    assert SESSION_KEY not in everything
    assert "t0k3n" not in everything  # nor the e-voucher token, which went to TOP too
    assert call.params["token"] == "t0k3n"


def test_traces_never_record_personal_data_or_the_token(
    stack, invoke, recorded_traces, dynamodb, monkeypatch
):
    # Given an order with a receiver and an e-voucher delivery, read with X-Ray on
    invoke(spi_event(sign_demo_call(sample_order(9, templates=[("T1", 3, "100")], logistics=True))))
    token = "tok-9f8e7d6c5b4a"
    body = {
        "type": "eticket",
        "card_order_id": 9,
        "own_sign": "daily",
        "template_no": "T1",
        "quantity": 1,
        "outer_id": "TRACE1",
        "token": token,
    }
    created = json.loads(invoke(delivery_post_event(body))["body"])
    order = invoke(order_event(9))
    delivery = invoke(delivery_get_event(created["delivery_id"]))
    # (the operator sees the receiver; the trace must not)
    assert json.loads(order["body"])["logistics_info"] == SAMPLE_RECEIVER
    # Then the traces have the handlers' subsegments, but none of it
    traced = recorded_traces.everything
    assert "## routes.orders.get_order" in traced
    assert "## routes.deliveries.get_delivery" in traced
    assert "## lambda_handler" in traced
    assert delivery["statusCode"] == 200
    for value in [*SAMPLE_RECEIVER.values(), token]:
        assert value not in traced
        assert json.dumps(value)[1:-1] not in traced  # nor JSON-escaped (\\u5f20...)


def _tracer_decorators() -> list[tuple[str, ast.expr]]:
    found = []
    for path in [*(REPO / "functions").rglob("*.py"), *(REPO / "layers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for decorator in node.decorator_list:
                    called = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if isinstance(called, ast.Attribute) and called.attr in TRACER_DECORATORS:
                        found.append((f"{path.relative_to(REPO)}:{node.name}", decorator))
    return found


TRACER_DECORATORS = {"capture_method", "capture_lambda_handler"}


def test_every_traced_function_keeps_its_answer_and_errors_out_of_the_trace():
    # The one rule: the Tracer never records what a function returns (answers carry the
    # receiver's details, deliveries, TOP's answers) nor an exception object as metadata.
    decorators = _tracer_decorators()
    assert len(decorators) >= 10
    for where, decorator in decorators:
        assert isinstance(decorator, ast.Call), where
        given = {keyword.arg: keyword.value for keyword in decorator.keywords}
        for name in ("capture_response", "capture_error"):
            assert isinstance(given.get(name), ast.Constant), (where, name)
            assert given[name].value is False, (where, name)


def _annotations(traced: str) -> list[dict[str, Any]]:
    """The annotations of every (sub)segment sent or open, each as its dict."""
    found: list[dict[str, Any]] = []

    def walk(entity: dict[str, Any]) -> None:
        if entity.get("annotations"):
            found.append(entity["annotations"])
        for child in entity.get("subsegments", []):
            walk(child)

    for line in traced.splitlines():
        walk(json.loads(line))
    return found


def test_traces_are_searchable_by_order_and_delivery_without_personal_data(
    stack, invoke, invoke_generator, recorded_traces, dynamodb, monkeypatch
):
    # Given an order received, generated and delivered by e-voucher, every function with X-Ray on
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as gateway:
        monkeypatch.setenv("TOP_GATEWAY_URL", gateway.url)
        runtime.reset()
        order = sample_order(16002, templates=[("T1", 3, "100")], logistics=True)
        invoke(spi_event(sign_demo_call(order)))
        for _ in range(2):  # the order's record plans it; the chunk's record generates it
            records = stream_records(dynamodb, stack.physical["OrdersTable"])
            invoke_generator({"Records": records[-1:]})
        body = {
            "type": "eticket",
            "card_order_id": 16002,
            "own_sign": "daily",
            "template_no": "T1",
            "quantity": 1,
            "outer_id": "TRACE2",
            "token": "tok-1a2b3c",
        }
        created = json.loads(invoke(delivery_post_event(body))["body"])
        delivery_id = created["delivery_id"]
        invoke(order_event(16002))
        invoke(delivery_get_event(delivery_id))
        deliveries = stream_records(dynamodb, stack.physical["DeliveriesTable"])
        deliver = functions(stack)["CardDeliveryFunction"].load_handler()
        deliver({"Records": deliveries[-1:]}, LambdaContext(function_name="CardDeliveryFunction"))
    # Then each function's trace carries what it was about, searchable in X-Ray
    annotations = _annotations(recorded_traces.everything)
    order_keys = {"card_order_id": 16002, "own_sign": "daily"}
    assert sum(1 for a in annotations if order_keys.items() <= a.items()) >= 4  # spi, 2 x gen, GET
    assert (
        sum(1 for a in annotations if a.get("delivery_id") == delivery_id) >= 3
    )  # POST, GET, send
    # and nothing else (Powertools' own ColdStart and Service): no receiver, token or card
    subjects = {"card_order_id", "own_sign", "delivery_id"}
    assert {key for a in annotations for key in a} == subjects | {"ColdStart", "Service"}
    traced = recorded_traces.everything
    for value in [*SAMPLE_RECEIVER.values(), "tok-1a2b3c"]:
        assert value not in traced
        assert json.dumps(value)[1:-1] not in traced
