"""schemathesis against the local stack over real HTTP: every answer of every route conforms to
docs/openapi.json (no 5xx, documented status, content type and schema), and every documented
status is reached or explained."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cardmaker import (
    CARD_TEMPLATE_NEW,
    CARDORDER_RECEIPT,
    CARDORDER_STATUS_QUERY,
    EXAMPLE_DELIVERY_ID,
    PRINT_CLAIM,
    DynamoDBCardRepository,
    DynamoDBNoticeRepository,
    OrderKey,
    OrderService,
    notice_timestamp,
    signed_notice,
)
from cardmaker.top import SpiAnswerFields, SpiCall
from cardmaker_cli.samples import DEMO_NOTICE_SECRET, sample_order
from local.platform import sample_delivery, sign_demo_call
from local.stack import LocalStack
from local.template import REPO
from tests.e2e.conftest import post_spi

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 25  # per operation and generation mode: about 200 requests, a few seconds
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
ORDER_ID, OWN_SIGN, TEMPLATE = 16002, "daily", "3010030E02"  # the spec's examples

# Documented answers that no request can provoke on a healthy stack, and why.
NOT_REACHED_BY_REQUESTS = {
    ("POST /top/spi", 500): "only on an internal failure: "
    "test_an_internal_failure_is_a_documented_500 injects one",
    ("POST /eticket/notices", 500): "only on an internal failure: "
    "test_an_internal_failure_of_a_notice_is_a_documented_500 injects one",
    ("GET /eticket/products", 422): "the list takes no parameters: nothing to refuse (the "
    "resolver documents a 422 on every validated route)",
    ("GET /failures", 422): "the same: it takes no parameters",
    ("POST /deliveries", 403): "only for a request with no IAM identity, and the local API "
    "names the local user on every IAM route: tests/integration/test_deliveries_api.py sends "
    "one to the handler",
    ("POST /orders/{card_order_id}/made", 403): "the same: "
    "tests/integration/test_order_lifecycle_api.py sends one to the handler",
    ("POST /orders/{card_order_id}/shipment", 403): "the same: "
    "tests/integration/test_order_lifecycle_api.py sends one to the handler",
    ("POST /orders/{card_order_id}/templates/{template_no}/print-run/release", 403): "the "
    "same: tests/integration/test_card_state.py sends one to the handler",
    ("POST /deliveries/{delivery_id}/cancel", 403): "the same: "
    "tests/integration/test_delivery_waiting_and_cancel.py sends one to the handler",
    ("POST /audit", 403): "the same: tests/integration/test_audit_api.py sends one to the handler",
}
LIFECYCLE_ORDER = 16004  # walked through made and shipment by the deterministic requests
CANCEL_ORDER = 16021  # a delivery of its cards left waiting for stock, then cancelled

Observed = set[tuple[str, int]]


@pytest.fixture
def stack(local_stack: LocalStack) -> LocalStack:
    """The local stack with the spec's example order generated and its example bind delivery
    carried out, so that the GET routes can answer 200."""
    # Given the seed's order of 10 cards, generated
    order = sample_order(ORDER_ID, OWN_SIGN, templates=[(TEMPLATE, 10, "100")])
    response = post_spi(local_stack, sign_demo_call(order))
    assert '"success":true' in response.text, response.text
    local_stack.wait_idle(60)
    # And the example bind delivery, delivered
    response = (
        _operation(_schema(), "POST /deliveries")
        .Case(body=sample_delivery("bind"), media_type="application/json")
        .call(base_url=local_stack.url, timeout=10)
    )
    assert response.status_code == 202, response.text
    assert response.json()["delivery_id"] == EXAMPLE_DELIVERY_ID
    local_stack.wait_idle(60)
    return local_stack


def test_every_answer_is_documented_and_every_documented_status_is_reached(stack):
    schema = _schema()
    observed: Observed = set()
    # When a few deterministic requests aim at each documented answer
    _reach_the_documented_answers(stack, schema, observed)
    _reach_the_product_answers(stack, schema, observed)
    _reach_the_card_answers(stack, schema, observed)
    # And schemathesis sends valid and invalid requests to every operation
    for operation in _operations(schema):
        for mode in MODES:
            _fuzz(stack, operation, mode, observed)
    # Then (every answer having passed the checks) the statuses seen are exactly the
    # documented ones, but for those explained
    documented = {
        (f"{method.upper()} {path}", int(status))
        for path, item in schema.raw_schema["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
    }
    assert observed - documented == set(), "undocumented statuses"
    unreached = documented - observed
    assert unreached == set(NOT_REACHED_BY_REQUESTS), (
        f"documented but neither reached nor explained: {unreached - set(NOT_REACHED_BY_REQUESTS)}"
        f"; explained but reached: {set(NOT_REACHED_BY_REQUESTS) - unreached}"
    )


@pytest.mark.parametrize("answer_format", ["json", "xml"])
def test_an_internal_failure_is_a_documented_500(local_stack, monkeypatch, answer_format):
    # Given an order service that fails inside the handler (the stack runs it in-process)
    def receive(self: OrderService, request: Any) -> None:
        raise RuntimeError("the table is gone")

    monkeypatch.setattr(OrderService, "receive", receive)
    # When the platform sends a valid order
    operation = _operation(_schema(), "POST /top/spi")
    call = sign_demo_call(sample_order(16099), body_format="form", response_format=answer_format)
    case = _spi_case(operation, call)
    response = case.call(base_url=local_stack.url, timeout=10)
    # Then the answer is the documented 500 SYSTEM_ERROR, in the format asked for
    assert response.status_code == 500
    assert "SYSTEM_ERROR" in response.text
    (content_type,) = response.headers["content-type"]
    assert content_type.startswith(f"application/{answer_format}")
    case.validate_response(response, checks=[c for c in CHECKS if c is not not_a_server_error])


def test_an_internal_failure_of_a_notice_is_a_documented_500(local_stack, monkeypatch):
    # Given a notice store that fails inside the handler (the stack runs it in-process)
    def record(self: DynamoDBNoticeRepository, notice: Any) -> bool:
        raise RuntimeError("the table is gone")

    monkeypatch.setattr(DynamoDBNoticeRepository, "record", record)
    # When the platform sends a valid notice
    case = _notice_case(_operation(_schema(), "POST /eticket/notices"), "880099")
    response = case.call(base_url=local_stack.url, timeout=10)
    # Then the answer is the documented 500 {"code": 500}
    assert (response.status_code, response.json()) == (500, {"code": 500})
    case.validate_response(response, checks=[c for c in CHECKS if c is not not_a_server_error])


def _notice_case(operation: Any, order_id: str, secret: str = DEMO_NOTICE_SECRET) -> Any:
    """A signed send notice as a schemathesis case: ASCII values only, since schemathesis
    names no charset and the endpoint then reads the form as GBK (UTF-8 alike for ASCII)."""
    notice = {
        "method": "send",
        "timestamp": notice_timestamp(),
        "order_id": order_id,
        "token": "fuzz-token",
        "num": "1",
        "sub_outer_iid": "CM-EV-100",
    }
    return operation.Case(
        body=signed_notice(notice, secret), media_type="application/x-www-form-urlencoded"
    )


def _reach_the_notice_answers(stack: LocalStack, schema: Any, observed: Observed) -> None:
    """A notice recorded, repeated, forged and malformed; the order's notices read back."""
    post = _operation(schema, "POST /eticket/notices")
    for case, code in (
        (_notice_case(post, "880001"), 200),
        (_notice_case(post, "880001"), 200),  # the platform's duplicate send
        (_notice_case(post, "880002", secret="f" * 32), 501),
        (_notice_case(post, "bad/id"), 400),
    ):
        answer = _check(stack, case, observed)
        assert (answer.status_code, answer.json()) == (200, {"code": code}), answer.text
    notices = _operation(schema, "GET /eticket/notices/{order_id}")
    for order_id, status in (("880001", 200), ("880003", 404), ("bad id", 422)):
        case = notices.Case(path_parameters={"order_id": order_id})
        assert _check(stack, case, observed).status_code == status


