"""The platform's notices after ``send`` (resend, cancel, modified, order_modify) against a
notice delivery built as the fulfilment builds it: moto behind, generated cards, the fake TOP
gateway over real HTTP on 127.0.0.1, the aftercare service as ``runtime`` wires it, and the
operator API's handler for what ``GET /deliveries/{id}`` shows."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest

from cardmaker import (
    PRINT_CLAIM,
    AftercareDeferred,
    CardOutcome,
    CardResult,
    CardVoided,
    Delivery,
    DeliveryAttempt,
    DeliveryExists,
    DeliveryStatus,
    DynamoDBCardRepository,
    DynamoDBDeliveryRepository,
    DynamoDBOrderRepository,
    EticketNotice,
    KmsDataKeys,
    NoticeDeliveryRequest,
    NoticeOutcome,
    OrderKey,
    PrintRuns,
    Requester,
    SecretOpener,
    TopError,
    lifecycle_change,
    notice_delivery_id,
    request_fingerprint,
    runtime,
)
from cardmaker.store import card_schema, delivery_schema, from_item, to_item
from cardmaker.top import FixedCredentials, MaSendRequest, TopClient
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from local.platform import sample_delivery, sign_demo_call
from local.top_gateway import FakeTopGateway, Fault
from tests.conftest import (
    SESSION_KEY,
    delivery_get_event,
    delivery_post_event,
    spi_event,
    stream_records,
)

MA_SEND = "taobao.eticket.merchant.ma.send"
MA_RESEND = "taobao.eticket.merchant.ma.resend"
NO_CAN_RESEND = "isv.eticket-resend-error:no-can-resend-code"
ORDER = OrderKey("daily", 16002)
TAOBAO_ORDER = "4012345678901234"
TOKEN = "notice-token-7f3a91"
REGION = "us-east-1"


@pytest.fixture
def gateway(stack, monkeypatch):
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as fake:
        monkeypatch.setenv("TOP_GATEWAY_URL", fake.url)
        monkeypatch.setenv("TOP_READ_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("CHUNK_SIZE", "4")
        runtime.reset()
        yield fake


@pytest.fixture
def generated(stack, invoke, gateway):
    """Order 16002 (daily) GENERATED with 10 cards of template T1."""
    invoke(spi_event(sign_demo_call(sample_order(16002, templates=[("T1", 10, "100")]))))
    generator = runtime.card_generator()
    for chunk in generator.plan(ORDER).chunks:
        generator.generate(chunk)
    return stack


def dynamodb():
    return boto3.client("dynamodb", region_name=REGION)


def cards_repository(stack) -> DynamoDBCardRepository:
    return DynamoDBCardRepository(stack.physical["CardsTable"], dynamodb())


def opener(stack) -> SecretOpener:
    cards = cards_repository(stack)
    kms = KmsDataKeys(boto3.client("kms", region_name=REGION), stack.physical["CardDataKey"])
    return SecretOpener(cards, kms)


def notice(method: str, timestamp: str = "2026-11-30 10:00:00", **parameters: str):
    """A verified notice as notice-in records it (sign and personal fields dropped)."""
    received = {
        "method": method,
        "order_id": TAOBAO_ORDER,
        "token": TOKEN,
        "num": "2",
        "sub_outer_iid": "SKU-1",
        "timestamp": timestamp,
        "mobile": "13800000000",
        **parameters,
    }
    return EticketNotice.of(received, received_at="2026-11-30T02:00:00.000Z")


def notice_delivery(
    stack,
    *,
    quantity: int = 2,
    certificate_type: int = 1,
    status: DeliveryStatus = DeliveryStatus.DELIVERED,
    claim: bool = True,
    extra: dict[str, Any] | None = None,
    outcomes: list[CardOutcome] | None = None,
) -> Delivery:
    """A notice delivery as the fulfilment leaves it: its item (``delivery_item``), its cards
    claimed from order 16002's T1 through the cursor, and (when DELIVERED) every card
    ISSUED."""
    request = NoticeDeliveryRequest(
        type="notice",
        quantity=quantity,
        outer_id=TAOBAO_ORDER,
        token=TOKEN,
        merchant_code="SKU-1",
        own_sign="daily",
        template_no="T1",
        certificate_type=certificate_type,
    )
    delivery = Delivery.new(request, "2026-11-30T02:00:00.000Z", Requester("taobao:notice"))
    assert delivery.delivery_id == notice_delivery_id(TAOBAO_ORDER)
    item = delivery_schema.delivery_item(replace(delivery, status=status), "fp")
    if claim:
        cards = cards_repository(stack)
        first = cards.claim(ORDER, "T1", delivery.delivery_id, quantity, 10)
        assert first is not None
        read = cards.read_cards(ORDER, "T1", range(first, first + quantity))
        results = tuple(
            CardResult(card.card_no, card.position, outcome)
            for card, outcome in zip(read, outcomes or [CardOutcome.ISSUED] * quantity, strict=True)
        )
        item.update(to_item({"first_position": first, "card_order_id": ORDER.card_order_id}))
        item["order_key"] = {"S": "daily#16002"}
        if status in {DeliveryStatus.DELIVERED, DeliveryStatus.PARTIAL}:
            item["cards"] = delivery_schema.cards_value(results)
    item.update(to_item(extra or {}))
    dynamodb().put_item(TableName=stack.physical["DeliveriesTable"], Item=item)
    stored = DynamoDBDeliveryRepository(stack.physical["DeliveriesTable"]).get(delivery.delivery_id)
    assert stored is not None
    return stored


def send_first(stack, gateway, delivery: Delivery) -> list[str]:
    """The first ma.send of the delivery's cards, as the delivery function made it (so that
    the platform knows them); returns the cards' secrets."""
    cards = cards_repository(stack).read_cards(ORDER, "T1", delivery.positions)
    secrets = opener(stack).open(cards)
    client = TopClient(gateway.url, DEMO_APP_KEY, FixedCredentials(DEMO_SECRET, SESSION_KEY))
    request = delivery.request
    assert isinstance(request, NoticeDeliveryRequest)
    if request.certificate_type == 0:
        call = MaSendRequest.model_validate(
            {
                "outer_id": TAOBAO_ORDER,
                "token": TOKEN,
                "certificate_type": 0,
                "isv_ma_list": [{"code": secret} for secret in secrets],
            }
        )
    else:
        call = MaSendRequest.model_validate(
            {
                "outer_id": TAOBAO_ORDER,
                "token": TOKEN,
                "certificate_type": 1,
                "isv_ka_list": [
                    {"ka_no": card.card_no, "ka_mi": secret}
                    for card, secret in zip(cards, secrets, strict=True)
                ],
            }
        )
    client.call(MA_SEND, call.to_params(), with_session=True)
    gateway_calls = gateway.calls_of(MA_SEND)
    assert gateway_calls[-1].accepted
    return secrets


