"""SPI answers in JSON and XML, and TOP gateway answers read back."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from cardmaker import TopError
from cardmaker.top import (
    SpiAnswerFields,
    encode_spi_answer,
    requested_format,
    response_key,
    unwrap_top_response,
)


def test_json_answer_has_the_seed_shape():
    content_type, body = encode_spi_answer(
        SpiAnswerFields.accepted("order received", "CM-daily-1"), "json"
    )
    assert content_type.startswith("application/json")
    assert json.loads(body) == {
        "response": {
            "success": True,
            "result_code": "SUCCESS",
            "result_message": "order received",
            "making_card_no": "CM-daily-1",
        }
    }


def test_refusal_has_no_making_card_no_and_keeps_chinese_readable():
    _, body = encode_spi_answer(SpiAnswerFields.refused("INVALID_PARAMETER", "非法参数"), "json")
    assert "非法参数" in body
    assert "making_card_no" not in json.loads(body)["response"]


def test_xml_answer_has_the_seed_root_and_escapes_text():
    content_type, body = encode_spi_answer(
        SpiAnswerFields.refused("INVALID_PARAMETER", "a <b> & c"), "xml"
    )
    assert content_type.startswith("application/xml")
    root = ET.fromstring(body.encode("utf-8"))
    assert root.tag == "response"
    assert root.findtext("success") == "false"
    assert root.findtext("result_code") == "INVALID_PARAMETER"
    assert root.findtext("result_message") == "a <b> & c"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("format=xml", "xml"),
        ("format=XML", "xml"),
        ("format=json", "json"),
        ("", "json"),
        ("format=xml&format=json", "json"),
    ],
)
def test_requested_format(query, expected):
    assert requested_format(query) == expected


def test_response_key_drops_taobao_prefix():
    assert response_key("taobao.eticket.merchant.ma.send") == "eticket_merchant_ma_send_response"
    assert response_key("tmall.purchase.card.bind") == "tmall_purchase_card_bind_response"


def test_wrapped_and_simplified_answers_read_the_same():
    result = {"result": {"success": True, "message": "ok"}}
    wrapped = {"tmall_purchase_card_bind_response": result}
    assert unwrap_top_response("tmall.purchase.card.bind", wrapped) == result
    assert unwrap_top_response("tmall.purchase.card.bind", result) == result


def test_error_response_becomes_a_typed_error():
    payload = {
        "error_response": {
            "code": 15,
            "msg": "Remote service error",
            "sub_code": "isv.invalid-parameter",
            "sub_msg": "非法参数",
            "request_id": "abc",
        }
    }
    with pytest.raises(TopError) as raised:
        unwrap_top_response("taobao.eticket.merchant.ma.send", payload)
    error = raised.value
    assert (error.top_code, error.sub_code, error.sub_msg, error.request_id) == (
        15,
        "isv.invalid-parameter",
        "非法参数",
        "abc",
    )
