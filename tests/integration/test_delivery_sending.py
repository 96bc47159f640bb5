"""Carrying out deliveries: moto behind, the fake TOP gateway over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json

import boto3
import pytest

from cardmaker import (
    DeliveryAttempt,
    DeliveryStatus,
    KmsDataKeys,
    OrderKey,
    Sealer,
    TopError,
    TopOutcomeUnknown,
    runtime,
)
from cardmaker.store import card_schema, from_item
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from local.apigw import LambdaContext
from local.platform import sample_delivery, sign_demo_call
from local.template import functions
from local.top_gateway import FakeTopGateway, Fault
from tests.conftest import (
    SESSION_KEY,
    delivery_get_event,
    delivery_post_event,
    spi_event,
    stream_records,
)
from tests.metrics import emitted_metrics

MA_SEND = "taobao.eticket.merchant.ma.send"
CARD_BIND = "tmall.purchase.card.bind"
ETICKET = sample_delivery("eticket", template_no="T1")
BIND = sample_delivery("bind", template_no="T1")
ORDER = OrderKey("daily", 16002)


@pytest.fixture
def gateway(stack, monkeypatch):
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as fake:
        monkeypatch.setenv("TOP_GATEWAY_URL", fake.url)
        monkeypatch.setenv("TOP_READ_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("CHUNK_SIZE", "4")
        monkeypatch.setenv("STREAM_MAX_RETRIES", "2")
        runtime.reset()
        yield fake


def receive(invoke, count=10):
    invoke(spi_event(sign_demo_call(sample_order(16002, templates=[("T1", count, "100")]))))


def generate():
    generator = runtime.card_generator()
    for chunk in generator.plan(ORDER).chunks:
        generator.generate(chunk)


def deliver(delivery_id):
    return runtime.delivery_sender().deliver(delivery_id)


def create(invoke, body):
    answer = invoke(delivery_post_event(body))
    assert answer["statusCode"] == 202, answer
    return json.loads(answer["body"])["delivery_id"]


def view(invoke, delivery_id):
    return json.loads(invoke(delivery_get_event(delivery_id))["body"])


def card_secrets(stack):
    """Every card's number -> secret, opened as a delivery would (to check what was sent)."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    items = [
        from_item(item) for item in dynamodb.scan(TableName=stack.physical["CardsTable"])["Items"]
    ]
    keys = KmsDataKeys(
        boto3.client("kms", region_name="us-east-1"),
        functions(stack)["CardGeneratorFunction"].environment["CARD_KEY_ID"],
    )
    wrapped = {
        item["pk"].rsplit("#", 1)[1]: item["wrapped_key"]
        for item in items
        if item["pk"].startswith("CHUNKKEY#")
    }
    sealers = {
        chunk: Sealer(keys.unwrap(key, {"card_order": "daily:16002", "chunk": chunk}).plaintext)
        for chunk, key in wrapped.items()
    }
    return {
        item["card_no"]: sealers[item["chunk_id"]].open(item["card_no"], item["secret"])
        for item in items
        if "card_no" in item
    }


@pytest.mark.parametrize("simplify", ["false", "true"])
def test_eticket_delivery_sends_numbers_and_secrets(stack, invoke, gateway, monkeypatch, simplify):
    monkeypatch.setenv("TOP_SIMPLIFY", simplify)
    runtime.reset()
    receive(invoke)
    generate()
    delivery_id = create(invoke, ETICKET)
    assert deliver(delivery_id) == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)

    (call,) = gateway.calls_of(MA_SEND)
    assert call.sign_valid
    assert call.params.get("simplify", "false") == simplify
    assert ("eticket_merchant_ma_send_response" in call.answer) == (simplify == "false")
    assert call.params["session"] == SESSION_KEY
    assert (call.params["outer_id"], call.params["token"]) == ("1753340805138544", "31231231231")
    sent = call.structs["isv_ka_list"]
    secrets = card_secrets(stack)
    assert [entry["num"] for entry in sent] == [1, 1]
    assert all(secrets[entry["ka_no"]] == entry["ka_mi"] for entry in sent)
    shown = view(invoke, delivery_id)
    assert shown["status"] == "DELIVERED"
    assert [card["outcome"] for card in shown["cards"]] == ["ISSUED", "ISSUED"]
    assert [card["card_no"] for card in shown["cards"]] == [entry["ka_no"] for entry in sent]
    assert not any(secret in json.dumps(shown) for secret in secrets.values())