def view(invoke, delivery_id: str) -> dict[str, Any]:
    answer = invoke(delivery_get_event(delivery_id))
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])


def card_states(stack, positions) -> list[str | None]:
    return [
        from_item(
            dynamodb().get_item(
                TableName=stack.physical["CardsTable"],
                Key=card_schema.card_key(ORDER, "T1", position),
            )["Item"]
        ).get("card_state")
        for position in positions
    ]


def handle(notice_):
    return runtime.notice_aftercare().handle(notice_)


# --- resend -------------------------------------------------------------------------------


def test_resend_of_codes_goes_through_ma_resend_with_the_same_codes(generated, gateway, invoke):
    # Given a delivered notice delivery of 2 codes, which the platform took
    delivery = notice_delivery(generated, certificate_type=0)
    secrets = send_first(generated, gateway, delivery)

    # When the platform sends a resend notice
    outcome = handle(notice("resend", left_num="2"))

    # Then ma.resend carries exactly the same codes, with the notice's token and the session
    assert outcome is NoticeOutcome.RESENT
    (call,) = gateway.calls_of(MA_RESEND)
    assert call.sign_valid
    assert call.processed
    assert call.params["session"] == SESSION_KEY
    assert (call.params["outer_id"], call.params["token"]) == (TAOBAO_ORDER, TOKEN)
    assert [entry["code"] for entry in call.structs["isv_ma_list"]] == secrets
    assert [entry["num"] for entry in call.structs["isv_ma_list"]] == [1, 1]
    assert "ret_code" in json.dumps(call.answer)
    assert "error_response" not in call.answer
    # And the delivery shows it, never a code or the token
    shown = view(invoke, delivery.delivery_id)
    assert shown["type"] == "notice"
    assert shown["resend"]["count"] == 1
    assert shown["resend"]["outcome"] == "RESENT"
    assert "token" not in shown
    assert TOKEN not in json.dumps(shown)
    assert not any(secret in json.dumps(shown) for secret in secrets)


