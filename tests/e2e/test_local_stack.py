"""End to end over real HTTP: the local stack (moto server, template resources, the HTTP
function behind the API Gateway adapter), ``python -m local.serve`` and ``python -m local.demo``."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests

from cardmaker import runtime
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from local.platform import sample_delivery, sign_demo_call
from local.stack import LocalStack, LocalStackError, TopConfig, function_environment
from local.template import FunctionSpec
from tests.e2e.conftest import free_port, get_order, post_spi, table_items

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = [("3010030E02", 500, "100"), ("3010030E05", 37, "5000")]


def spi_response(answer: requests.Response) -> dict:
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    return answer.json()["response"]


@pytest.mark.parametrize(
    ("card_order_id", "own_sign", "body_format"),
    [(16002, "daily", "json"), (16003, "pre", "form")],
)
def test_signed_order_is_received_and_visible(local_stack, card_order_id, own_sign, body_format):
    order = sample_order(card_order_id, own_sign, TEMPLATES, logistics=True)
    answer = post_spi(local_stack, sign_demo_call(order, body_format=body_format))

    assert answer.status_code == 200
    response = spi_response(answer)
    assert response["success"] is True
    assert response["result_code"] == "SUCCESS"
    assert response["making_card_no"] == f"CM-{own_sign}-{card_order_id}"

    local_stack.wait_idle(timeout=60)  # the generator runs as soon as the order is stored
    lookup = get_order(local_stack, card_order_id, own_sign)
    assert lookup.status_code == 200
    view = lookup.json()
    assert view["status"] == "GENERATED"
    assert [(t["template_no"], t["requested"], t["generated"]) for t in view["templates"]] == [
        ("3010030E02", 500, 500),
        ("3010030E05", 37, 37),
    ]
    assert view["logistics_info"]["receiver_name"] == "张三"
    assert view["logistics_info"]["receiver_address"].startswith("浙江省-杭州市")


def test_order_is_stored_in_dynamodb(local_stack):
    answer = post_spi(local_stack, sign_demo_call(sample_order(16004, "daily", TEMPLATES)))
    assert spi_response(answer)["success"] is True

    headers = [item for item in table_items(local_stack) if item["sk"]["S"] == "ORDER"]
    assert [header["pk"]["S"] for header in headers] == ["ORDER#daily#16004"]
    # stored as RECEIVED; the generator may already have moved it on
    assert headers[0]["status"]["S"] in {"RECEIVED", "GENERATING", "GENERATED"}
    assert headers[0]["content_hash"]["S"]
    assert headers[0]["making_card_no"]["S"] == "CM-daily-16004"
    assert headers[0]["card_count"]["N"] == "537"


def test_forged_signature_is_refused_and_nothing_is_stored(local_stack):
    call = sign_demo_call(sample_order(16005))
    prefix, sign = call.raw_query.rsplit("&sign=", 1)
    forged = sign[:-1] + ("0" if sign[-1] != "0" else "1")

    answer = post_spi(local_stack, call, raw_query=f"{prefix}&sign={forged}")

    assert answer.status_code == 200
    response = spi_response(answer)
    assert response["success"] is False
    assert response["result_code"] == "INVALID_SIGNATURE"
    assert "making_card_no" not in response
    assert table_items(local_stack) == []
    # the untampered call goes through: the refusal was the forged sign's doing
    assert spi_response(post_spi(local_stack, call))["success"] is True


def test_xml_answer_when_the_platform_asks_for_xml(local_stack):
    answer = post_spi(local_stack, sign_demo_call(sample_order(16006), response_format="xml"))

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(answer.content)
    assert root.tag == "response"
    assert root.findtext("success") == "true"
    assert root.findtext("making_card_no") == "CM-daily-16006"


def test_unknown_route_and_unknown_order_are_404(local_stack):
    for method, path in [("GET", "/nowhere"), ("GET", "/top/spi"), ("DELETE", "/orders/1")]:
        answer = requests.request(method, f"{local_stack.url}{path}", timeout=10)
        assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"}), path

    answer = get_order(local_stack, 424242, "daily")
    assert answer.status_code == 404
    assert "424242" in answer.json()["message"]


def test_the_http_functions_take_turns_and_the_stream_functions_do_not_wait_for_them(
    local_stack,
):
    # Powertools' resolvers share the current request (a class attribute) in one process
    functions = local_stack.functions
    http_functions = ("TopSpiFunction", "EticketNoticeFunction", "OperatorApiFunction")
    assert len({id(functions[name].lock) for name in http_functions}) == 1
    # and each stream function has a lock of its own
    locks = {id(function.lock) for function in functions.values()}
    stream_functions = len(functions) - len(http_functions)
    assert len(locks) == 1 + stream_functions


def test_function_error_is_a_502_and_body_limit_a_413(local_stack):
    def crash(event, context):
        raise RuntimeError("boom")

    local_stack.functions["OperatorApiFunction"].handler = crash
    answer = get_order(local_stack, 1, "daily")
    assert (answer.status_code, answer.json()) == (502, {"message": "Internal Server Error"})

    too_large = b"x" * (10 * 1024 * 1024 + 1)
    answer = requests.post(f"{local_stack.url}/top/spi", data=too_large, timeout=30)
    assert answer.status_code == 413


def test_secret_comes_from_secrets_manager_and_environment_is_restored(monkeypatch):
    # A TOP_APP_SECRET in the environment must not shortcut the Secrets Manager path...
    monkeypatch.setenv("TOP_APP_SECRET", "not-the-secret")
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    log = io.StringIO()
    top = TopConfig(app_key=DEMO_APP_KEY, app_secret="stack-secret-1")
    with LocalStack(top, log=log) as stack:
        assert os.environ.get("TOP_APP_SECRET", "") == ""  # the template's empty value at most
        assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_url
        demo_signed = sign_demo_call(sample_order(16007), secret=DEMO_SECRET)
        refused = spi_response(post_spi(stack, demo_signed))
        assert refused["result_code"] == "INVALID_SIGNATURE"
        accepted = spi_response(
            post_spi(stack, sign_demo_call(sample_order(16007), secret="stack-secret-1"))
        )
        assert accepted["success"] is True
    # ...and stopping puts the environment back as it was.
    assert os.environ["TOP_APP_SECRET"] == "not-the-secret"
    assert os.environ["AWS_PROFILE"] == "someone-real"
    assert "AWS_ENDPOINT_URL" not in os.environ
    # The access log names the route, never the query string (it carries the sign).
    assert "POST /top/spi -> 200" in log.getvalue()
    assert "sign=" not in log.getvalue()
    assert "app_key" not in log.getvalue()


def test_refuses_conflicting_function_environments():
    def spec(name, value):
        return FunctionSpec(name, REPO, "app.handler", {"ORDERS_TABLE_NAME": value}, (), 3)

    assert function_environment([spec("A", "t"), spec("B", "t")]) == {"ORDERS_TABLE_NAME": "t"}
    with pytest.raises(LocalStackError, match="ORDERS_TABLE_NAME"):
        function_environment([spec("A", "t"), spec("B", "other")])


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def test_serve_command(tmp_path):
    port = free_port()
    state = tmp_path / "state" / "local-stack.json"
    env = {**os.environ, "PORT": str(port), "CARDMAKER_LOCAL_STATE": str(state)}
    stderr = (tmp_path / "serve.err").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "local.serve"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        encoding="utf-8",
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"serve exited early: {output} {_read(tmp_path)}"
            output.append(line)
            if line.startswith("READY "):
                url = line.split()[1]
        assert url == f"http://127.0.0.1:{port}"
        # The outputs the cardmaker command reads: a deployed stack's names, local values.
        outputs = json.loads(state.read_text(encoding="utf-8"))
        assert outputs["ApiUrl"] == url
        assert outputs["SpiUrl"] == f"{url}/top/spi"
        assert outputs["AwsEndpointUrl"].startswith("http://127.0.0.1:")
        assert outputs["OrdersTableName"] == "cardmaker-local-OrdersTable"
        assert outputs["CardGeneratorFunctionName"] == "CardGeneratorFunction"
        assert "/cardmaker-local-GeneratorFailures" in outputs["GeneratorFailuresQueueUrl"]
        assert DEMO_SECRET not in state.read_text(encoding="utf-8")

        call = sign_demo_call(sample_order(16008, logistics=True))
        answer = requests.post(call.url(url), data=call.body, headers=call.headers, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["response"]["making_card_no"] == "CM-daily-16008"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, _read(tmp_path)
        assert not state.exists()  # a stopped stack leaves no outputs behind
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        stderr.close()
    assert "POST /top/spi -> 200" in _read(tmp_path)


def _read(tmp_path) -> str:
    return (tmp_path / "serve.err").read_text(encoding="utf-8")


def test_order_is_generated_through_the_stream(local_stack):
    # Given an order for two templates, sent as the platform does
    order = sample_order(16020, "daily", [("3010030E02", 1200, "100"), ("3010030E05", 37, "5000")])
    assert spi_response(post_spi(local_stack, sign_demo_call(order)))["success"] is True

    # When the stream has been processed (the generator plans the order, then its chunks)
    local_stack.wait_idle(timeout=120)

    # Then the order is GENERATED with exactly the cards asked for
    view = get_order(local_stack, 16020, "daily").json()
    assert view["status"] == "GENERATED", view
    assert [(t["template_no"], t["generated"]) for t in view["templates"]] == [
        ("3010030E02", 1200),
        ("3010030E05", 37),
    ]
    dynamodb = local_stack.client("dynamodb")
    table = local_stack.stack.physical["CardsTable"]
    cards, page = [], {"TableName": table}
    while True:
        answer = dynamodb.scan(**page)
        cards += [item for item in answer["Items"] if item.get("entity", {}).get("S") == "CARD"]
        if "LastEvaluatedKey" not in answer:
            break
        page["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    numbers = [card["card_no"]["S"] for card in cards]
    assert len(numbers) == len(set(numbers)) == 1237
    assert all(len(number) == 19 and number.startswith("3101") for number in numbers)
    # every secret is ciphertext: nonce + 16 secret bytes + tag, none of it readable symbols
    assert {len(card["secret"]["B"]) for card in cards} == {12 + 16 + 16}
    assert (
        not local_stack.client("sqs")
        .receive_message(QueueUrl=local_stack.stack.physical["GeneratorFailures"])
        .get("Messages")
    )


def test_deliveries_reach_the_gateway_and_finish(local_stack):
    # Given an order generated on the local stack
    order = sample_order(16030, "daily", [("3010030E02", 20, "100")])
    assert spi_response(post_spi(local_stack, sign_demo_call(order)))["success"] is True
    local_stack.wait_idle(timeout=60)
    # When a bind delivery of 3 cards and an e-voucher delivery of 2 are posted
    bind = sample_delivery("bind", 16030, out_biz_id="243FC389EDACDFB9")
    eticket = sample_delivery("eticket", 16030)
    ids = []
    for body in (bind, eticket):
        answer = requests.post(f"{local_stack.url}/deliveries", json=body, timeout=10)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["delivery_id"])
    local_stack.wait_idle(timeout=60)
    # Then the gateway got one correctly signed call of each, and both deliveries are DELIVERED
    gateway = local_stack.top_gateway
    (bound,) = gateway.calls_of("tmall.purchase.card.bind")
    (sent,) = gateway.calls_of("taobao.eticket.merchant.ma.send")
    assert bound.sign_valid
    assert sent.sign_valid
    bound_numbers = bound.structs["card_bind_req_dto"]["card_no_s"].split(",")
    sent_numbers = [entry["ka_no"] for entry in sent.structs["isv_ka_list"]]
    assert (len(bound_numbers), len(sent_numbers)) == (3, 2)
    assert not set(bound_numbers) & set(sent_numbers)  # no card handed out twice
    assert all(len(entry["ka_mi"]) == 16 for entry in sent.structs["isv_ka_list"])
    views = [requests.get(f"{local_stack.url}/deliveries/{i}", timeout=10).json() for i in ids]
    assert [view["status"] for view in views] == ["DELIVERED", "DELIVERED"]
    assert [card["card_no"] for card in views[0]["cards"]] == bound_numbers
    assert {card["outcome"] for card in views[1]["cards"]} == {"ISSUED"}


def test_the_functions_keep_their_environment_whatever_the_process_does_to_it(
    local_stack, monkeypatch
):
    # The functions share their process with the CLI and the tests, which change os.environ
    # while the functions run (the CLI's tests clear TOP_APP_KEY for every command), and a
    # test rotating a secret drops every cached setting.
    monkeypatch.delenv("TOP_APP_KEY")
    monkeypatch.setenv("DELIVERIES_TABLE_NAME", "not-the-stack-s-table")
    runtime.reset()
    order = sample_order(16031, "daily", [("3010030E02", 5, "100")])
    assert spi_response(post_spi(local_stack, sign_demo_call(order)))["success"] is True
    local_stack.wait_idle(timeout=60)
    body = sample_delivery("bind", 16031, out_biz_id="243FC389EDACDFB8")
    answer = requests.post(f"{local_stack.url}/deliveries", json=body, timeout=10)
    assert answer.status_code == 202, answer.text
    local_stack.wait_idle(timeout=60)
    # The delivery still went out, signed with the stack's app key, from the stack's table.
    (bound,) = local_stack.top_gateway.calls_of("tmall.purchase.card.bind")
    assert bound.sign_valid
    assert bound.params["app_key"] == local_stack.top.app_key
    view = requests.get(f"{local_stack.url}/deliveries/{answer.json()['delivery_id']}", timeout=10)
    assert view.json()["status"] == "DELIVERED"


def test_an_order_s_lifecycle_events_reach_the_bus_s_archive(local_stack):
    # Given an order sent as the platform does, generated through the stream
    order = sample_order(16030, "daily", [("3010030E02", 3, "100")], logistics=True)
    assert spi_response(post_spi(local_stack, sign_demo_call(order)))["success"] is True
    local_stack.wait_idle(timeout=120)

    # When the LifecycleBus's archive is read, as `cardmaker events` reads it
    logs = local_stack.client("logs")
    group = local_stack.outputs()["LifecycleEventsLogGroupName"]
    found = logs.filter_log_events(logGroupName=group, interleaved=True)["events"]
    events = [json.loads(event["message"]) for event in found]

    # Then its received and generated went through moto's EventBridge, in the envelope
    mine = [e for e in events if e["detail"].get("making_card_no") == "CM-daily-16030"]
    assert [e["detail-type"] for e in mine] == ["Order Received", "Order Generated"]
    assert {e["source"] for e in mine} == {"cardmaker"}
    assert [e["detail"]["status"] for e in mine] == ["RECEIVED", "GENERATED"]
    assert "张三" not in json.dumps(mine, ensure_ascii=False)  # the receiver stays out
    assert (
        not local_stack.client("sqs")
        .receive_message(QueueUrl=local_stack.stack.physical["EventsFailures"])
        .get("Messages")
    )
