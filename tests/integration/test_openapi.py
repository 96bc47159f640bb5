"""docs/openapi.json: generated from the functions' routes, committed, and kept in step."""

from __future__ import annotations

import json

import pytest
import schemathesis

from local.openapi import COMMAND, SPEC_PATH, build_spec, render, template_routes
from local.platform import sample_delivery

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def spec():
    return build_spec()


def test_the_committed_document_is_what_the_code_generates(spec):
    # Given the document regenerated in memory from the routes of the functions behind the API
    generated = render(spec)
    # Then the committed file is byte for byte the same
    committed = SPEC_PATH.read_text(encoding="utf-8") if SPEC_PATH.exists() else ""
    assert committed == generated, f"{SPEC_PATH} is out of date: run `{COMMAND}` and commit it"


def test_schemathesis_loads_every_operation(spec):
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sorted(operation.label for operation in operations) == [
        "GET /audit",
        "GET /cards/{card_no}",
        "GET /deliveries",
        "GET /deliveries/{delivery_id}",
        "GET /eticket/notices/{order_id}",
        "GET /eticket/products",
        "GET /eticket/products/{merchant_code}",
        "GET /failures",
        "GET /orders",
        "GET /orders/{card_order_id}",
        "GET /orders/{card_order_id}/stock",
        "POST /audit",
        "POST /deliveries",
        "POST /deliveries/{delivery_id}/cancel",
        "POST /eticket/notices",
        "POST /orders/{card_order_id}/made",
        "POST /orders/{card_order_id}/shipment",
        "POST /orders/{card_order_id}/templates/{template_no}/print-run/release",
        "POST /top/spi",
        "PUT /eticket/products/{merchant_code}",
    ]


def test_the_document_and_the_templates_http_api_have_the_same_routes(spec):
    documented = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    deployed = {route.route_key for routes in template_routes().values() for route in routes}
    assert documented == deployed


def test_only_the_platforms_routes_go_without_sigv4(spec):
    assert spec["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == (
        "awsSigv4"
    )
    security = {
        f"{method.upper()} {path}": operation.get("security")
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }
    assert security.pop("POST /top/spi") is None
    assert security.pop("POST /eticket/notices") is None
    assert set(map(json.dumps, security.values())) == {json.dumps([{"sigv4": []}])}


def test_the_notice_route_documents_its_codes_not_the_resolvers_422(spec):
    operation = spec["paths"]["/eticket/notices"]["post"]
    assert set(operation["responses"]) == {"200", "500"}
    assert set(operation["requestBody"]["content"]) == {"application/x-www-form-urlencoded"}


def test_every_status_has_a_described_json_answer(spec):
    for item in spec["paths"].values():
        for operation in item.values():
            assert operation["responses"], operation["operationId"]
            for status, answer in operation["responses"].items():
                assert answer["description"], (operation["operationId"], status)
                assert "application/json" in answer["content"], (operation["operationId"], status)


