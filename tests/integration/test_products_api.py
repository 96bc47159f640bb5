"""PUT /eticket/products/{merchant_code}, GET /eticket/products and GET
/eticket/products/{merchant_code} through the real handler: every refusal names the failing
field and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.apigw import http_api_event
from tests.conftest import OPERATOR

MAPPING = {"own_sign": "daily", "template_no": "3010030E05", "certificate_type": 0}


def product_event(
    code: str, body: Any = None, *, method: str = "PUT", content_type: str = "application/json"
) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http_api_event(
        method,
        f"/eticket/products/{code}",
        headers=[("content-type", content_type)] if method == "PUT" else [],
        body=raw if method == "PUT" else b"",
        route_key=f"{method} /eticket/products/{{merchant_code}}",
        path_parameters={"merchant_code": code},
        iam=OPERATOR,
    )


def list_event() -> dict[str, Any]:
    return http_api_event(
        "GET", "/eticket/products", route_key="GET /eticket/products", iam=OPERATOR
    )


@pytest.fixture
def eticket_items(dynamodb, stack):
    def scan() -> list[dict[str, Any]]:
        return dynamodb.scan(TableName=stack.physical["EticketTable"])["Items"]

    return scan


def answered(answer: dict[str, Any]) -> tuple[int, Any]:
    return answer["statusCode"], json.loads(answer["body"])


def test_a_product_is_mapped_read_and_listed(invoke):
    # When a merchant code is mapped
    status, body = answered(invoke(product_event("GIFT-100", MAPPING)))
    # Then the answer is the product, and nothing was waiting for it
    assert status == 200
    assert {name: body[name] for name in (*MAPPING, "merchant_code", "woken")} == {
        **MAPPING,
        "merchant_code": "GIFT-100",
        "woken": 0,
    }
    assert body["updated_at"]
    # and it reads back, alone and in the list
    status, shown = answered(invoke(product_event("GIFT-100", method="GET")))
    assert status == 200
    assert shown == {name: value for name, value in body.items() if name != "woken"}
    status, listed = answered(invoke(list_event()))
    assert (status, listed) == (200, {"products": [shown]})


def test_mapping_again_replaces_the_mapping(invoke):
    invoke(product_event("GIFT-100", MAPPING))
    invoke(product_event("GIFT-100", {**MAPPING, "template_no": "3010030E02"}))
    _, shown = answered(invoke(product_event("GIFT-100", method="GET")))
    assert shown["template_no"] == "3010030E02"
    _, listed = answered(invoke(list_event()))
    assert [product["template_no"] for product in listed["products"]] == ["3010030E02"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**MAPPING, "own_sign": "prod"}, "own_sign"),
        ({**MAPPING, "template_no": "no spaces"}, "template_no"),
        ({**MAPPING, "template_no": ""}, "template_no"),
        ({**MAPPING, "certificate_type": 2}, "certificate_type"),
        ({"own_sign": "daily"}, "template_no"),
        ({**MAPPING, "extra": 1}, "extra"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_field_and_nothing_is_written(
    invoke, eticket_items, body, field
):
    status, answer = answered(invoke(product_event("GIFT-100", body)))
    assert status == 422
    assert field in json.dumps(answer["detail"])
    assert eticket_items() == []


@pytest.mark.parametrize("code", ["x" * 65, "y" * 200])
def test_a_bad_merchant_code_is_refused_and_nothing_is_written(invoke, eticket_items, code):
    status, answer = answered(invoke(product_event(code, MAPPING)))
    assert status == 422
    assert "merchant_code" in json.dumps(answer["detail"])
    assert eticket_items() == []


def test_a_body_that_is_not_json_is_refused(invoke, eticket_items):
    answer = invoke(product_event("GIFT-100", b"own_sign=daily", content_type="text/plain"))
    assert answer["statusCode"] in {415, 422}
    assert eticket_items() == []


def test_an_unmapped_code_is_a_404(invoke):
    status, answer = answered(invoke(product_event("NOPE", method="GET")))
    assert status == 404
    assert "no product is mapped" in answer["message"]
