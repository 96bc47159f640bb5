"""The platform's side of an SPI call (cardmaker.top.platform): the published vectors, signed
from their business parameters, come out with the vectors' query, body and sign."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from cardmaker.top import SpiPolicy, SpiRequest, parse_timestamp, sign_spi_call, verify_spi_call


def business_of(case):
    """The business parameters a vector was made from: its JSON body, or its form fields
    with the structs and the order id decoded again."""
    if "body" in case:
        return json.loads(case["body"])
    form = case["form"]
    structs = {key: json.loads(form[key]) for key in ("card_product_infos", "logistics_info")}
    return {**form, **structs, "card_order_id": int(form["card_order_id"])}


@pytest.mark.parametrize("kind", ["json", "form"])
def test_the_vectors_are_signed_as_published(top_vectors, kind):
    (case,) = [c for c in top_vectors["spi_verification"] if ("form" in c) == (kind == "form")]
    query = case["query"]

    call = sign_spi_call(
        business_of(case),
        method=query["method"],
        app_key=query["app_key"],
        secret=case["secret"],
        body_format=kind,
        timestamp=parse_timestamp(query["timestamp"]),
    )

    assert dict(parse_qsl(call.raw_query)) == {**query, "sign": case["sign"]}
    assert call.headers == {"content-type": case["content_type"]}
    if kind == "json":
        assert call.body.decode() == case["body"]
    else:
        assert dict(parse_qsl(call.body.decode())) == case["form"]
    # and the string shown to debug a mismatch is the hashed one, the secret left out
    shown = call.string_to_sign()
    assert shown.startswith("<app_secret>app_key")
    assert shown.endswith("<app_secret>")
    assert case["secret"] not in shown


def test_a_boolean_in_a_form_body_is_sent_as_its_json_word():
    # card.template.new's is_test as the platform's SDK sends it: "true", never "True"
    call = sign_spi_call(
        {"is_test": True, "own_sign": "daily", "count": 3},
        method="alibaba.fundplatform.card.template.new",
        app_key="12345678",
        secret="s",
        body_format="form",
    )
    assert dict(parse_qsl(call.body.decode())) == {
        "is_test": "true",
        "own_sign": "daily",
        "count": "3",
    }
    assert call.signed_params["is_test"] == "true"


@pytest.mark.parametrize("blank", [" ", "\t", "\u3000 "])
def test_a_blank_form_value_is_signed_as_empty_as_spiutils_reads_it(blank):
    # SpiUtils.getFormMap signs a Java-blank form value as "": the call must verify as sent.
    call = sign_spi_call(
        {"card_order_id": 16002, "own_sign": "daily", "remark": blank},
        method="alibaba.fundplatform.cardorder.make",
        app_key="12345678",
        secret="s",
        body_format="form",
        timestamp=parse_timestamp("2026-11-22 20:30:00"),
    )
    assert call.signed_params["remark"] == ""
    verified = verify_spi_call(
        SpiRequest(call.raw_query, call.body, call.headers),
        "s",
        policy=SpiPolicy(app_key="12345678"),
        methods={"alibaba.fundplatform.cardorder.make": ("card_order_id", "own_sign", "remark")},
        clock=lambda: parse_timestamp("2026-11-22 20:30:10"),
    )
    assert verified.params["remark"] == ""
