"""Carrying out deliveries: moto behind, the fake TOP gateway over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging

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


# --- credentials: rotation, a maker without a session ---------------------------------------

NEW_SECRET = "rotated-app-secret-2027"
NEW_SESSION = "renewed-session-key-5a1f"


def put_top_secret(stack, **values):
    """``put-secret-value`` on the TOP secret, as an operator rotating it would."""
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=stack.physical["TopSecret"], SecretString=json.dumps(values)
    )


def answered_codes(calls):
    """Each call's error code, or "ok"."""
    return [
        call.answer["error_response"]["code"] if "error_response" in call.answer else "ok"
        for call in calls
    ]


def test_a_rotated_app_secret_is_fetched_again_when_the_gateway_refuses_the_old_one(
    stack, invoke, gateway
):
    # Given a delivery function that has signed with the TOP secret (cached for 5 minutes)
    receive(invoke)
    generate()
    assert deliver(create(invoke, BIND)).status is DeliveryStatus.DELIVERED

    # When the secret is rotated, and the platform takes only the new one
    put_top_secret(stack, app_secret=NEW_SECRET, session_key=SESSION_KEY)
    gateway.rotate(app_secret=NEW_SECRET)
    second = create(invoke, {**BIND, "quantity": 2, "out_biz_id": "B2"})

    # Then the next delivery is refused once (code 25), reads the secret again and goes
    assert deliver(second) == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)
    calls = gateway.calls_of(CARD_BIND)
    assert answered_codes(calls) == ["ok", 25, "ok"]
    assert calls[-1].sign_valid
    assert [card["outcome"] for card in view(invoke, second)["cards"]] == ["BOUND"] * 2
    # and the one after it is signed with the new secret at once
    third = create(invoke, {**BIND, "quantity": 1, "out_biz_id": "B3"})
    assert deliver(third).status is DeliveryStatus.DELIVERED
    assert answered_codes(gateway.calls_of(CARD_BIND)) == ["ok", 25, "ok", "ok"]


def test_a_rotated_secret_is_used_once_its_cached_copy_is_too_old(
    stack, invoke, gateway, monkeypatch
):
    # Given a delivery function whose cached TOP secret expires at once
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")
    runtime.reset()
    receive(invoke)
    generate()
    assert deliver(create(invoke, BIND)).status is DeliveryStatus.DELIVERED

    # When the secret is rotated
    put_top_secret(stack, app_secret=NEW_SECRET, session_key=SESSION_KEY)
    gateway.rotate(app_secret=NEW_SECRET)

    # Then the next delivery is signed with the new one: no refused call
    second = create(invoke, {**BIND, "quantity": 2, "out_biz_id": "B2"})
    assert deliver(second) == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)
    assert answered_codes(gateway.calls_of(CARD_BIND)) == ["ok", "ok"]


def test_a_renewed_session_is_fetched_again_when_the_gateway_refuses_the_old_one(
    stack, invoke, gateway
):
    # Given an e-voucher delivered with the session key (cached for 5 minutes)
    receive(invoke)
    generate()
    assert deliver(create(invoke, {**ETICKET, "quantity": 1})).status is DeliveryStatus.DELIVERED

    # When the session expires and the operator puts the renewed one into the secret
    gateway.rotate(session_key=NEW_SESSION)
    put_top_secret(stack, app_secret=DEMO_SECRET, session_key=NEW_SESSION)

    # Then the next one is refused once (code 27), reads the secret again and goes
    second = create(invoke, {**ETICKET, "quantity": 1, "outer_id": "S2"})
    assert deliver(second) == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)
    calls = gateway.calls_of(MA_SEND)
    assert answered_codes(calls) == ["ok", 27, "ok"]
    assert calls[-1].params["session"] == NEW_SESSION


def test_a_refused_sign_with_nothing_rotated_is_recorded_after_one_call(stack, invoke, gateway):
    # Given a platform that takes another secret than the one in the TOP secret
    receive(invoke)
    generate()
    gateway.rotate(app_secret="a-secret-nobody-put-into-the-secret")

    # When a delivery goes: the secret is read again, finds nothing new
    delivery_id = create(invoke, BIND)

    # Then the refusal is recorded, after one call (no second call signed the same way)
    assert deliver(delivery_id) == DeliveryAttempt(DeliveryStatus.FAILED, acted=True)
    assert answered_codes(gateway.calls_of(CARD_BIND)) == [25]
    assert {card["code"] for card in view(invoke, delivery_id)["cards"]} == {
        "isv.invalid-signature"
    }


