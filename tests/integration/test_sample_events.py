"""Every sample event in events/ runs through the handler as `sam local invoke` would run it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest

from cardmaker import (
    DynamoDBDeliveryRepository,
    DynamoDBGenerationRepository,
    DynamoDBLifecycleRepository,
    DynamoDBOrderRepository,
    OrderKey,
    Waybill,
    runtime,
)
from cardmaker.top import utc_now
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET
from local.apigw import LambdaContext
from local.events import EVENTS, SAMPLE_WAYBILL, render, sample_events, stream_events
from local.template import functions, load_template, resources_of_type
from local.top_gateway import FakeTopGateway
from tests.conftest import SESSION_KEY, spi_response

TEMPLATE = load_template()


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def sam_local_env(stack, monkeypatch):
    """events/env.json, as `sam local invoke --env-vars events/env.json` applies it."""
    overrides = json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))
    http_api = {**overrides["TopSpiFunction"], **overrides["OperatorApiFunction"]}
    for name, value in http_api.items():
        if not value.startswith("<"):  # a placeholder for a deployed stack's resource
            monkeypatch.setenv(name, value)
    runtime.reset()


def _refers_to_a_resource(value: object) -> bool:
    """A template value naming a resource (``!Ref Table``, ``!GetAtt Key.Arn``), not a
    parameter nor a literal: `sam local` cannot resolve it, env.json must give it."""
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"] in TEMPLATE["Resources"]
    return isinstance(value, dict) and "Fn::GetAtt" in value


def test_env_json_gives_each_function_its_resources_and_only_variables_it_has():
    overrides = json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))
    template_functions = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
    assert set(overrides) == set(template_functions)
    outputs = set(TEMPLATE["Outputs"])
    for function, variables in overrides.items():
        declared = template_functions[function]["Properties"]["Environment"]["Variables"]
        # `sam local` applies only the variables the template declares: any other is ignored
        assert set(variables) <= set(declared), (function, set(variables) - set(declared))
        resources = {name for name, value in declared.items() if _refers_to_a_resource(value)}
        assert resources <= set(variables), (function, resources - set(variables))
        for name in resources:
            # a deployed stack's resource, named by the output that gives it (if any)
            placeholder = re.fullmatch(r"<(?:output (\w+)|[^<>]+)>", variables[name])
            assert placeholder, (function, name, variables[name])
            assert placeholder[1] is None or placeholder[1] in outputs, (function, name)


EXPECTED_SPI = {
    "spi_order_json.json": (True, "SUCCESS"),
    "spi_order_form.json": (True, "SUCCESS"),
    "spi_forged_signature.json": (False, "INVALID_SIGNATURE"),
}


# The platform's lifecycle calls: test_lifecycle_spi_events.
LIFECYCLE_SPI = {
    "spi_status_query_form.json",
    "spi_template_new_json.json",
    "spi_receipt_form.json",
}


# E-voucher fulfilment: test_eticket_events.
ETICKET_EVENTS = {
    "stream_notice_send.json",
    "stream_delivery_failsend.json",
    "schedule_stock_deadline.json",
}

# The e-voucher platform's notices and the operator's view of them: test_notice_events.
NOTICE_EVENTS = {
    "eticket_notice_send.json",
    "eticket_notice_forged.json",
    "get_eticket_notices.json",
}


def test_every_event_file_is_exercised():
    assert {path.name for path in Path(EVENTS).glob("*.json")} - {"env.json"} == {
        *EXPECTED_SPI,
        *NOTICE_EVENTS,
        "get_order.json",
        "stream_order_received.json",
        "stream_chunk_created.json",
        "stream_order_generated.json",
        "stream_delivery_pending.json",
        "stream_order_shipped.json",
        "stream_delivery_delivered.json",
        "stream_order_made.json",
        "post_delivery_eticket.json",
        "post_delivery_bind.json",
        "get_delivery.json",
        "get_orders.json",
        "post_order_made.json",
        "post_order_shipment.json",
        *LIFECYCLE_SPI,
        *ETICKET_EVENTS,
    }


@pytest.mark.parametrize("name", sorted(EXPECTED_SPI))
def test_spi_events(sam_local_env, invoke, table_items, name):
    answer = invoke(load(name))
    assert answer["statusCode"] == 200
    response = spi_response(answer)
    assert (response["success"], response["result_code"]) == EXPECTED_SPI[name]
    assert len(table_items()) == (1 if response["success"] else 0)


def test_get_order_event(sam_local_env, invoke):
    assert invoke(load("get_order.json"))["statusCode"] == 404
    invoke(load("spi_order_json.json"))
    answer = invoke(load("get_order.json"))
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["status"] == "RECEIVED"


def test_order_lifecycle_events(sam_local_env, invoke, invoke_generator, table_items):
    # No order yet: an empty list, and nothing to make
    listed = invoke(load("get_orders.json"))
    assert (listed["statusCode"], json.loads(listed["body"])) == (200, {"orders": []})
    assert invoke(load("post_order_made.json"))["statusCode"] == 404
    # The sample order received: listed, but not made before its cards are generated
    invoke(load("spi_order_json.json"))
    (listed,) = json.loads(invoke(load("get_orders.json"))["body"])["orders"]
    assert (listed["making_card_no"], listed["status"]) == ("CM-daily-16002", "RECEIVED")
    before = table_items()
    refused = invoke(load("post_order_made.json"))
    assert (refused["statusCode"], json.loads(refused["body"])["status"]) == (409, "RECEIVED")
    assert invoke(load("post_order_shipment.json"))["statusCode"] == 409
    assert table_items() == before
    # Generated, then made and shipped, each step again answered the same
    invoke_generator(load("stream_order_received.json"))
    invoke_generator(load("stream_chunk_created.json"))
    for name, status in [("post_order_made.json", "MADE"), ("post_order_shipment.json", "SHIPPED")]:
        for _ in range(2):
            answer = invoke(load(name))
            assert (answer["statusCode"], json.loads(answer["body"])) == (202, {"status": status})
    view = json.loads(invoke(load("get_order.json"))["body"])
    assert (
        view["lifecycle"]["made_by"]
        == load("post_order_made.json")["requestContext"]["authorizer"]["iam"]["userArn"]
    )
    assert view["shipment"] == json.loads(load("post_order_shipment.json")["body"])
    (listed,) = json.loads(invoke(load("get_orders.json"))["body"])["orders"]
    assert listed["status"] == "SHIPPED"


def test_event_files_match_their_generator():
    for name, event in {**sample_events(), **stream_events()}.items():
        assert (EVENTS / name).read_text(encoding="utf-8") == render(event), (
            f"events/{name} is stale: run python -m local.events"
        )


def test_stream_events_generate_the_sample_order(
    sam_local_env, invoke, invoke_generator, table_items
):
    # Given the sample order received through the SPI
    invoke(load("spi_order_json.json"))
    # When the generator gets its arrival, then its chunk, from the stream
    assert invoke_generator(load("stream_order_received.json")) == {"batchItemFailures": []}
    chunk_ticket = load("stream_chunk_created.json")["Records"][0]["dynamodb"]["Keys"]
    assert chunk_ticket in [{"pk": item["pk"], "sk": item["sk"]} for item in table_items()]
    assert invoke_generator(load("stream_chunk_created.json")) == {"batchItemFailures": []}
    # Then the order is generated, with the chunk the sample event describes
    view = json.loads(invoke(load("get_order.json"))["body"])
    assert (view["status"], view["cards_generated"], view["chunks_done"]) == ("GENERATED", 500, 1)
    # and a redelivery of the chunk changes nothing
    assert invoke_generator(load("stream_chunk_created.json")) == {"batchItemFailures": []}
    assert json.loads(invoke(load("get_order.json"))["body"])["cards_generated"] == 500


def test_a_failing_record_is_reported_alone(sam_local_env, invoke, invoke_generator):
    invoke(load("spi_order_json.json"))
    good = load("stream_order_received.json")["Records"][0]
    orphan = json.loads(json.dumps(load("stream_chunk_created.json")["Records"][0]))
    orphan["dynamodb"]["NewImage"]["card_order_id"] = {"N": "99999"}  # a chunk of no order
    orphan["dynamodb"]["SequenceNumber"] = "100000009"
    answer = invoke_generator({"Records": [good, orphan]})
    assert answer == {"batchItemFailures": [{"itemIdentifier": "100000009"}]}
    view = json.loads(invoke(load("get_order.json"))["body"])
    assert view["status"] == "GENERATING"  # the good record was processed


def test_records_the_generator_does_not_own_are_ignored(
    sam_local_env, invoke, invoke_generator, table_items
):
    invoke(load("spi_order_json.json"))
    before = table_items()
    record = load("stream_order_received.json")["Records"][0]
    record["eventName"] = "MODIFY"
    record["dynamodb"]["NewImage"]["status"] = {"S": "GENERATING"}  # progress, not a new order
    chunk = load("stream_chunk_created.json")["Records"][0]
    chunk["eventName"] = "MODIFY"  # moto re-emits identical puts as MODIFY: not a new chunk
    assert invoke_generator({"Records": [record, chunk]}) == {"batchItemFailures": []}
    assert table_items() == before


@pytest.fixture
def invoke_delivery(stack, monkeypatch):
    """The delivery function's handler, with the fake TOP gateway over real HTTP."""
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as gateway:
        monkeypatch.setenv("TOP_GATEWAY_URL", gateway.url)
        runtime.reset()
        handler = functions(stack)["CardDeliveryFunction"].load_handler()
        yield (
            lambda event: handler(event, LambdaContext(function_name="CardDeliveryFunction")),
            gateway,
        )