def _reach_the_product_answers(stack: LocalStack, schema: Any, observed: Observed) -> None:
    """A product mapped and read back; a mapping in another media type."""
    put = _operation(schema, "PUT /eticket/products/{merchant_code}")
    mapping = {"own_sign": OWN_SIGN, "template_no": TEMPLATE, "certificate_type": 1}
    case = put.Case(
        path_parameters={"merchant_code": "FUZZ-1"}, body=mapping, media_type="application/json"
    )
    assert _check(stack, case, observed).status_code == 200
    read = _operation(schema, "GET /eticket/products/{merchant_code}")
    for code, status in (("FUZZ-1", 200), ("FUZZ-2", 404)):
        case = read.Case(path_parameters={"merchant_code": code})
        assert _check(stack, case, observed).status_code == status
    response = requests.put(
        f"{stack.url}/eticket/products/FUZZ-3",
        data=b"own_sign=daily",
        headers={"content-type": "text/plain"},
        timeout=10,
    )
    observed.add((put.label, response.status_code))
    assert response.status_code == 415


def _reach_the_card_answers(stack: LocalStack, schema: Any, observed: Observed) -> None:
    """A card of the seed's order looked up, a number no card has, one not of the scheme;
    its template's print run released (claimed here first), refused with none, for an
    unknown order and template."""
    key = OrderKey("daily", ORDER_ID)
    cards = DynamoDBCardRepository(stack.stack.physical["CardsTable"], stack.client("dynamodb"))
    (card,) = cards.iter_cards(key, TEMPLATE, range(1))
    other = card.card_no[:-1] + str((int(card.card_no[-1]) + 1) % 10)
    look_up = _operation(schema, "GET /cards/{card_no}")
    for number, status in ((card.card_no, 200), (other, 404), ("12345678", 422)):
        case = look_up.Case(path_parameters={"card_no": number})
        assert _check(stack, case, observed).status_code == status
    release = _operation(
        schema, "POST /orders/{card_order_id}/templates/{template_no}/print-run/release"
    )

    def released(order_id: int, template_no: str) -> int:
        case = release.Case(
            path_parameters={"card_order_id": order_id, "template_no": template_no},
            query={"own_sign": OWN_SIGN},
        )
        return int(_check(stack, case, observed).status_code)

    assert released(ORDER_ID, TEMPLATE) == 409  # no print run holds cards
    assert cards.claim_rest(key, TEMPLATE, PRINT_CLAIM, 10) is not None
    assert released(ORDER_ID, TEMPLATE) == 200
    assert released(99, TEMPLATE) == 404
    assert released(ORDER_ID, "NO-SUCH") == 422