def claims(stack):
    """The template's claims: claim id -> first position."""
    items = boto3.client("dynamodb", region_name="us-east-1").query(
        TableName=stack.physical["CardsTable"],
        KeyConditionExpression="pk = :claims",
        ExpressionAttributeValues={":claims": {"S": card_schema.claims_partition(ORDER, "T1")}},
        ConsistentRead=True,
    )["Items"]
    return {claim["sk"]: claim["first"] for claim in map(from_item, items)}


def test_a_maker_without_a_session_key_binds_and_refuses_e_vouchers(stack, invoke, gateway):
    # Given a TOP secret with no session_key (a maker that only binds cards)
    put_top_secret(stack, app_secret=DEMO_SECRET)
    receive(invoke)
    generate()

    # When a bind and an e-voucher delivery go
    bind_id = create(invoke, BIND)
    eticket_id = create(invoke, ETICKET)
    bound = deliver(bind_id)
    refused = deliver(eticket_id)

    # Then the bind is delivered
    assert bound == DeliveryAttempt(DeliveryStatus.DELIVERED, acted=True)
    # and the e-voucher fails at once with a clear reason: no call, no card taken
    assert refused == DeliveryAttempt(DeliveryStatus.FAILED, acted=True)
    shown = view(invoke, eticket_id)
    assert shown["status"] == "FAILED"
    assert "session_key" in shown["failure_reason"]
    assert gateway.calls_of(MA_SEND) == []
    assert list(claims(stack)) == [bind_id]
    # and a replay of its record changes nothing
    assert deliver(eticket_id) == DeliveryAttempt(DeliveryStatus.FAILED, acted=False)


def test_a_session_key_put_into_the_secret_is_found_at_the_next_e_voucher(stack, invoke, gateway):
    # Given a maker that began without a session key (its secret cached)
    put_top_secret(stack, app_secret=DEMO_SECRET)
    receive(invoke)
    generate()
    assert deliver(create(invoke, BIND)).status is DeliveryStatus.DELIVERED

    # When the operator adds one
    put_top_secret(stack, app_secret=DEMO_SECRET, session_key=SESSION_KEY)

    # Then the next e-voucher finds it (read afresh rather than refused from the cache)
    assert deliver(create(invoke, ETICKET)).status is DeliveryStatus.DELIVERED
    assert gateway.calls_of(MA_SEND)[0].params["session"] == SESSION_KEY


# --- environments: test orders never through a production gateway ---------------------------

PRODUCTION = "https://eco.taobao.com/router/rest"


def deliveries_in_table(stack):
    table = stack.physical["DeliveriesTable"]
    return boto3.client("dynamodb", region_name="us-east-1").scan(TableName=table)["Items"]


@pytest.mark.parametrize("body", [BIND, ETICKET], ids=["bind", "eticket"])
def test_post_deliveries_refuses_a_test_order_when_the_gateway_is_production(
    stack, invoke, gateway, monkeypatch, body
):
    # Given a deployment whose TOP gateway is production, and a daily (test) order
    receive(invoke)
    generate()
    monkeypatch.setenv("TOP_GATEWAY_URL", PRODUCTION)
    runtime.reset()

    # When an operator asks for a delivery of it
    answer = invoke(delivery_post_event(body))

    # Then it is refused, naming own_sign, and nothing is recorded
    assert answer["statusCode"] == 422, answer
    problem = json.loads(answer["body"])
    assert problem["detail"][0]["loc"][-1] == "own_sign"
    assert "production" in problem["detail"][0]["msg"]
    assert deliveries_in_table(stack) == []


def test_the_delivery_function_refuses_a_test_order_when_the_gateway_is_production(
    stack, invoke, gateway, monkeypatch
):
    # Given a daily order's delivery, recorded while the gateway was a test one
    receive(invoke)
    generate()
    delivery_id = create(invoke, BIND)

    # When the delivery function's gateway is production
    monkeypatch.setenv("TOP_GATEWAY_URL", PRODUCTION)
    runtime.reset()

    # Then the delivery fails with the reason, before any card is claimed or sent
    assert deliver(delivery_id) == DeliveryAttempt(DeliveryStatus.FAILED, acted=True)
    shown = view(invoke, delivery_id)
    assert "production TOP gateway" in shown["failure_reason"]
    assert claims(stack) == {}
    assert gateway.calls == []


# The platform's refusals, each quoting the call in its messages as a gateway may: the card
# secrets (isv_ka_list) or the e-voucher token. (fault, the card code recorded)
ECHOING_REFUSALS = {
    "error whose sub_msg quotes the cards": (
        Fault.error(15, "isv.invalid-parameter", sub_msg="参数错误", echo="isv_ka_list"),
        "isv.invalid-parameter",
    ),
    "error whose msg quotes the cards": (
        Fault.error(15, msg="Invalid arguments", echo="isv_ka_list"),
        "15",
    ),
    "error quoting the token": (
        Fault.error(15, "isv.invalid-parameter:token", sub_msg="bad token", echo="token"),
        "isv.invalid-parameter:token",
    ),
    "business result quoting the cards": (
        Fault.ma_ret("isv.fail-some", "部分失败", echo="isv_ka_list"),
        "isv.fail-some",
    ),
}
SECRET_TOKEN = "tok-c0ffee-5ecret"