def test_delivery_events(sam_local_env, invoke, invoke_generator, invoke_delivery):
    deliver, gateway = invoke_delivery
    invoke(load("spi_order_json.json"))
    assert invoke(load("get_delivery.json"))["statusCode"] == 404
    for name in ("post_delivery_eticket.json", "post_delivery_bind.json"):
        assert invoke(load(name))["statusCode"] == 202
    assert json.loads(invoke(load("get_delivery.json"))["body"])["status"] == "PENDING"
    # the delivery arrives before its cards exist: it waits
    assert deliver(load("stream_delivery_pending.json")) == {"batchItemFailures": []}
    assert json.loads(invoke(load("get_delivery.json"))["body"])["status"] == "WAITING_STOCK"
    # the order is generated, and its GENERATED wakes the delivery, which then goes out
    invoke_generator(load("stream_order_received.json"))
    invoke_generator(load("stream_chunk_created.json"))
    assert deliver(load("stream_order_generated.json")) == {"batchItemFailures": []}
    assert json.loads(invoke(load("get_delivery.json"))["body"])["status"] == "PENDING"
    assert deliver(load("stream_delivery_pending.json")) == {"batchItemFailures": []}
    view = json.loads(invoke(load("get_delivery.json"))["body"])
    assert (view["status"], len(view["cards"])) == ("DELIVERED", 2)
    assert len(gateway.calls_of("taobao.eticket.merchant.ma.send")) == 1