def test_a_replayed_resend_is_not_sent_again_and_a_new_one_is(generated, gateway, invoke):
    delivery = notice_delivery(generated, certificate_type=0)
    send_first(generated, gateway, delivery)
    first = notice("resend")
    assert handle(first) is NoticeOutcome.RESENT

    # The same notice again (the stream replays it): no second call
    assert handle(first) is NoticeOutcome.RESENT
    assert len(gateway.calls_of(MA_RESEND)) == 1

    # A second legitimate resend (another timestamp) goes out and is counted
    assert handle(notice("resend", timestamp="2026-11-30 11:00:00")) is NoticeOutcome.RESENT
    assert len(gateway.calls_of(MA_RESEND)) == 2
    assert view(invoke, delivery.delivery_id)["resend"]["count"] == 2


def test_resend_of_card_numbers_is_ma_send_again_with_the_same_cards(generated, gateway):
    # Given a delivered card number + secret delivery
    delivery = notice_delivery(generated, certificate_type=1)
    send_first(generated, gateway, delivery)
    (original,) = gateway.calls_of(MA_SEND)

    # When the platform asks for a resend
    assert handle(notice("resend")) is NoticeOutcome.RESENT

    # Then ma.send goes out again with the very same cards (ma.resend cannot carry them):
    # the platform recognises the repeat and takes nothing new
    assert gateway.calls_of(MA_RESEND) == []
    _, again = gateway.calls_of(MA_SEND)
    assert again.structs["isv_ka_list"] == original.structs["isv_ka_list"]
    assert again.params["token"] == TOKEN
    assert again.params["certificate_type"] == "1"
    assert again.accepted == ()
    assert set(again.repeated) == set(original.accepted)


@pytest.mark.parametrize("status", [DeliveryStatus.PENDING, DeliveryStatus.SENDING])
def test_a_resend_before_the_cards_went_out_is_ignored(generated, gateway, status):
    notice_delivery(generated, status=status)
    assert handle(notice("resend")) is NoticeOutcome.IGNORED
    assert gateway.calls == []


def test_a_resend_for_an_order_without_a_delivery_is_ignored(generated, gateway):
    assert handle(notice("resend")) is NoticeOutcome.IGNORED
    assert gateway.calls == []


def test_no_can_resend_code_ends_the_resend(generated, gateway, invoke):
    # Given codes the platform never took under this order (no ma.send went through)
    delivery = notice_delivery(generated, certificate_type=0)

    # When a resend is asked: the fake gateway refuses with §4.5's no-can-resend-code
    assert handle(notice("resend")) is NoticeOutcome.IGNORED

    # Then it is recorded as refused, with the platform's code, and never retried
    (call,) = gateway.calls_of(MA_RESEND)
    assert call.answer["error_response"]["sub_code"] == NO_CAN_RESEND
    shown = view(invoke, delivery.delivery_id)["resend"]
    assert (shown["outcome"], shown["code"], shown["count"]) == ("REFUSED", NO_CAN_RESEND, 0)
    assert handle(notice("resend")) is NoticeOutcome.IGNORED  # the replay: no call
    assert len(gateway.calls_of(MA_RESEND)) == 1