def _reach_the_documented_answers(stack: LocalStack, schema: Any, observed: Observed) -> None:
    """One request per documented answer that random input rarely provokes."""
    spi = _operation(schema, "POST /top/spi")
    for answer_format in ("json", "xml"):
        call = sign_demo_call(
            sample_order(16003, OWN_SIGN), body_format="form", response_format=answer_format
        )
        answer = _check(stack, _spi_case(spi, call), observed)
        assert (answer.status_code, "SUCCESS" in answer.text) == (200, True), answer.text
        if answer_format == "xml":  # schemathesis checks JSON bodies only: check this one here
            root = ElementTree.fromstring(answer.content)
            assert root.tag == "response"
            SpiAnswerFields.model_validate({child.tag: child.text for child in root})
    # The platform's lifecycle calls, each answer checked against the document: a template
    # announced, the order's status (with the struct as a form field), a receipt refused
    template = {
        "template_no": TEMPLATE,
        "card_name": "猫超储值卡面额100",
        "par_value": "100",
        "is_test": False,
        "own_sign": OWN_SIGN,
    }
    reference = {"card_order_id": ORDER_ID, "own_sign": OWN_SIGN}
    for method, business, expected in (
        (CARD_TEMPLATE_NEW, template, "SUCCESS"),
        (CARDORDER_STATUS_QUERY, {"request": reference}, "REQUEST_RECEIVED"),
        (CARDORDER_RECEIPT, reference, "INVALID_ORDER_STATUS"),
    ):
        for answer_format in ("json", "xml"):
            call = sign_demo_call(
                business, method=method, body_format="form", response_format=answer_format
            )
            answer = _check(stack, _spi_case(spi, call), observed)
            assert (answer.status_code, expected in answer.text) == (200, True), answer.text
            if answer_format == "xml":
                root = ElementTree.fromstring(answer.content)
                assert root.tag == "response"
                SpiAnswerFields.model_validate({child.tag: child.text for child in root})

    orders = _operation(schema, "GET /orders/{card_order_id}")
    for order_id, status in ((ORDER_ID, 200), (99, 404), (0, 422)):
        case = orders.Case(path_parameters={"card_order_id": order_id}, query={"own_sign": "daily"})
        assert _check(stack, case, observed).status_code == status

    deliveries = _operation(schema, "GET /deliveries/{delivery_id}")
    for delivery_id, status in ((EXAMPLE_DELIVERY_ID, 200), ("ET-0123", 404), ("nope", 422)):
        case = deliveries.Case(path_parameters={"delivery_id": delivery_id})
        assert _check(stack, case, observed).status_code == status

    create = _operation(schema, "POST /deliveries")
    first = sample_delivery("eticket", outer_id="openapi-fuzz")
    for body, status in (
        (first, 202),
        ({**first, "quantity": 1}, 409),  # the same outer_id, other content
        ({**first, "card_order_id": 99}, 422),  # no such order
    ):
        case = create.Case(body=body, media_type="application/json")
        assert _check(stack, case, observed).status_code == status
    # Bodies schemathesis would not send: another media type, bytes that are not UTF-8
    for content_type, raw, status in (
        ("text/plain", b"eticket please", 415),
        ("application/json", b'{"type": "\xff"}', 422),
    ):
        response = requests.post(
            f"{stack.url}/deliveries", data=raw, headers={"content-type": content_type}, timeout=10
        )
        observed.add((create.label, response.status_code))
        create.Case(body=first, media_type="application/json").validate_response(
            response, checks=CHECKS
        )
        assert response.status_code == status, response.text

    _reach_the_lifecycle_answers(stack, schema, observed)
    _reach_the_notice_answers(stack, schema, observed)
    _reach_the_cancel_and_audit_answers(stack, schema, observed)


