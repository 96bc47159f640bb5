"""GET /orders/{card_order_id} through the handler."""

from __future__ import annotations

import json

import boto3
import pytest

from cardmaker import runtime
from cardmaker_cli.samples import sample_order
from local.platform import sign_demo_call
from tests.conftest import order_event, spi_event


def test_unknown_order_is_404(invoke):
    answer = invoke(order_event(123456))
    assert answer["statusCode"] == 404
    assert "does not exist" in json.loads(answer["body"])["message"]


def test_order_is_found_only_in_its_own_environment(invoke):
    invoke(spi_event(sign_demo_call(sample_order(77, "pre"))))
    assert invoke(order_event(77, "pre"))["statusCode"] == 200
    assert invoke(order_event(77, "daily"))["statusCode"] == 404
    assert invoke(order_event(77, None))["statusCode"] == 404  # default environment: online


@pytest.mark.parametrize(
    ("card_order_id", "own_sign", "field"),
    [("abc", "daily", "card_order_id"), ("0", "daily", "card_order_id"), ("1", "prod", "own_sign")],
)
def test_invalid_lookups_are_422_with_the_failing_field(invoke, card_order_id, own_sign, field):
    answer = invoke(order_event(card_order_id, own_sign))
    assert answer["statusCode"] == 422
    failing = [error["loc"][-1] for error in json.loads(answer["body"])["detail"]]
    assert failing == [field]


def test_app_secret_comes_from_secrets_manager_once(invoke, monkeypatch):
    # Given a session-level hook counting GetSecretValue calls (the provider's client is built
    # lazily, after the hook is in place)
    calls = []
    session = boto3.DEFAULT_SESSION or boto3.setup_default_session() or boto3.DEFAULT_SESSION
    session.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda **_: calls.append(1)
    )
    monkeypatch.delenv("TOP_APP_SECRET", raising=False)
    runtime.reset()
    # When five orders arrive
    answers = [invoke(spi_event(sign_demo_call(sample_order(n)))) for n in range(1, 6)]
    # Then all verify, with one read of the secret
    assert all(json.loads(answer["body"])["response"]["success"] for answer in answers)
    assert len(calls) == 1