def test_platform_trouble_on_resend_is_retried_by_the_stream(generated, gateway, invoke):
    delivery = notice_delivery(generated, certificate_type=0)
    send_first(generated, gateway, delivery)
    gateway.fail_always(Fault.error(15, "isp.service-unavailable"), method=MA_RESEND)
    with pytest.raises(TopError):
        handle(notice("resend"))
    assert "resend" not in view(invoke, delivery.delivery_id)  # nothing recorded

    gateway.reset()
    send_first(generated, gateway, delivery)
    assert handle(notice("resend")) is NoticeOutcome.RESENT  # the stream's retry


# --- cancel (refund) ------------------------------------------------------------------------


def test_cancel_voids_the_cards_for_good(generated, gateway, invoke):
    # Given a delivered notice delivery of 2 cards
    delivery = notice_delivery(generated)
    send_first(generated, gateway, delivery)
    positions = list(delivery.positions)

    # When the buyer is refunded
    assert handle(notice("cancel", cancel_num="2")) is NoticeOutcome.VOIDED

    # Then its cards are VOIDED on the delivery and in the cards table
    shown = view(invoke, delivery.delivery_id)
    assert [card["outcome"] for card in shown["cards"]] == ["VOIDED", "VOIDED"]
    assert shown["refund"]["voided"] == 2
    assert card_states(generated, positions) == ["VOIDED", "VOIDED"]
    # And no delivery can read them again, nor resend them
    with pytest.raises(CardVoided):
        cards_repository(generated).read_cards(ORDER, "T1", delivery.positions)
    sent = len(gateway.calls)
    assert handle(notice("resend")) is NoticeOutcome.IGNORED
    assert len(gateway.calls) == sent


def test_no_delivery_ever_sends_a_voided_card(generated, gateway, invoke):
    # Given cards voided before any delivery held them (the next ones the cursor hands out)
    cards_repository(generated).void_cards(ORDER, "T1", [0, 1], "2026-11-30T02:00:00.000Z")

    # When an operator's e-voucher delivery claims them and the delivery function sends
    answer = invoke(delivery_post_event(sample_delivery("eticket", template_no="T1")))
    delivery_id = json.loads(answer["body"])["delivery_id"]
    with pytest.raises(CardVoided):
        runtime.delivery_sender().deliver(delivery_id)

    # Then nothing went to the platform
    assert gateway.calls_of(MA_SEND) == []


def test_a_refund_of_a_delivery_that_gave_up_voids_every_claimed_card(generated, gateway, invoke):
    # Given a delivery that gave up with its cards claimed and their outcome unknown
    delivery = notice_delivery(
        generated,
        status=DeliveryStatus.FAILED,
        extra={"failure_reason": "gave up after 5 attempts: TopOutcomeUnknown"},
    )

    # When it is refunded (even in part: which cards went out is not known)
    assert handle(notice("cancel", cancel_num="1")) is NoticeOutcome.VOIDED

    # Then every claimed card is voided, in the table and on the delivery
    assert card_states(generated, delivery.positions) == ["VOIDED", "VOIDED"]
    shown = view(invoke, delivery.delivery_id)
    assert [card["outcome"] for card in shown["cards"]] == ["VOIDED", "VOIDED"]
    assert shown["status"] == "FAILED"
    # And an operator's reopen cannot send them: the cards table refuses them
    deliveries = DynamoDBDeliveryRepository(generated.physical["DeliveriesTable"])
    assert deliveries.reopen(delivery.delivery_id)
    with pytest.raises(CardVoided):
        cards_repository(generated).read_cards(ORDER, "T1", delivery.positions)


def test_a_partial_refund_voids_cancel_num_cards_the_last_first(generated, gateway, invoke):
    delivery = notice_delivery(generated, quantity=3)
    first_cancel = notice("cancel", cancel_num="1", num="3")
    assert handle(first_cancel) is NoticeOutcome.VOIDED
    outcomes = [card["outcome"] for card in view(invoke, delivery.delivery_id)["cards"]]
    assert outcomes == ["ISSUED", "ISSUED", "VOIDED"]

    # The same refund replayed voids nothing more
    assert handle(first_cancel) is NoticeOutcome.VOIDED
    assert card_states(generated, delivery.positions) == [None, None, "VOIDED"]

    # A second refund of 1 voids one more
    assert handle(notice("cancel", "2026-11-30 12:00:00", cancel_num="1")) is NoticeOutcome.VOIDED
    shown = view(invoke, delivery.delivery_id)
    assert [card["outcome"] for card in shown["cards"]] == ["ISSUED", "VOIDED", "VOIDED"]
    assert shown["refund"]["voided"] == 2
    assert card_states(generated, delivery.positions) == [None, "VOIDED", "VOIDED"]