def test_codes_and_single_object_shapes(stack, invoke, gateway, monkeypatch):
    receive(invoke)
    generate()
    codes = create(invoke, {**ETICKET, "certificate_type": 0, "outer_id": "A1"})
    runtime.delivery_sender().deliver(codes)
    (call,) = gateway.calls_of(MA_SEND)
    secrets = set(card_secrets(stack).values())
    assert {entry["code"] for entry in call.structs["isv_ma_list"]} <= secrets
    assert "isv_ka_list" not in call.params

    monkeypatch.setenv("ETICKET_KA_LIST_SHAPE", "object")
    runtime.reset()
    single = create(invoke, {**ETICKET, "quantity": 1, "outer_id": "A2"})
    assert deliver(single) == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)
    assert isinstance(gateway.calls_of(MA_SEND)[-1].structs["isv_ka_list"], dict)


def numbers_at(stack, positions):
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    table = stack.physical["CardsTable"]
    return [
        from_item(
            dynamodb.get_item(TableName=table, Key=card_schema.card_key(ORDER, "T1", p))["Item"]
        )["card_no"]
        for p in positions
    ]


def test_bind_delivery_binds_its_cards(stack, invoke, gateway):
    receive(invoke)
    generate()
    delivery_id = create(invoke, BIND)
    assert deliver(delivery_id) == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)
    (call,) = gateway.calls_of(CARD_BIND)
    assert call.sign_valid
    request = call.structs["card_bind_req_dto"]
    assert request["top_app_key"] == DEMO_APP_KEY
    assert request["out_biz_id"] == BIND["out_biz_id"]
    assert request["card_bind_user_nick"] == "tracey_05"
    assert request["card_no_s"].split(",") == numbers_at(stack, range(3))
    assert [card["outcome"] for card in view(invoke, delivery_id)["cards"]] == ["BOUND"] * 3


def test_a_large_bind_is_one_call_under_its_out_biz_id(stack, invoke, gateway):
    # Given a bind delivery of 250 cards (out_biz_id names one purchase)
    receive(invoke, count=250)
    generate()
    delivery_id = create(invoke, {**BIND, "quantity": 250})

    # When it is delivered
    assert deliver(delivery_id) == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)

    # Then the platform gets one call with every card, never two calls under one out_biz_id
    (call,) = gateway.calls_of(CARD_BIND)
    assert call.structs["card_bind_req_dto"]["card_no_s"].split(",") == numbers_at(
        stack, range(250)
    )


def test_partial_bind_records_each_card(stack, invoke, gateway):
    receive(invoke)
    generate()
    first, second, third = numbers_at(stack, range(3))
    gateway.fail_next(Fault.bind_result(invalid=[first], bind_fail=[second]), method=CARD_BIND)
    delivery_id = create(invoke, BIND)
    assert deliver(delivery_id) == DeliveryAttempt(DeliveryStatus.PARTIAL, acted=True)
    outcomes = {card["card_no"]: card["outcome"] for card in view(invoke, delivery_id)["cards"]}
    assert outcomes == {first: "INVALID", second: "BIND_FAILED", third: "BOUND"}


def test_platform_refusals_are_recorded_not_retried(invoke, gateway):
    receive(invoke)
    generate()
    gateway.fail_next(Fault.ma_ret("isv.fail-some", "refused"), method=MA_SEND)
    refused = create(invoke, ETICKET)
    assert deliver(refused) == DeliveryAttempt(DeliveryStatus.FAILED, acted=True)
    assert {card["code"] for card in view(invoke, refused)["cards"]} == {"isv.fail-some"}

    gateway.fail_next(Fault.error(15, "isv.invalid-parameter", "bad"), method=MA_SEND)
    invalid = create(invoke, {**ETICKET, "outer_id": "X2"})
    assert deliver(invalid) == DeliveryAttempt(DeliveryStatus.FAILED, acted=True)
    assert len(gateway.calls_of(MA_SEND)) == 2  # one call each: isv.* is never retried
    assert {card["code"] for card in view(invoke, invalid)["cards"]} == {"isv.invalid-parameter"}


def test_unknown_outcome_resends_the_same_cards_with_the_same_ids(invoke, gateway):
    receive(invoke)
    generate()
    gateway.fail_next(Fault.delay(1.5), method=MA_SEND)  # answers after the 0.5 s read timeout
    delivery_id = create(invoke, ETICKET)
    with pytest.raises(TopOutcomeUnknown):
        runtime.delivery_sender().deliver(delivery_id)
    assert view(invoke, delivery_id)["status"] == "SENDING"
    # the stream's retry
    assert deliver(delivery_id) == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)
    first, again = gateway.calls_of(MA_SEND)
    assert first.structs["isv_ka_list"] == again.structs["isv_ka_list"]
    assert (first.params["outer_id"], first.params["token"]) == (
        again.params["outer_id"],
        again.params["token"],
    )