def test_the_spi_route_documents_its_refusals_not_the_resolvers_422(spec):
    operation = spec["paths"]["/top/spi"]["post"]
    assert set(operation["responses"]) == {"200", "500"}
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "application/xml",
    }
    required = {p["name"] for p in operation["parameters"] if p["required"]}
    assert required == {"method", "app_key", "timestamp", "sign_method", "sign"}
    # The order's schema is inlined, its bounds in JSON Schema's words
    json_bodies = operation["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert "$ref" not in json.dumps(json_bodies)
    make = next(body for body in json_bodies if body["title"] == "cardorder.make")
    count = make["properties"]["card_product_infos"]["items"]["properties"]["count"]
    assert (count["minimum"], count["maximum"]) == (1, 1_000_000)


def test_the_spi_route_documents_every_method_and_each_shape_of_the_status_query_struct(spec):
    operation = spec["paths"]["/top/spi"]["post"]
    content = operation["requestBody"]["content"]
    titles = {
        media: [body["title"] for body in content[media]["schema"]["anyOf"]]
        for media in ("application/json", "application/x-www-form-urlencoded")
    }
    methods = ["cardorder.make", "card.template.new", "cardorder.receipt", "cardorder.status.query"]
    assert titles["application/x-www-form-urlencoded"] == methods
    assert titles["application/json"] == [
        *methods,
        "cardorder.status.query, the struct's fields as the body",
    ]
    bodies = {body["title"]: body for body in content["application/json"]["schema"]["anyOf"]}
    # every field bounded as the models bound it
    template = bodies["card.template.new"]
    assert template["properties"]["template_no"]["maxLength"] == 64
    assert template["properties"]["card_name"]["maxLength"] == 128
    assert template["properties"]["picture_url"]["anyOf"][0]["maxLength"] == 1024
    assert set(template["required"]) == {
        "template_no", "card_name", "par_value", "is_test", "own_sign"
    }  # fmt: skip
    struct = bodies["cardorder.status.query"]["properties"]["request"]
    order_id = struct["properties"]["card_order_id"]
    assert (order_id["minimum"], order_id["maximum"]) == (1, 2**63 - 1)
    assert struct["properties"]["own_sign"]["enum"] == ["daily", "pre", "online"]
    # and the answer documents status.query's fields
    answer = spec["components"]["schemas"]["SpiAnswerFields"]["properties"]
    assert answer["status"]["enum"] == [
        "REQUEST_NOT_EXIST", "REQUEST_RECEIVED", "WAITING_DELIVERY", "DELIVERED"
    ]  # fmt: skip
    assert {"logistics_company", "logistics_order_id"} <= set(answer)
    described = operation["parameters"][0]["description"]
    assert all(f"alibaba.fundplatform.{method}" in described for method in methods)


def test_bounds_are_exact_integers(spec):
    order_id = spec["paths"]["/orders/{card_order_id}"]["get"]["parameters"][0]["schema"]
    assert order_id["maximum"] == 2**63 - 1
    assert isinstance(order_id["exclusiveMinimum"], int)
    assert "9.2233" not in render(spec)


def test_examples_are_the_samples_the_tools_send(spec):
    examples = spec["paths"]["/deliveries"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    assert examples["eticket"]["value"] == sample_delivery("eticket")
    assert examples["bind"]["value"] == sample_delivery("bind")


def test_a_delivery_view_names_who_asked_and_never_the_token(spec):
    schemas = spec["components"]["schemas"]
    for view in ("EticketDeliveryView", "BindDeliveryView"):
        requested_by = schemas[view]["properties"]["requested_by"]
        assert requested_by["$ref"] == "#/components/schemas/RequesterView", view
    assert "token" not in schemas["EticketDeliveryView"]["properties"]
    assert schemas["RequesterView"]["required"] == ["user_arn"]
    assert set(schemas["RequesterView"]["properties"]) == {
        "user_arn",
        "caller_id",
        "account_id",
        "principal_org_id",
    }
    # and the request still takes one
    assert "token" in schemas["EticketDeliveryRequest"]["required"]
    created = spec["paths"]["/deliveries"]["post"]["responses"]
    assert "403" in created


def test_the_lifecycle_steps_document_their_202_and_the_409_naming_the_status(spec):
    schemas = spec["components"]["schemas"]
    for path in ("made", "shipment"):
        responses = spec["paths"][f"/orders/{{card_order_id}}/{path}"]["post"]["responses"]
        assert {"202", "403", "404", "409", "422"} <= set(responses), path
        conflict = responses["409"]["content"]["application/json"]["schema"]["$ref"]
        assert conflict == "#/components/schemas/OrderStateConflictAnswer"
    assert "status" in schemas["OrderStateConflictAnswer"]["required"]
    assert schemas["OrderStepAccepted"]["required"] == ["status"]
    shipment = spec["paths"]["/orders/{card_order_id}/shipment"]["post"]["requestBody"]
    body = shipment["content"]["application/json"]["examples"]["sf"]["value"]
    assert body == {"logistics_company": "顺丰速运", "logistics_order_id": "SF1234567890"}


def test_the_list_documents_its_parameters_and_its_next_token(spec):
    operation = spec["paths"]["/orders"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {"own_sign", "status", "limit", "next"}
    assert not any(p["required"] for p in parameters.values())
    limit = parameters["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 50)
    assert parameters["next"]["schema"]["anyOf"][0]["maxLength"] == 512
    listed = spec["components"]["schemas"]["OrderList"]
    assert listed["required"] == ["orders"]  # next is left out on the last page