def test_lifecycle_events(sam_local_env, stack):
    """LifecycleEventsFunction on the stream samples: an event for each status change, none
    for a chunk or a PENDING delivery; the archive rule writes them to its log group."""
    handler = functions(stack)["LifecycleEventsFunction"].load_handler()
    context = LambdaContext(function_name="LifecycleEventsFunction")
    names = [
        "stream_order_received.json",
        "stream_chunk_created.json",
        "stream_order_generated.json",
        "stream_order_shipped.json",
        "stream_delivery_pending.json",
        "stream_delivery_delivered.json",
    ]
    for name in names:
        assert handler(load(name), context) == {"batchItemFailures": []}, name
    logs = boto3.client("logs", region_name="us-east-1")
    found = logs.filter_log_events(
        logGroupName=stack.physical["LifecycleEventsLog"], interleaved=True
    )["events"]
    events = [json.loads(event["message"]) for event in found]
    assert [event["detail-type"] for event in events] == [
        "Order Received",
        "Order Generated",
        "Order Shipped",
        "Delivery Delivered",
    ]
    shipped, delivered = events[2]["detail"], events[3]["detail"]
    assert shipped["waybill"] == SAMPLE_WAYBILL
    assert shipped["event_id"] == "CM-daily-16002:SHIPPED:2026-11-24T15:00:00.000+00:00"
    assert (delivered["type"], delivered["quantity"], delivered["cards"]) == (
        "eticket",
        2,
        {"ISSUED": 2},
    )