def run_delivery_records(stack, dynamodb, attempts=1):
    """The delivery function's handler on the deliveries stream, as Lambda runs it (a failed
    record comes back, up to ``attempts`` times)."""
    handler = functions(stack)["CardDeliveryFunction"].load_handler()
    (record,) = stream_records(dynamodb, stack.physical["DeliveriesTable"])
    for _ in range(attempts):
        try:
            handler({"Records": [record]}, LambdaContext(function_name="CardDeliveryFunction"))
        except Exception:  # the whole batch failed: Lambda logs it and retries the record
            logging.getLogger("lambda-runtime").exception("batch failed")


@pytest.mark.parametrize(("fault", "code"), ECHOING_REFUSALS.values(), ids=ECHOING_REFUSALS.keys())
def test_a_refusal_quoting_the_call_is_recorded_by_its_codes_only(
    stack, invoke, gateway, dynamodb, captured_logs, capsys, caplog, recorded_traces, fault, code
):
    # Given a platform that refuses ma.send with messages quoting the request
    receive(invoke)
    generate()
    gateway.fail_next(fault, method=MA_SEND)
    delivery_id = create(invoke, {**ETICKET, "token": SECRET_TOKEN})
    # When the delivery function carries the delivery out
    run_delivery_records(stack, dynamodb)
    (call,) = gateway.calls_of(MA_SEND)
    withheld = [entry["ka_mi"] for entry in call.structs["isv_ka_list"]] + [SECRET_TOKEN]
    assert any(value in json.dumps(call.answer, ensure_ascii=False) for value in withheld)
    # Then the delivery records the platform's codes, and its own words for them
    shown = view(invoke, delivery_id)
    assert shown["status"] == "FAILED"
    assert {card["code"] for card in shown["cards"]} == {code}
    assert all(card["message"].startswith("the platform ") for card in shown["cards"])
    # ... and nothing the platform quoted is in the table, the answer, a log line or a trace
    stored = dynamodb.scan(TableName=stack.physical["DeliveriesTable"])["Items"]
    printed = capsys.readouterr()
    everything = "\n".join(
        [
            json.dumps(stored, ensure_ascii=False),
            json.dumps(shown, ensure_ascii=False),
            captured_logs.getvalue(),
            caplog.text,
            printed.out,
            printed.err,
            recorded_traces.everything,
        ]
    )
    for value in withheld[:-1]:  # the token is stored, in the request, for the function
        assert value not in everything
    assert SECRET_TOKEN not in everything.replace(json.dumps(stored, ensure_ascii=False), "")


def test_a_retried_error_quoting_the_call_fails_the_delivery_by_its_codes_only(
    stack, invoke, gateway, dynamodb, captured_logs, capsys, caplog, recorded_traces
):
    # Given a platform that keeps answering isp.* (retried) with messages quoting the cards
    receive(invoke)
    generate()
    gateway.fail_always(
        Fault.error(15, "isp.top-remote-error", sub_msg="下游异常", echo="isv_ka_list"),
        method=MA_SEND,
    )
    delivery_id = create(invoke, {**ETICKET, "token": SECRET_TOKEN})
    # When the stream gives the record every attempt (STREAM_MAX_RETRIES 2: three)
    run_delivery_records(stack, dynamodb, attempts=3)
    # Then the delivery gave up with the codes only, and no quoted secret went anywhere
    shown = view(invoke, delivery_id)
    assert shown["status"] == "FAILED"
    assert shown["failure_reason"] == "gave up after 3 attempts: TOP 15 isp.top-remote-error"
    secrets = {
        entry["ka_mi"]
        for call in gateway.calls_of(MA_SEND)
        for entry in call.structs["isv_ka_list"]
    }
    stored = dynamodb.scan(TableName=stack.physical["DeliveriesTable"])["Items"]
    printed = capsys.readouterr()
    everything = "\n".join(
        [
            json.dumps(stored, ensure_ascii=False),
            json.dumps(shown, ensure_ascii=False),
            captured_logs.getvalue(),
            caplog.text,
            printed.out,
            printed.err,
            recorded_traces.everything,
        ]
    )
    assert "isp.top-remote-error" in everything  # the codes are there to be seen
    for secret in secrets:
        assert secret not in everything