def test_a_partial_refund_of_a_partial_delivery_takes_back_an_issued_card(
    generated, gateway, invoke
):
    # Given 3 cards of which the platform took 2 (the last one it refused)
    issued, refused = CardOutcome.ISSUED, CardOutcome.FAILED
    delivery = notice_delivery(
        generated, quantity=3, status=DeliveryStatus.PARTIAL, outcomes=[issued, issued, refused]
    )

    # When 1 unit is refunded
    assert handle(notice("cancel", cancel_num="1", num="3")) is NoticeOutcome.VOIDED

    # Then a card the buyer holds is voided, not the one that never reached them
    shown = view(invoke, delivery.delivery_id)
    assert [card["outcome"] for card in shown["cards"]] == ["ISSUED", "VOIDED", "FAILED"]
    assert card_states(generated, delivery.positions) == [None, "VOIDED", None]


@pytest.mark.parametrize("status", [DeliveryStatus.PENDING, DeliveryStatus.WAITING_STOCK])
def test_a_cancel_before_the_cards_went_out_cancels_the_delivery(generated, gateway, status):
    # Given a delivery waiting for stock (in the WaitingStock index) or about to be sent
    delivery = notice_delivery(
        generated,
        status=status,
        claim=False,
        extra={"stock_key": "STOCK#daily#T1", "stock_deadline": "2026-11-30T02:10:00Z"},
    )

    # When the refund comes
    assert handle(notice("cancel")) is NoticeOutcome.VOIDED

    # Then it is CANCELLED, out of the index, and the delivery function sends nothing
    item = from_item(
        dynamodb().get_item(
            TableName=generated.physical["DeliveriesTable"],
            Key=delivery_schema.delivery_key(delivery.delivery_id),
        )["Item"]
    )
    assert item["status"] == "CANCELLED"
    assert "stock_key" not in item
    assert "stock_deadline" not in item
    attempt = runtime.delivery_sender().deliver(delivery.delivery_id)
    assert attempt == DeliveryAttempt(DeliveryStatus.CANCELLED, acted=False)
    assert gateway.calls == []


def test_a_cancel_before_the_send_makes_the_delivery_cancelled(generated, gateway, invoke):
    # Given no delivery yet: the refund overtook its send notice
    delivery_id = notice_delivery_id(TAOBAO_ORDER)

    # When the cancel is acted on
    assert handle(notice("cancel")) is NoticeOutcome.VOIDED

    # Then the order's notice delivery exists, CANCELLED, with nothing claimed
    shown = view(invoke, delivery_id)
    assert (shown["status"], shown["outer_id"], shown["cards"]) == ("CANCELLED", TAOBAO_ORDER, [])
    assert "token" not in shown
    # And the send, when it comes, finds it: its conditional put changes nothing
    deliveries = DynamoDBDeliveryRepository(generated.physical["DeliveriesTable"])
    send = Delivery.new(
        NoticeDeliveryRequest(
            type="notice", quantity=2, outer_id=TAOBAO_ORDER, token=TOKEN, merchant_code="SKU-1"
        ),
        "2026-11-30T02:00:01.000Z",
        Requester("taobao:notice"),
    )
    with pytest.raises(DeliveryExists) as exists:
        deliveries.create(send, request_fingerprint(send.request))
    assert exists.value.existing.status is DeliveryStatus.CANCELLED
    assert handle(notice("cancel")) is NoticeOutcome.VOIDED  # a replay: still just that


