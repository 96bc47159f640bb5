"""Answers are built by their models: one definition per answer shape, the same JSON the
routes have always sent (left-out fields left out, null ones null, keys in the same order)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.etree import ElementTree

from cardmaker import (
    BindDeliveryRequest,
    CardOrderMakeRequest,
    CardOutcome,
    CardResult,
    CardTemplate,
    CardTemplateAnnouncement,
    Delivery,
    DeliveryAccepted,
    DeliveryStatus,
    DeliveryView,
    EticketDeliveryRequest,
    NotFoundAnswer,
    Order,
    OrderView,
    ProblemAnswer,
    Requester,
    StoredOrder,
    answer_body,
)
from cardmaker.orders.order import Generation
from cardmaker.top import SpiAnswerFields, encode_spi_answer
from cardmaker_cli.samples import sample_order

RECEIVED = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
NOW = "2026-11-22T12:31:00+00:00"


def stored_order(*, logistics: bool = False, generation: Generation | None = None) -> StoredOrder:
    request = CardOrderMakeRequest.model_validate(
        sample_order(7, templates=[("T1", 3, "100"), ("T2", 2, "5000")], logistics=logistics)
    )
    return StoredOrder(Order.receive(request, RECEIVED), RECEIVED, {"T1": 3}, generation=generation)


def test_a_received_order_leaves_out_what_it_has_not_and_keeps_its_nulls():
    body = answer_body(OrderView.of(stored_order(), {}))
    assert list(body) == [
        "card_order_id",
        "own_sign",
        "status",
        "making_card_no",
        "received_at",
        "updated_at",
        "card_count",
        "cards_generated",
        "chunks_total",
        "chunks_done",
        "templates",
        "lifecycle",
        "notifications",
    ]
    assert (body["status"], body["chunks_total"], body["chunks_done"]) == ("RECEIVED", None, 0)
    # the lifecycle's times are null until the order gets there; no notification is owed yet
    assert body["lifecycle"] == dict.fromkeys(
        ["generated_at", "made_at", "made_by", "shipped_at", "confirmed_at"]
    )
    assert body["notifications"] == {}
    assert body["received_at"] == "2026-11-22T12:30:00+00:00"
    assert body["templates"][1] == {
        "template_no": "T2",
        "card_name": "猫超储值卡面额5000",
        "par_value": "5000",
        "picture_url": None,  # null, not left out: the platform sent none
        "requested": 2,
        "generated": 0,
        "registered": False,  # never announced: is_test left out
    }
    assert body["cards_generated"] == 3


def test_the_order_view_says_which_templates_were_announced_and_which_are_test_templates():
    # Given an order of T1 and T2, of which the platform announced T2 as a test template
    announcement = CardTemplateAnnouncement.model_validate(
        {
            "template_no": "T2",
            "card_name": "测试卡",
            "par_value": "5000",
            "is_test": True,
            "own_sign": "daily",
        }
    )
    registered = {"T2": CardTemplate(announcement, 1, RECEIVED)}
    # When the order is shown
    templates = answer_body(OrderView.of(stored_order(), registered))["templates"]
    # Then T1 is said to be unregistered, and T2 registered, a test template
    assert [(t["template_no"], t["registered"], t.get("is_test")) for t in templates] == [
        ("T1", False, None),
        ("T2", True, True),
    ]
    assert "is_test" not in templates[0]


def test_a_failed_order_with_logistics_says_so():
    generation = Generation(0, 5000, 1, failure_reason="the key is gone")
    body = answer_body(OrderView.of(stored_order(logistics=True, generation=generation), {}))
    assert list(body)[-4:] == ["logistics_info", "failure_reason", "lifecycle", "notifications"]
    assert body["logistics_info"]["receiver_name"] == "张三"
    assert (body["chunks_total"], body["failure_reason"]) == (1, "the key is gone")


def eticket() -> EticketDeliveryRequest:
    return EticketDeliveryRequest.model_validate(
        {
            "type": "eticket",
            "card_order_id": 7,
            "own_sign": "daily",
            "template_no": "T1",
            "quantity": 2,
            "outer_id": "E1",
            "token": "t",
        }
    )


def test_a_delivery_answers_its_id_and_status_first_then_its_request_then_its_cards():
    requester = Requester("arn:aws:iam::123456789012:user/alice", "AIDAALICE", "123456789012")
    delivery = Delivery.new(eticket(), NOW, requester).finished(
        [
            CardResult("3101000000000000001", 0, CardOutcome.ISSUED),
            CardResult("3101000000000000002", 1, CardOutcome.FAILED, "isv.x", "refused"),
        ]
    )
    body = answer_body(DeliveryView.of(delivery))
    assert list(body) == [
        "delivery_id",
        "status",
        *(name for name in eticket().model_dump() if name != "token"),  # never the token
        "requested_by",
        "attempts",
        "created_at",
        "updated_at",
        "cards",
    ]
    assert body["status"] == "PARTIAL"
    assert body["requested_by"] == {
        "user_arn": "arn:aws:iam::123456789012:user/alice",
        "caller_id": "AIDAALICE",
        "account_id": "123456789012",
    }
    # a card's code and message only when the platform refused it
    assert body["cards"] == [
        {"card_no": "3101000000000000001", "position": 0, "outcome": "ISSUED"},
        {
            "card_no": "3101000000000000002",
            "position": 1,
            "outcome": "FAILED",
            "code": "isv.x",
            "message": "refused",
        },
    ]
    assert "secret" not in json.dumps(body)


def test_a_bind_delivery_shows_only_the_buyer_it_names_and_why_it_failed():
    request = BindDeliveryRequest.model_validate(
        {
            "type": "bind",
            "card_order_id": 7,
            "own_sign": "daily",
            "template_no": "T1",
            "quantity": 1,
            "out_biz_id": "B1",
            "buyer_open_uid": "uid",
        }
    )
    failed = Delivery(
        "BD-00", request, DeliveryStatus.FAILED, failure_reason="TOP unavailable", cards=()
    )
    body = answer_body(DeliveryView.of(failed))
    assert "buyer_nick" not in body
    assert (body["buyer_open_uid"], body["failure_reason"]) == ("uid", "TOP unavailable")
    assert answer_body(DeliveryAccepted.of(failed)) == {"delivery_id": "BD-00", "status": "FAILED"}


def test_problem_answers_have_the_resolvers_shape():
    refused = ProblemAnswer.refusal(409, "refused", "taken", field="outer_id")
    assert answer_body(refused) == {
        "statusCode": 409,
        "detail": [{"loc": ["body", "outer_id"], "type": "refused", "msg": "taken"}],
    }
    assert answer_body(NotFoundAnswer(message="no")) == {"message": "no"}


def test_an_spi_refusal_has_no_making_card_no_in_json_or_xml():
    refusal = SpiAnswerFields.refused("ORDER_CONFLICT", "taken")
    _, as_json = encode_spi_answer(refusal, "json")
    assert as_json == (
        '{"response":{"success":false,"result_code":"ORDER_CONFLICT","result_message":"taken"}}'
    )
    _, as_xml = encode_spi_answer(refusal, "xml")
    assert "making_card_no" not in as_xml
    _, accepted = encode_spi_answer(SpiAnswerFields.accepted("ok", "CM-daily-7"), "xml")
    assert accepted.endswith(
        "<response><success>true</success><result_code>SUCCESS</result_code>"
        "<result_message>ok</result_message><making_card_no>CM-daily-7</making_card_no>"
        "</response>"
    )


def test_a_status_answer_carries_its_status_and_waybill_in_json_and_xml():
    # Given status.query's answer for a shipped order (a carrier name XML must escape)
    answer = SpiAnswerFields.progress("order is DELIVERED", "DELIVERED", "顺丰<速运>&", "SF123")
    # Then JSON has the extra fields under the answer's root, after the common ones
    _, as_json = encode_spi_answer(answer, "json")
    assert json.loads(as_json) == {
        "response": {
            "success": True,
            "result_code": "SUCCESS",
            "result_message": "order is DELIVERED",
            "status": "DELIVERED",
            "logistics_company": "顺丰<速运>&",
            "logistics_order_id": "SF123",
        }
    }
    # and XML has them as flat elements, escaped, parsed back to the same text
    _, as_xml = encode_spi_answer(answer, "xml")
    root = ElementTree.fromstring(as_xml)
    assert root.tag == "response"
    assert {child.tag: child.text for child in root} == {
        "success": "true",
        "result_code": "SUCCESS",
        "result_message": "order is DELIVERED",
        "status": "DELIVERED",
        "logistics_company": "顺丰<速运>&",
        "logistics_order_id": "SF123",
    }
    # A status before shipping has no waybill fields at all, in either format
    unshipped = SpiAnswerFields.progress("order is REQUEST_RECEIVED", "REQUEST_RECEIVED")
    assert "logistics" not in encode_spi_answer(unshipped, "json")[1]
    assert "logistics" not in encode_spi_answer(unshipped, "xml")[1]
    # and the root is the caller's to choose (the SPI adapter's answer_root)
    _, other = encode_spi_answer(unshipped, "xml", root="result")
    assert ElementTree.fromstring(other).tag == "result"