def _reach_the_cancel_and_audit_answers(stack: LocalStack, schema: Any, observed: Observed) -> None:
    """A delivery left waiting for stock and cancelled (200), and an audit report in another
    media type (415)."""
    order = sample_order(CANCEL_ORDER, OWN_SIGN, templates=[(TEMPLATE, 4, "100")])
    assert '"success":true' in post_spi(stack, sign_demo_call(order)).text
    stack.wait_idle(60)
    ids = []
    for body in (
        sample_delivery("bind", CANCEL_ORDER, out_biz_id="fuzz-cancel-3"),  # 3 of the 4 cards
        sample_delivery("eticket", CANCEL_ORDER, outer_id="fuzz-cancel-2"),  # 2: it waits
    ):
        answer = requests.post(f"{stack.url}/deliveries", json=body, timeout=10)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["delivery_id"])
    stack.wait_idle(60)
    cancel = _operation(schema, "POST /deliveries/{delivery_id}/cancel")
    case = cancel.Case(path_parameters={"delivery_id": ids[1]})
    assert _check(stack, case, observed).status_code == 200

    audit = _operation(schema, "POST /audit")
    response = requests.post(
        f"{stack.url}/audit",
        data=b"cards exported",
        headers={"content-type": "text/plain"},
        timeout=10,
    )
    observed.add((audit.label, response.status_code))
    audit.Case(body={}, media_type="application/json").validate_response(response, checks=CHECKS)
    assert response.status_code == 415, response.text