def test_a_cancel_while_sending_voids_the_stock_and_waits(generated, gateway, invoke):
    # Given a delivery whose ma.send may be in flight
    delivery = notice_delivery(generated, status=DeliveryStatus.SENDING)

    # When the whole order is refunded
    with pytest.raises(AftercareDeferred):
        handle(notice("cancel"))

    # Then its cards are voided at once (a sender that has not read them yet sends nothing),
    # and the delivery's record waits for it to settle (the stream retries the notice)
    assert card_states(generated, delivery.positions) == ["VOIDED", "VOIDED"]
    assert view(invoke, delivery.delivery_id)["status"] == "SENDING"
    with pytest.raises(CardVoided):
        cards_repository(generated).read_cards(ORDER, "T1", delivery.positions)


def test_a_partial_cancel_while_sending_waits_without_voiding(generated, gateway):
    delivery = notice_delivery(generated, quantity=3, status=DeliveryStatus.SENDING)
    with pytest.raises(AftercareDeferred):
        handle(notice("cancel", cancel_num="1", num="3"))
    assert card_states(generated, delivery.positions) == [None, None, None]


def test_a_cancel_of_a_delivery_that_never_held_cards_is_ignored(generated, gateway):
    notice_delivery(
        generated,
        status=DeliveryStatus.FAILED,
        claim=False,
        extra={"failure_reason": "no stock within 600 s"},
    )
    assert handle(notice("cancel")) is NoticeOutcome.IGNORED


def test_cancelled_and_notice_deliveries_do_not_break_the_lifecycle_events(generated, gateway):
    # Given the deliveries table's stream after a delivered notice delivery, and a refund that
    # overtook the send of another order (a CANCELLED delivery)
    notice_delivery(generated)
    other = notice("cancel", order_id="4012345678900000")
    assert handle(other) is NoticeOutcome.VOIDED

    # When the lifecycle events function reads them
    changes = [
        lifecycle_change(record)
        for record in stream_records(dynamodb(), generated.physical["DeliveriesTable"])
    ]

    # Then the delivered one is an event of its order, the CANCELLED one none (nothing raises)
    delivered, cancelled = changes
    assert delivered is not None
    assert (delivered.kind, delivered.order, delivered.status) == (
        "notice",
        ORDER,
        DeliveryStatus.DELIVERED,
    )
    assert cancelled is None


# --- print runs -----------------------------------------------------------------------------


def print_runs(stack) -> PrintRuns:
    return PrintRuns(
        DynamoDBOrderRepository(stack.physical["OrdersTable"]),
        cards_repository(stack),
        opener(stack),
    )


def test_a_print_run_after_a_refund_does_not_contain_the_voided_cards(generated, gateway):
    delivery = notice_delivery(generated)
    assert handle(notice("cancel")) is NoticeOutcome.VOIDED
    voided = {card.card_no for card in delivery.cards}

    runs = print_runs(generated)
    run = runs.claim(ORDER, "T1")
    printed = list(runs.cards(run))

    assert len(printed) == 8
    assert not voided & {card.card_no for card in printed}


def test_a_print_run_leaves_out_a_voided_card_in_its_own_range(generated, gateway):
    # Given a print run's claim, and one of its cards voided (however that came about)
    runs = print_runs(generated)
    run = runs.claim(ORDER, "T1")
    assert cards_repository(generated).claim_rest(ORDER, "T1", PRINT_CLAIM, 10) == range(10)
    cards_repository(generated).void_cards(ORDER, "T1", [3], "2026-11-30T02:00:00.000Z")

    # When its cards are read for print
    printed = list(runs.cards(run))

    # Then the voided card is not handed out, and the others come whole (no "missing" gap)
    assert [card.position for card in printed] == [0, 1, 2, 4, 5, 6, 7, 8, 9]


# --- modified / order_modify -------------------------------------------------------------------


def test_modified_records_the_new_validity_on_the_delivery(generated, gateway, invoke):
    delivery = notice_delivery(generated)
    changed = notice(
        "modified",
        "2026-11-30 10:05:00",
        valid_start="2026-12-01 00:00:00",
        valid_ends="2026-12-31 23:59:59",
        left_num="2",
    )
    assert handle(changed) is NoticeOutcome.CHANGED

    shown = view(invoke, delivery.delivery_id)
    assert shown["validity"]["valid_start"] == "2026-12-01 00:00:00"
    assert shown["validity"]["valid_ends"] == "2026-12-31 23:59:59"
    assert shown["last_change"]["method"] == "modified"
    assert shown["last_change"]["left_num"] == 2
    assert "13800000000" not in json.dumps(shown)  # the buyer's mobile is never kept
    assert gateway.calls == []