def test_the_last_attempt_fails_the_delivery_and_keeps_its_cards(stack, invoke, gateway):
    receive(invoke)
    generate()
    gateway.fail_always(Fault.error(10, "isp.service-unavailable", "down"), method=MA_SEND)
    delivery_id = create(invoke, ETICKET)
    for _ in range(2):  # STREAM_MAX_RETRIES = 2: three attempts in all
        with pytest.raises(TopError, match=r"isp\.service-unavailable"):  # re-raised for the stream
            runtime.delivery_sender().deliver(delivery_id)
        assert view(invoke, delivery_id)["status"] == "SENDING"
    with pytest.raises(TopError, match=r"isp\.service-unavailable"):
        runtime.delivery_sender().deliver(delivery_id)
    shown = view(invoke, delivery_id)
    assert shown["status"] == "FAILED"
    assert "gave up after 3 attempts" in shown["failure_reason"]
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    cursor, claim = (
        dynamodb.get_item(TableName=stack.physical["CardsTable"], Key=key)["Item"]
        for key in (
            card_schema.cursor_key(ORDER, "T1"),
            card_schema.claim_key(ORDER, "T1", delivery_id),
        )
    )
    assert card_schema.claimed_range(claim) == range(0, 2)  # its cards stay with it
    assert from_item(cursor)["allocated"] == 2


def test_a_delivery_waits_for_its_order_then_goes(invoke, gateway):
    receive(invoke)
    delivery_id = create(invoke, ETICKET)
    assert deliver(delivery_id) == DeliveryAttempt(DeliveryStatus.WAITING_STOCK, acted=True)
    assert gateway.calls == []
    generate()
    assert runtime.delivery_sender().wake_waiting(ORDER) == [delivery_id]
    assert view(invoke, delivery_id)["status"] == "PENDING"
    assert deliver(delivery_id) == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)


def test_racing_deliveries_never_share_a_card(invoke, gateway):
    receive(invoke, count=5)
    generate()
    first = create(invoke, {**ETICKET, "quantity": 3, "outer_id": "R1"})
    second = create(invoke, {**ETICKET, "quantity": 3, "outer_id": "R2"})
    third = create(invoke, {**ETICKET, "quantity": 2, "outer_id": "R3"})
    statuses = [deliver(d).status for d in (first, second, third)]
    assert statuses == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.WAITING_STOCK,
        DeliveryStatus.DELIVERED,
    ]
    sent = [
        entry["ka_no"]
        for call in gateway.calls_of(MA_SEND)
        for entry in call.structs["isv_ka_list"]
    ]
    assert len(sent) == len(set(sent)) == 5


def test_the_handler_runs_deliveries_from_the_streams(stack, invoke, gateway, dynamodb, capsys):
    # Given a delivery created before its order is generated
    receive(invoke)
    delivery_id = create(invoke, ETICKET)
    handler = functions(stack)["CardDeliveryFunction"].load_handler()

    def run(table):
        records = stream_records(dynamodb, stack.physical[table])
        for record in records:
            answer = handler(
                {"Records": [record]}, LambdaContext(function_name="CardDeliveryFunction")
            )
            assert answer == {"batchItemFailures": []}

    run("DeliveriesTable")  # INSERT PENDING -> waits
    assert view(invoke, delivery_id)["status"] == "WAITING_STOCK"
    generate()
    run("OrdersTable")  # ... GENERATED -> wakes it
    run("DeliveriesTable")  # PENDING again -> delivered (earlier records are ignored now)
    assert view(invoke, delivery_id)["status"] == "DELIVERED"
    assert len(gateway.calls_of(MA_SEND)) == 1
    # and each move was counted once, although the PENDING records were read again
    counted = emitted_metrics(capsys.readouterr().out)
    assert {name: n for name, n in counted.items() if name.startswith("Delivery")} == {
        "DeliveryWaitingStock": 1,
        "DeliveryDelivered": 1,
    }


def test_a_replayed_record_counts_its_delivery_once(stack, invoke, gateway, dynamodb, capsys):
    # Given a delivery of a generated order, and its stream record
    receive(invoke)
    generate()
    delivery_id = create(invoke, ETICKET)
    (record,) = stream_records(dynamodb, stack.physical["DeliveriesTable"])
    handler = functions(stack)["CardDeliveryFunction"].load_handler()
    context = LambdaContext(function_name="CardDeliveryFunction")
    capsys.readouterr()

    # When the record is delivered, and then again (a replay, a redrive)
    for _ in range(2):
        assert handler({"Records": [record]}, context) == {"batchItemFailures": []}

    # Then the delivery was sent once, and counted once
    assert view(invoke, delivery_id)["status"] == "DELIVERED"
    assert len(gateway.calls_of(MA_SEND)) == 1
    assert emitted_metrics(capsys.readouterr().out)["DeliveryDelivered"] == 1