def _reach_the_lifecycle_answers(stack: LocalStack, schema: Any, observed: Observed) -> None:
    """An order of its own walked GENERATED -> MADE -> SHIPPED, each refusal on the way, and
    the list with good and bad parameters."""
    order = sample_order(LIFECYCLE_ORDER, OWN_SIGN, templates=[(TEMPLATE, 2, "100")])
    assert '"success":true' in post_spi(stack, sign_demo_call(order)).text
    stack.wait_idle(60)
    made = _operation(schema, "POST /orders/{card_order_id}/made")
    ship = _operation(schema, "POST /orders/{card_order_id}/shipment")
    waybill = {"logistics_company": "顺丰速运", "logistics_order_id": "SF1234567890"}
    daily = {"own_sign": OWN_SIGN}

    def step(operation: Any, order_id: int, status: int, body: Any = None) -> None:
        extra = {} if body is None else {"body": body, "media_type": "application/json"}
        case = operation.Case(path_parameters={"card_order_id": order_id}, query=daily, **extra)
        assert _check(stack, case, observed).status_code == status

    step(ship, LIFECYCLE_ORDER, 409, waybill)  # GENERATED: not made yet
    step(made, LIFECYCLE_ORDER, 202)
    step(made, LIFECYCLE_ORDER, 202)  # again: the same answer
    step(ship, LIFECYCLE_ORDER, 202, waybill)
    step(ship, LIFECYCLE_ORDER, 409, {**waybill, "logistics_order_id": "SF0"})
    step(made, LIFECYCLE_ORDER, 409)  # SHIPPED: no longer made
    step(made, 99, 404)
    step(ship, 99, 404, waybill)
    step(made, 0, 422)
    step(ship, LIFECYCLE_ORDER, 422, {"logistics_company": "顺丰速运"})
    response = requests.post(
        f"{stack.url}/orders/{LIFECYCLE_ORDER}/shipment?own_sign={OWN_SIGN}",
        data=b"SF1234567890",
        headers={"content-type": "text/plain"},
        timeout=10,
    )
    observed.add((ship.label, response.status_code))
    assert response.status_code == 415, response.text

    listing = _operation(schema, "GET /orders")
    first = listing.Case(query={"own_sign": OWN_SIGN, "limit": 1})
    page = _check(stack, first, observed).json()
    assert page["next"]
    for query, status in (
        ({"own_sign": OWN_SIGN, "limit": 1, "next": page["next"]}, 200),
        ({"own_sign": OWN_SIGN, "status": "SHIPPED"}, 200),
        ({"own_sign": OWN_SIGN, "limit": 0}, 422),
        ({"own_sign": OWN_SIGN, "next": page["next"][:-3]}, 422),  # cut short
        ({"own_sign": "pre", "next": page["next"]}, 422),  # another listing's
    ):
        assert _check(stack, listing.Case(query=query), observed).status_code == status


def _fuzz(stack: LocalStack, operation: Any, mode: Any, observed: Observed) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same requests on every run and machine
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def send(case: schemathesis.Case) -> None:
        _check(stack, case, observed)

    send()


def _check(stack: LocalStack, case: schemathesis.Case, observed: Observed) -> Any:
    response = case.call(base_url=stack.url, timeout=10)
    observed.add((case.operation.label, response.status_code))
    case.validate_response(response, checks=CHECKS)
    return response


def _spi_case(operation: Any, call: SpiCall) -> schemathesis.Case:
    """A signed SPI call as a schemathesis case. Form bodies are signed field by field, so
    the request schemathesis encodes verifies like the one the platform sends."""
    return operation.Case(
        query=dict(parse_qsl(call.raw_query)),
        body=dict(parse_qsl(call.body.decode())),
        media_type="application/x-www-form-urlencoded",
    )


def _schema() -> Any:
    # The committed document (test_openapi.py keeps it equal to what the code generates)
    return schemathesis.openapi.from_path(REPO / "docs" / "openapi.json")


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def _operation(schema: Any, label: str) -> Any:
    (operation,) = [op for op in _operations(schema) if op.label == label]
    return operation
