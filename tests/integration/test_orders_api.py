"""GET /orders/{card_order_id} through the handler."""

from __future__ import annotations

import json

import pytest

from local.platform import sample_order, sign_spi_call
from tests.conftest import order_event, spi_event


def test_unknown_order_is_404(invoke):
    answer = invoke(order_event(123456))
    assert answer["statusCode"] == 404
    assert "does not exist" in json.loads(answer["body"])["message"]


def test_order_is_found_only_in_its_own_environment(invoke):
    invoke(spi_event(sign_spi_call(sample_order(77, "pre"))))
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
