"""Send-code notices turned into deliveries without an operator: notices posted to the real
endpoint, the e-voucher and deliveries tables' streams handed to the real stream functions
(EticketFulfilmentFunction, CardDeliveryFunction), the stock deadline function invoked as its
schedule would, moto behind and the fake TOP gateway over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from cardmaker import (
    DeliveryStatus,
    DynamoDBDeliveryRepository,
    DynamoDBNoticeDeliveryRepository,
    NoticeDeliveryRequest,
    OrderKey,
    delivery_id,
    notice_body,
    notice_delivery_id,
    reopen_delivery,
    runtime,
)
from cardmaker.top import format_timestamp, utc_now
from cardmaker_cli.samples import (
    DEMO_APP_KEY,
    DEMO_NOTICE_SECRET,
    DEMO_SECRET,
    sample_notice,
    sample_order,
)
from local.apigw import LambdaContext, http_api_event
from local.platform import sign_demo_call
from local.template import functions
from local.top_gateway import FakeTopGateway, Fault
from tests.conftest import OPERATOR, SESSION_KEY, delivery_get_event, spi_event, stream_records

MA_SEND = "taobao.eticket.merchant.ma.send"
MA_FAILSEND = "taobao.eticket.merchant.ma.failsend"
CODE = "CM-EV-100"
ALREADY_SENT = "isv.eticket-send-error:code-alreay-send"
ORDER_STATUS = "isv.eticket-order-status-error:invalid-order-status"


@pytest.fixture
def gateway(stack, monkeypatch):
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as fake:
        monkeypatch.setenv("TOP_GATEWAY_URL", fake.url)
        monkeypatch.setenv("TOP_READ_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("STREAM_MAX_RETRIES", "2")
        runtime.reset()
        yield fake


class Pipeline:
    """The stack's stream event sources, played by hand: each table's new stream records
    handed to the function the template attaches to it, as Lambda would."""

    def __init__(self, stack: Any) -> None:
        self._stack = stack
        self._dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        specs = functions(stack)
        self._handlers = {
            name: specs[name].load_handler()
            for name in ("EticketFulfilmentFunction", "CardDeliveryFunction")
        }
        self._deadline = specs["StockDeadlineFunction"].load_handler()
        self._seen: dict[str, int] = {}
        self.failures: list[dict[str, Any]] = []

    def table(self, name: str) -> str:
        return str(self._stack.physical[name])

    def new_records(self, table: str) -> list[dict[str, Any]]:
        records = stream_records(self._dynamodb, self._stack.physical[table])
        start = self._seen.get(table, 0)
        self._seen[table] = len(records)
        return records[start:]

    def skip(self, *tables: str) -> None:
        """What the tables' streams hold so far is not for this test's functions."""
        for table in tables:
            self.new_records(table)

    def settle(self) -> None:
        """Hand every new record to its function until the streams are quiet."""
        sources = (
            ("EticketTable", "EticketFulfilmentFunction"),
            ("DeliveriesTable", "CardDeliveryFunction"),
            ("OrdersTable", "CardDeliveryFunction"),
        )
        for _ in range(20):
            moved = False
            for table, function in sources:
                records = self.new_records(table)
                if records:
                    moved = True
                    self.handle(function, records)
            if not moved:
                return
        raise AssertionError("the streams never settled")

    def handle(self, function: str, records: list[dict[str, Any]]) -> None:
        try:
            answer = self._handlers[function](
                {"Records": records}, LambdaContext(function_name=function)
            )
        except BatchProcessingError:  # every record failed: Lambda retries the batch
            self.failures += [{"itemIdentifier": "all"}]
            return
        self.failures += answer.get("batchItemFailures", [])

    def deadline(self) -> dict[str, Any]:
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        return self._deadline(event, LambdaContext(function_name="StockDeadlineFunction"))


@pytest.fixture
def pipeline(stack, gateway):
    return Pipeline(stack)


def post_notice(invoke, **overrides: Any) -> None:
    parameters = {"timestamp": format_timestamp(utc_now()), **sample_notice(**overrides)}
    body, content_type = notice_body(parameters, DEMO_NOTICE_SECRET, "gbk")
    answer = invoke(
        http_api_event(
            "POST",
            "/eticket/notices",
            headers=[("content-type", content_type)],
            body=body,
            route_key="POST /eticket/notices",
        )
    )
    assert json.loads(answer["body"]) == {"code": 200}, answer


def product_event(code: str, body: Any, method: str = "PUT") -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http_api_event(
        method,
        f"/eticket/products/{code}",
        headers=[("content-type", "application/json")],
        body=raw if method == "PUT" else b"",
        route_key=f"{method} /eticket/products/{{merchant_code}}",
        path_parameters={"merchant_code": code},
        iam=OPERATOR,
    )


def map_product(invoke, code: str = CODE, template_no: str = "T1", certificate_type: int = 1):
    answer = invoke(
        product_event(
            code,
            {"own_sign": "daily", "template_no": template_no, "certificate_type": certificate_type},
        )
    )
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])


def receive_and_generate(invoke, card_order_id: int, count: int, template_no: str = "T1"):
    invoke(
        spi_event(
            sign_demo_call(sample_order(card_order_id, templates=[(template_no, count, "100")]))
        )
    )
    generator = runtime.card_generator()
    for chunk in generator.plan(OrderKey("daily", card_order_id)).chunks:
        generator.generate(chunk)
    time.sleep(0.002)  # the next order is received later (orders are listed by arrival)


def test_a_notice_deliverys_id_depends_on_the_order_id_alone():
    request = NoticeDeliveryRequest(
        type="notice", quantity=3, outer_id="7000", token="t", merchant_code="m", own_sign="pre"
    )
    assert delivery_id(request) == notice_delivery_id("7000") != notice_delivery_id("7001")


def view(invoke, order_id: str) -> dict[str, Any]:
    answer = invoke(delivery_get_event(notice_delivery_id(order_id)))
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])


def notices_of(invoke, order_id: str) -> list[dict[str, Any]]:
    answer = invoke(
        http_api_event(
            "GET",
            f"/eticket/notices/{order_id}",
            route_key="GET /eticket/notices/{order_id}",
            path_parameters={"order_id": order_id},
            iam=OPERATOR,
        )
    )
    return json.loads(answer["body"])["notices"]


# --- send ---------------------------------------------------------------------------------


def test_a_send_makes_one_delivery_and_one_accepted_ma_send_with_its_token(
    invoke, pipeline, gateway
):
    # Given a generated order and the item's merchant code mapped to its template
    receive_and_generate(invoke, 16002, 10)
    map_product(invoke)
    pipeline.skip("OrdersTable")
    # When the platform's send notice for 3 cards arrives
    post_notice(invoke, order_id="7001", token="tok-7001-abc", num=3)
    pipeline.settle()
    # Then one ma.send went out, accepted, under the notice's order id and token, with 3
    # distinct cards
    (call,) = gateway.calls_of(MA_SEND)
    assert call.sign_valid
    assert (call.params["outer_id"], call.params["token"]) == ("7001", "tok-7001-abc")
    numbers = [entry["ka_no"] for entry in call.structs["isv_ka_list"]]
    assert len(set(numbers)) == 3
    shown = view(invoke, "7001")
    assert shown["status"] == "DELIVERED"
    assert shown["card_order_id"] == 16002
    assert [card["card_no"] for card in shown["cards"]] == numbers
    assert "tok-7001-abc" not in json.dumps(shown)
    # and the notice says what it made
    (notice,) = notices_of(invoke, "7001")
    assert notice["outcome"] == "DELIVERY_CREATED"
    assert notice["delivery_id"] == shown["delivery_id"]
    assert pipeline.failures == []


def test_a_duplicate_send_changes_nothing(invoke, pipeline, gateway):
    receive_and_generate(invoke, 16002, 10)
    map_product(invoke)
    pipeline.skip("OrdersTable")
    post_notice(invoke, order_id="7002", token="tok-7002-abc", num=2)
    pipeline.settle()
    before = view(invoke, "7002")
    # When the platform sends the same order's send again (a new timestamp: a new notice),
    # and the first notice's stream record is replayed as well
    post_notice(invoke, order_id="7002", token="tok-7002-abc", num=2)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    replayed = stream_records(dynamodb, pipeline.table("EticketTable"))[:1]
    pipeline.handle("EticketFulfilmentFunction", replayed)
    pipeline.settle()
    # Then nothing more was sent and the delivery is as it was
    assert len(gateway.calls_of(MA_SEND)) == 1
    after = view(invoke, "7002")
    assert after["cards"] == before["cards"]
    assert after["attempts"] == before["attempts"] == 1


def test_cards_come_from_the_oldest_order_with_enough_whole_or_not_at_all(
    invoke, pipeline, gateway
):
    # Given an older order with 3 cards and a newer one with 10
    receive_and_generate(invoke, 16002, 3)
    receive_and_generate(invoke, 16003, 10)
    map_product(invoke)
    pipeline.skip("OrdersTable")
    # When a send for 2 cards, then one for 2 more arrive
    post_notice(invoke, order_id="7101", token="tok-7101-abc", num=2)
    pipeline.settle()
    post_notice(invoke, order_id="7102", token="tok-7102-abc", num=2)
    pipeline.settle()
    # Then the first is served by the oldest order, the second (1 left there) whole by the next
    first, second = view(invoke, "7101"), view(invoke, "7102")
    assert (first["card_order_id"], second["card_order_id"]) == (16002, 16003)
    assert [card["position"] for card in first["cards"]] == [0, 1]
    assert [card["position"] for card in second["cards"]] == [0, 1]
    sent = [
        entry["ka_no"]
        for call in gateway.calls_of(MA_SEND)
        for entry in call.structs["isv_ka_list"]
    ]
    assert len(sent) == len(set(sent)) == 4


def test_an_unmapped_send_waits_and_mapping_its_code_wakes_it(invoke, pipeline, gateway):
    receive_and_generate(invoke, 16002, 10)
    pipeline.skip("OrdersTable")
    post_notice(invoke, order_id="7201", token="tok-7201-abc", num=1)
    pipeline.settle()
    waiting = view(invoke, "7201")
    assert waiting["status"] == "WAITING_STOCK"
    assert "own_sign" not in waiting
    assert gateway.calls_of(MA_SEND) == []
    # When the operator maps the merchant code
    mapped = map_product(invoke)
    assert mapped["woken"] == 1
    pipeline.settle()
    # Then the delivery goes out from the mapped stock
    shown = view(invoke, "7201")
    assert (shown["status"], shown["own_sign"], shown["template_no"]) == (
        "DELIVERED",
        "daily",
        "T1",
    )
    assert len(gateway.calls_of(MA_SEND)) == 1


def test_a_send_without_stock_waits_and_a_generated_order_wakes_it(invoke, pipeline, gateway):
    # Given a mapped product whose template has no generated order yet
    map_product(invoke)
    post_notice(invoke, order_id="7301", token="tok-7301-abc", num=2)
    pipeline.settle()
    assert view(invoke, "7301")["status"] == "WAITING_STOCK"
    # When an order of that template becomes GENERATED
    receive_and_generate(invoke, 16002, 5)
    pipeline.settle()
    # Then the waiting delivery is served from it
    shown = view(invoke, "7301")
    assert (shown["status"], shown["card_order_id"]) == ("DELIVERED", 16002)
    assert len(gateway.calls_of(MA_SEND)) == 1


def test_more_than_any_order_has_waits_whole_and_never_sends_part(invoke, pipeline, gateway):
    receive_and_generate(invoke, 16002, 2)
    receive_and_generate(invoke, 16003, 2)
    map_product(invoke)
    pipeline.skip("OrdersTable")
    post_notice(invoke, order_id="7401", token="tok-7401-abc", num=3)
    pipeline.settle()
    assert view(invoke, "7401")["status"] == "WAITING_STOCK"
    assert gateway.calls_of(MA_SEND) == []


# --- the deadline and ma.failsend ----------------------------------------------------------


@pytest.mark.parametrize("mapped", [True, False])
def test_past_its_deadline_a_waiting_send_fails_with_a_failsend(
    invoke, pipeline, gateway, monkeypatch, mapped
):
    monkeypatch.setenv("ETICKET_STOCK_WAIT_SECONDS", "0")
    runtime.reset()
    if mapped:
        map_product(invoke)
    post_notice(invoke, order_id="7501", token="tok-7501-abc", num=1)
    pipeline.settle()
    assert view(invoke, "7501")["status"] == "WAITING_STOCK"
    # When the schedule runs the stock deadline
    assert pipeline.deadline() == {"given_up": 1}
    pipeline.settle()
    # Then the platform got ma.failsend for the notice's order, with its token and session
    (call,) = gateway.calls_of(MA_FAILSEND)
    assert call.sign_valid
    assert call.params["session"] == SESSION_KEY
    assert (call.params["outer_id"], call.params["token"]) == ("7501", "tok-7501-abc")
    assert call.params["sub_err_code"] == "isv.fail-send-no-stock"
    assert call.params["sub_err_msg"]
    # and the operator sees why, and that the platform was told
    shown = view(invoke, "7501")
    assert shown["status"] == "FAILED"
    assert shown["failure_reason"].startswith("no product mapping" if not mapped else "no stock")
    assert shown["failsend"]["state"] == "SENT"
    assert shown["failsend"]["attempts"] == 1
    assert gateway.calls_of(MA_SEND) == []
    # and a second run, or a later order, changes nothing
    assert pipeline.deadline() == {"given_up": 0}
    receive_and_generate(invoke, 16002, 5)
    pipeline.settle()
    assert view(invoke, "7501")["status"] == "FAILED"
    assert len(gateway.calls_of(MA_FAILSEND)) == 1


def test_a_waiting_send_before_its_deadline_is_left_waiting(invoke, pipeline):
    map_product(invoke)
    post_notice(invoke, order_id="7502", token="tok-7502-abc", num=1)
    pipeline.settle()
    assert pipeline.deadline() == {"given_up": 0}
    assert view(invoke, "7502")["status"] == "WAITING_STOCK"


def test_a_refused_failsend_is_recorded_and_not_sent_again(invoke, pipeline, gateway, monkeypatch):
    monkeypatch.setenv("ETICKET_STOCK_WAIT_SECONDS", "0")
    runtime.reset()
    gateway.fail_next(Fault.error(15, "isv.invalid-token"), method=MA_FAILSEND)
    post_notice(invoke, order_id="7503", token="tok-7503-abc", num=1)
    pipeline.settle()
    pipeline.deadline()
    pipeline.settle()
    failsend = view(invoke, "7503")["failsend"]
    assert (failsend["state"], failsend["code"]) == ("FAILED", "isv.invalid-token")
    assert len(gateway.calls_of(MA_FAILSEND)) == 1
    assert pipeline.failures == []


def test_a_failsend_the_gateway_could_not_take_is_retried_by_the_stream(
    invoke, pipeline, gateway, monkeypatch
):
    monkeypatch.setenv("ETICKET_STOCK_WAIT_SECONDS", "0")
    runtime.reset()
    gateway.fail_next(Fault.error(7, "isp.overload"), method=MA_FAILSEND, times=10)
    post_notice(invoke, order_id="7504", token="tok-7504-abc", num=1)
    pipeline.settle()
    pipeline.deadline()
    pipeline.settle()
    # The record failed (the stream retries it, then its DLQ: redrivable), still PENDING
    assert len(pipeline.failures) == 1
    failsend = view(invoke, "7504")["failsend"]
    assert (failsend["state"], failsend["attempts"]) == ("PENDING", 1)
    # A replay once the gateway is back sends it
    gateway.reset()
    assert runtime.failsend_sender().send(notice_delivery_id("7504")) is not None
    assert view(invoke, "7504")["failsend"]["state"] == "SENT"


# --- ma.send's retry policy (§4.5) -----------------------------------------------------------


def _served(invoke, pipeline, order_id: str) -> dict[str, Any]:
    post_notice(invoke, order_id=order_id, token=f"tok-{order_id}-abc", num=2)
    pipeline.settle()
    return view(invoke, order_id)


def test_code_already_sent_counts_as_issued(invoke, pipeline, gateway):
    receive_and_generate(invoke, 16002, 10)
    map_product(invoke)
    pipeline.skip("OrdersTable")
    gateway.fail_next(Fault.error(15, ALREADY_SENT), method=MA_SEND)
    shown = _served(invoke, pipeline, "7601")
    assert shown["status"] == "DELIVERED"
    assert {card["outcome"] for card in shown["cards"]} == {"ISSUED"}
    assert {card["code"] for card in shown["cards"]} == {ALREADY_SENT}
    assert len(gateway.calls_of(MA_SEND)) == 1


def test_invalid_order_status_fails_and_is_never_retried(invoke, pipeline, gateway):
    receive_and_generate(invoke, 16002, 10)
    map_product(invoke)
    pipeline.skip("OrdersTable")
    gateway.fail_next(Fault.error(15, ORDER_STATUS), method=MA_SEND)
    shown = _served(invoke, pipeline, "7602")
    assert shown["status"] == "FAILED"
    assert {card["code"] for card in shown["cards"]} == {ORDER_STATUS}
    assert "failure_reason" not in shown  # refused by the platform: not reopened by a redrive
    assert pipeline.failures == []
    assert len(gateway.calls_of(MA_SEND)) == 1


@pytest.mark.parametrize(
    "fault",
    [Fault.error(15, "isv.some-other-refusal"), Fault.ma_ret("isv.some-other-result")],
    ids=["error", "ret_code"],
)
def test_any_other_answer_is_retried_bounded_then_gives_up_redrivably(
    invoke, pipeline, gateway, fault
):
    receive_and_generate(invoke, 16002, 10)
    map_product(invoke)
    pipeline.skip("OrdersTable")
    gateway.fail_always(fault, method=MA_SEND)
    shown = _served(invoke, pipeline, "7603")
    # The stream's first attempt failed (and is retried by the stream)
    assert shown["status"] == "SENDING"
    assert len(pipeline.failures) == 1
    # Its retries (STREAM_MAX_RETRIES 2: 3 attempts) send the same cards each time, then give up
    delivery = notice_delivery_id("7603")
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017 (the platform's answer, retried)
            runtime.delivery_sender().deliver(delivery)
    shown = view(invoke, "7603")
    assert shown["status"] == "FAILED"
    assert shown["failure_reason"].startswith("gave up after 3 attempts")
    calls = gateway.calls_of(MA_SEND)
    assert len(calls) == 3
    assert len({json.dumps(call.structs["isv_ka_list"]) for call in calls}) == 1
    # A redrive reopens it with the same cards, and it goes out once the platform takes it
    gateway.reset()
    deliveries = DynamoDBDeliveryRepository(pipeline.table("DeliveriesTable"))
    assert reopen_delivery(deliveries, delivery).after is DeliveryStatus.SENDING
    runtime.delivery_sender().deliver(delivery)
    assert view(invoke, "7603")["status"] == "DELIVERED"


# --- crashes ---------------------------------------------------------------------------------


def test_a_retry_after_a_crash_between_claim_and_send_gets_its_own_range_back(
    invoke, pipeline, gateway, monkeypatch
):
    receive_and_generate(invoke, 16002, 3)
    receive_and_generate(invoke, 16003, 10)
    map_product(invoke)
    pipeline.skip("OrdersTable")
    # Given a delivery whose first attempt claimed its cards and died before sending them
    real_start = DynamoDBNoticeDeliveryRepository.start_sending
    crashes = iter([True])

    def crash_once(self, delivery_id, first_position):
        if next(crashes, False):
            raise RuntimeError("the function died here")
        return real_start(self, delivery_id, first_position)

    monkeypatch.setattr(DynamoDBNoticeDeliveryRepository, "start_sending", crash_once)
    post_notice(invoke, order_id="7701", token="tok-7701-abc", num=2)
    pipeline.settle()
    assert len(pipeline.failures) == 1
    assert gateway.calls_of(MA_SEND) == []
    # When the stream brings it back
    attempt = runtime.delivery_sender().deliver(notice_delivery_id("7701"))
    # Then it sends the range its first attempt claimed, from the order it recorded
    assert attempt.status is DeliveryStatus.DELIVERED
    shown = view(invoke, "7701")
    assert shown["card_order_id"] == 16002
    assert [card["position"] for card in shown["cards"]] == [0, 1]
    # and the next send finds exactly one card left there (nothing else was taken)
    post_notice(invoke, order_id="7702", token="tok-7702-abc", num=1)
    pipeline.settle()
    after = view(invoke, "7702")
    assert (after["card_order_id"], after["cards"][0]["position"]) == (16002, 2)