@pytest.fixture
def invoke_notifier(stack, monkeypatch):
    """The platform notifier's handler, with the fake TOP gateway over real HTTP."""
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as gateway:
        monkeypatch.setenv("TOP_GATEWAY_URL", gateway.url)
        runtime.reset()
        handler = functions(stack)["PlatformNotifierFunction"].load_handler()
        yield (
            lambda event: handler(event, LambdaContext(function_name="PlatformNotifierFunction")),
            gateway,
        )


def test_made_and_shipped_events_notify_the_platform_once_each(
    sam_local_env, stack, invoke, invoke_generator, invoke_notifier
):
    notify, gateway = invoke_notifier
    invoke(load("spi_order_json.json"))
    invoke_generator(load("stream_order_received.json"))
    invoke_generator(load("stream_chunk_created.json"))
    # the operator made the order: the MADE record tells the platform, once
    lifecycle = DynamoDBLifecycleRepository(stack.physical["OrdersTable"])
    sample = OrderKey("daily", 16002)
    lifecycle.mark_made(sample, "arn:aws:iam::123456789012:user/operator", utc_now())
    for _ in range(2):  # a duplicate record sends nothing
        assert notify(load("stream_order_made.json")) == {"batchItemFailures": []}
    (made,) = gateway.calls
    assert (made.method, made.params["card_order_id"]) == (
        "alibaba.fundplatform.cardorders.status.make.finish",
        "16002",
    )
    # shipped with the sample's waybill: the SHIPPED record sends it, once
    lifecycle.ship(sample, Waybill(**SAMPLE_WAYBILL), utc_now())
    for _ in range(2):
        assert notify(load("stream_order_shipped.json")) == {"batchItemFailures": []}
    (shipped,) = gateway.calls_of("alibaba.fundplatform.cardorders.status.sended")
    assert {name: shipped.params[name] for name in SAMPLE_WAYBILL} == SAMPLE_WAYBILL
    view = json.loads(invoke(load("get_order.json"))["body"])
    assert view["status"] == "SHIPPED"
    assert {name: n["state"] for name, n in view["notifications"].items()} == {
        "make_finish": "SENT",
        "status_sended": "SENT",
    }


def test_lifecycle_spi_events(sam_local_env, invoke, table_items, dynamodb, orders_table):
    def answer(name: str) -> dict:
        raw = invoke(load(name))
        assert raw["statusCode"] == 200
        return spi_response(raw)

    # The template announced: registered, and the same event again is a replay
    first = answer("spi_template_new_json.json")
    assert (first["success"], first["result_code"]) == (True, "SUCCESS")
    assert answer("spi_template_new_json.json") == first
    assert sorted(item["sk"]["S"] for item in table_items()) == ["CURRENT", "VERSION#000001"]
    # Before the order: status REQUEST_NOT_EXIST, receipt ORDER_NOT_FOUND
    assert answer("spi_status_query_form.json")["status"] == "REQUEST_NOT_EXIST"
    assert answer("spi_receipt_form.json")["result_code"] == "ORDER_NOT_FOUND"
    # The order received: REQUEST_RECEIVED, receipt refused (its cards are not made)
    invoke(load("spi_order_json.json"))
    assert answer("spi_status_query_form.json")["status"] == "REQUEST_RECEIVED"
    before = table_items()
    assert answer("spi_receipt_form.json")["result_code"] == "INVALID_ORDER_STATUS"
    assert table_items() == before
    # Made and shipped: the receipt is confirmed, and the status stays DELIVERED
    key = OrderKey("daily", 16002)
    generation = DynamoDBGenerationRepository(orders_table, dynamodb)
    stored = DynamoDBOrderRepository(orders_table, dynamodb).get(key)
    assert stored is not None
    assert generation.start(stored.order, 0, 5000, 0)
    assert generation.finish(key)
    lifecycle = DynamoDBLifecycleRepository(orders_table, dynamodb)
    lifecycle.mark_made(key, "operator", utc_now())
    lifecycle.ship(key, Waybill("顺丰速运", "SF1234567890"), utc_now())
    assert answer("spi_receipt_form.json")["result_code"] == "SUCCESS"
    status = answer("spi_status_query_form.json")
    assert (status["status"], status["logistics_order_id"]) == ("DELIVERED", "SF1234567890")
    view = json.loads(invoke(load("get_order.json"))["body"])
    assert view["status"] == "CONFIRMED"
    assert view["templates"][0]["registered"] is True


