"""Hostile input to every HTTP route of the local stack, over real HTTP on 127.0.0.1: the
short version of ``python -m chaos hostile_input`` (the same probes and judge, fewer
examples, derandomized). Existing tests cover each SPI refusal one by one
(tests/unit/test_spi_verification.py, tests/integration/test_spi_endpoint.py) and the
documented answers (tests/e2e/test_openapi_fuzz.py); this is the adversarial layer on top."""

from __future__ import annotations

import json

import pytest
import requests

from chaos._evidence import changed_items, leaked, snapshot, stack_secrets
from chaos._hostile_probes import (
    GET_DELIVERY,
    GET_NOTICES,
    GET_ORDER,
    LIST_ORDERS,
    NOTICE,
    POST_DELIVERY,
    POST_MADE,
    POST_SHIPMENT,
    SPI,
    Probe,
    Request,
    compact,
    fresh_order,
    signed_call,
)
from chaos._raw_http import send_raw
from chaos.hostile_input import (
    DEEP_JSON_DEPTH,
    SEED_ORDER,
    Attacker,
    attack,
    nesting_depth,
    seed,
)
from local.platform import sample_delivery
from local.stack import LocalStack
from local.top_gateway import MA_SEND

EXAMPLES = 12  # per strategy: about 80 inputs, some seconds
pytestmark = pytest.mark.stack_owns_environment  # its local stack outlives each test


@pytest.fixture(scope="module")
def stack(stack: LocalStack) -> LocalStack:
    """The local stack with the seed order generated and one e-voucher delivery sent."""
    seed(stack)
    return stack


def test_hostile_input_is_refused_without_writes_5xx_or_secrets(stack):
    # When every strategy sends its hostile inputs, and every accepted one is replayed
    figures = attack(stack, EXAMPLES, derandomize=True)
    # Then the attack reached every route and both outcomes
    assert figures.tried >= 6 * EXAMPLES
    routes = {
        SPI,
        GET_ORDER,
        POST_DELIVERY,
        GET_DELIVERY,
        LIST_ORDERS,
        POST_MADE,
        POST_SHIPMENT,
        NOTICE,
        GET_NOTICES,
    }
    assert routes <= set(figures.by_route)
    assert figures.refused > figures.accepted > 0, figures.figures()
    # And every invariant held
    assert figures.violations == []
    assert figures.writes_for_refused == 0
    assert figures.server_errors == 0
    assert figures.secret_leaks == 0
    assert figures.must_refuse_accepted == 0
    assert figures.replays == figures.accepted
    assert (figures.replay_mismatches, figures.replay_writes) == (0, 0)
    # and the order-step probes took the seed order's steps (then repeated them: the same
    # answer, no write), the rest of them refused without a write
    answer = requests.get(
        f"{stack.url}/orders/{SEED_ORDER}", params={"own_sign": "daily"}, timeout=10
    )
    assert answer.json()["status"] == "SHIPPED"
    # and the platform's lifecycle calls were among the signed hostile inputs, each method
    lifecycle = [kind for kind in figures.by_kind if kind.startswith("spi_signed_")]
    for method in ("status_query", "template_new", "receipt"):
        assert any(kind.startswith(f"spi_signed_{method}_") for kind in lifecycle), lifecycle
    # and notices: forged, stale, replayed (each accepted one), oversized, wrong charset,
    # missing fields, each refused or recorded, none lost (a recorded one is there)
    kinds = set(figures.by_kind)
    for kind in (
        "notice_tampered_wrong_secret",
        "notice_tampered_stale_timestamp",
        "notice_oversized_signed",
        "notice_not_gbk",
        "notice_send_without_token",
        "notice_unsigned",
    ):
        assert kind in kinds, sorted(kinds)
    assert any(kind.startswith("notice_signed_hostile_") for kind in kinds)
    recorded = stack.client("dynamodb").scan(
        TableName=stack.stack.physical["EticketTable"], Select="COUNT", ConsistentRead=True
    )
    assert recorded["Count"] > 0  # some signed hostile notices were valid, and recorded