def test_order_modify_validity_and_a_late_older_notice(generated, gateway, invoke):
    delivery = notice_delivery(generated)
    newer = notice(
        "order_modify",
        "2026-11-30 11:00:00",
        sub_method="1",
        data=json.dumps(
            {"valid_start": "2027-01-01 00:00:00", "valid_ends": "2027-01-31 23:59:59"}
        ),
    )
    older = notice("modified", "2026-11-30 10:00:00", valid_ends="2026-12-15 23:59:59")
    assert handle(newer) is NoticeOutcome.CHANGED
    assert handle(older) is NoticeOutcome.CHANGED  # recorded as a notice, but it is older

    shown = view(invoke, delivery.delivery_id)
    assert shown["validity"]["valid_ends"] == "2027-01-31 23:59:59"
    assert (shown["last_change"]["method"], shown["last_change"]["sub_method"]) == (
        "order_modify",
        "1",
    )

    # A dispute upheld (sub_method 2) is recorded, and the validity stays
    upheld = notice("order_modify", "2026-11-30 12:00:00", sub_method="2", data='{"x":1}')
    assert handle(upheld) is NoticeOutcome.CHANGED
    shown = view(invoke, delivery.delivery_id)
    assert (shown["last_change"]["sub_method"], shown["last_change"]["data"]) == ("2", '{"x":1}')
    assert shown["validity"]["valid_ends"] == "2027-01-31 23:59:59"


def test_order_modify_with_unreadable_data_is_recorded_without_new_dates(
    generated, gateway, invoke
):
    delivery = notice_delivery(generated)
    garbled = notice("order_modify", sub_method="1", data="{not json")
    assert handle(garbled) is NoticeOutcome.CHANGED
    shown = view(invoke, delivery.delivery_id)
    assert shown["last_change"]["data"] == "{not json"
    assert "validity" not in shown


def test_a_change_without_a_delivery_is_ignored(generated, gateway):
    assert handle(notice("modified", valid_ends="2026-12-15 23:59:59")) is NoticeOutcome.IGNORED


def test_unknown_and_send_methods_are_not_aftercare(generated, gateway):
    assert handle(notice("heartBeatCheck")) is NoticeOutcome.IGNORED


# --- the fake gateway's ma.resend -------------------------------------------------------------


def resend_call(gateway, **params: str):
    client = TopClient(gateway.url, DEMO_APP_KEY, FixedCredentials(DEMO_SECRET, SESSION_KEY))
    return client.call(MA_RESEND, params, with_session=True)


@pytest.mark.parametrize(
    ("params", "sub_code"),
    [
        ({"outer_id": "1", "token": "t"}, "isv.missing-parameter:isv_ma_list"),
        ({"token": "t", "isv_ma_list": '[{"code":"a","num":1}]'}, "isv.missing-parameter:outer_id"),
        ({"outer_id": "1", "token": "t", "isv_ma_list": "[]"}, "isv.invalid-parameter:isv_ma_list"),
        (
            {"outer_id": "1", "token": "t", "isv_ma_list": '[{"code":"a","num":0}]'},
            "isv.invalid-parameter:isv_ma_list",
        ),
        ({"outer_id": "1", "token": "t", "isv_ma_list": '[{"code":"a","num":1}]'}, NO_CAN_RESEND),
    ],
)
def test_the_fake_gateway_checks_ma_resend(gateway, params, sub_code):
    with pytest.raises(TopError) as refused:
        resend_call(gateway, **params)
    assert refused.value.sub_code == sub_code


def test_the_fake_gateway_wants_a_session_for_ma_resend(gateway):
    client = TopClient(gateway.url, DEMO_APP_KEY, FixedCredentials(DEMO_SECRET, None))
    with pytest.raises(TopError) as refused:
        client.call(MA_RESEND, {"outer_id": "1", "token": "t", "isv_ma_list": "[]"})
    assert refused.value.top_code == 26