def test_eticket_events(sam_local_env, stack, dynamodb, invoke_delivery):
    """The fulfilment function makes the sample send's delivery; the delivery function sends
    the ma.failsend of one given up on stock; the deadline's schedule finds nothing due."""
    deliver, gateway = invoke_delivery
    specs = functions(stack)
    # Given the sample notice recorded, its INSERT makes its delivery (PENDING, unmapped)
    notice = load("stream_notice_send.json")
    item = notice["Records"][0]["dynamodb"]["NewImage"]
    dynamodb.put_item(TableName=stack.physical["EticketTable"], Item=item)
    fulfil = specs["EticketFulfilmentFunction"].load_handler()
    context = LambdaContext(function_name="EticketFulfilmentFunction")
    assert fulfil(notice, context) == {"batchItemFailures": []}
    notices = runtime.fulfilment_notices().notices(item["order_id"]["S"])
    assert [record.outcome.value for record in notices] == ["DELIVERY_CREATED"]
    deliveries = DynamoDBDeliveryRepository(stack.physical["DeliveriesTable"])
    delivery = deliveries.get(notices[0].delivery_id)
    assert delivery is not None
    assert delivery.status.value == "PENDING"
    # Given a notice delivery given up on stock, its failsend goes out once
    failsend = load("stream_delivery_failsend.json")
    failed = failsend["Records"][0]["dynamodb"]["NewImage"]
    dynamodb.put_item(TableName=stack.physical["DeliveriesTable"], Item=failed)
    assert deliver(failsend) == {"batchItemFailures": []}
    (call,) = gateway.calls_of("taobao.eticket.merchant.ma.failsend")
    assert call.params["sub_err_code"] == "isv.fail-send-no-stock"
    assert deliver(failsend) == {"batchItemFailures": []}  # a replay: already SENT
    assert len(gateway.calls_of("taobao.eticket.merchant.ma.failsend")) == 1
    # The schedule: nothing is waiting past its deadline
    deadline = specs["StockDeadlineFunction"].load_handler()
    schedule = load("schedule_stock_deadline.json")
    assert deadline(schedule, LambdaContext(function_name="StockDeadlineFunction")) == {
        "given_up": 0
    }


def test_notice_events(stack, invoke, dynamodb, monkeypatch):
    # Given `sam local invoke --env-vars events/env.json` (the dated events' wide window)
    overrides = json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))
    for name, value in overrides["EticketNoticeFunction"].items():
        if not value.startswith("<"):
            monkeypatch.setenv(name, value)
    runtime.reset()

    def notices() -> list[dict]:
        table = stack.physical["EticketTable"]
        return dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]

    # A forged notice is refused with nothing written
    forged = invoke(load("eticket_notice_forged.json"))
    assert (forged["statusCode"], json.loads(forged["body"])) == (200, {"code": 501})
    assert notices() == []
    # the platform's send is recorded, once however often it comes
    for _ in range(2):
        sent = invoke(load("eticket_notice_send.json"))
        assert (sent["statusCode"], json.loads(sent["body"])) == (200, {"code": 200})
    assert [item["sk"]["S"] for item in notices()] == ["SEND"]
    # and the operator reads it back
    shown = invoke(load("get_eticket_notices.json"))
    assert shown["statusCode"] == 200
    assert [n["method"] for n in json.loads(shown["body"])["notices"]] == ["send"]