def test_a_tampered_probe_that_is_accepted_is_caught(stack):
    # Given a probe said to need refusing that is in fact a valid signed order
    attacker = Attacker(stack)
    body = compact(fresh_order())
    probe = Probe("valid_in_disguise", SPI, lambda: signed_call(body).request(), True)
    # When the attacker sends it
    attacker.send(probe)
    # Then the judge counts it (the real attack's zero means something)
    assert attacker.figures.must_refuse_accepted == 1
    assert attacker.figures.replays == 1
    assert attacker.figures.replay_mismatches == 0


def test_a_repeated_delivery_is_the_same_delivery_and_writes_nothing(stack):
    # Given a valid delivery (carried out between the first call and its repeat)
    body = sample_delivery("bind", SEED_ORDER, "daily", "T1", out_biz_id="repeat", quantity=1)
    raw = json.dumps(body).encode()
    request = Request(b"POST", b"/deliveries", [(b"Content-Type", b"application/json")], raw)
    attacker = Attacker(stack)
    # When the attacker sends it (and repeats it, as for every accepted input)
    attacker.send(Probe("valid_delivery", POST_DELIVERY, lambda: request, False))
    # Then the repeat answered the same delivery and wrote nothing
    figures = attacker.figures
    assert (figures.accepted, figures.replays) == (1, 1)
    assert (figures.replay_mismatches, figures.replay_writes) == (0, 0), figures.violations


def test_the_write_check_sees_a_write(stack):
    before = snapshot(stack)
    request = signed_call(compact(fresh_order())).request()
    answer = send_raw(stack.url, request.method, request.target, request.headers, request.body)
    assert b'"success":true' in answer.body
    stack.wait_idle(60)
    assert changed_items(before, snapshot(stack)) >= 1


def test_the_secret_check_knows_every_secret_that_travelled(stack):
    # The card secrets the seed delivery sent to the gateway, the app secret, the session key
    secrets = stack_secrets(stack)
    sent = [
        entry["ka_mi"]
        for call in stack.top_gateway.calls_of(MA_SEND)
        for entry in call.structs["isv_ka_list"]
    ]
    assert sent, "the seed delivery sent card secrets"
    for secret in [*sent, stack.top.app_secret, stack.top.session_key]:
        assert leaked(f'{{"x": "{secret}"}}'.encode(), secrets) >= 1
    # And data keys appear in them as raw bytes, hex and base64 (3 forms of each)
    assert len(secrets) >= 3 + len(sent) + 3


def test_deeply_nested_delivery_body_is_refused(stack):
    body = b"[" * DEEP_JSON_DEPTH + b"]" * DEEP_JSON_DEPTH
    assert nesting_depth(body) == DEEP_JSON_DEPTH
    before = snapshot(stack)
    answer = requests.post(
        f"{stack.url}/deliveries",
        data=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert changed_items(before, snapshot(stack)) == 0
    assert answer.status_code == 422, answer.text


def test_deeply_nested_spi_body_is_refused_as_invalid_json(stack):
    # Signed, so that it reaches the parser
    text = compact(fresh_order())[:-1] + ',"x":' + "[" * 100_000 + "]" * 100_000 + "}"
    request = signed_call(text).request()
    before = snapshot(stack)
    answer = send_raw(stack.url, request.method, request.target, request.headers, request.body)
    assert answer.status == 200
    assert b'"result_code":"INVALID_PARAMETER"' in answer.body
    assert changed_items(before, snapshot(stack)) == 0


def test_seed_order_is_what_hostile_deliveries_and_order_steps_aim_at(stack):
    answer = requests.get(
        f"{stack.url}/orders/{SEED_ORDER}", params={"own_sign": "daily"}, timeout=10
    )
    # Its cards exist; the order-step probes may have made and shipped it meanwhile
    assert answer.json()["status"] in {"GENERATED", "MADE", "SHIPPED"}
