"""Every sample event in events/ runs through the handler as `sam local invoke` would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardmaker import runtime
from local.events import EVENTS, render, sample_events
from tests.conftest import spi_response


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def sam_local_env(stack, monkeypatch):
    """events/env.json, as `sam local invoke --env-vars events/env.json` applies it."""
    overrides = json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))["HttpApiFunction"]
    for name, value in overrides.items():
        if name != "ORDERS_TABLE_NAME":  # the sample names no real table
            monkeypatch.setenv(name, value)
    runtime.reset()


EXPECTED_SPI = {
    "spi_order_json.json": (True, "SUCCESS"),
    "spi_order_form.json": (True, "SUCCESS"),
    "spi_forged_signature.json": (False, "INVALID_SIGNATURE"),
}


def test_every_event_file_is_exercised():
    assert {path.name for path in Path(EVENTS).glob("*.json")} - {"env.json"} == {
        *EXPECTED_SPI,
        "get_order.json",
    }


@pytest.mark.parametrize("name", sorted(EXPECTED_SPI))
def test_spi_events(sam_local_env, invoke, table_items, name):
    answer = invoke(load(name))
    assert answer["statusCode"] == 200
    response = spi_response(answer)
    assert (response["success"], response["result_code"]) == EXPECTED_SPI[name]
    assert len(table_items()) == (1 if response["success"] else 0)


def test_get_order_event(sam_local_env, invoke):
    assert invoke(load("get_order.json"))["statusCode"] == 404
    invoke(load("spi_order_json.json"))
    answer = invoke(load("get_order.json"))
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["status"] == "RECEIVED"


def test_event_files_match_their_generator():
    for name, event in sample_events().items():
        assert (EVENTS / name).read_text(encoding="utf-8") == render(event), (
            f"events/{name} is stale: run python -m local.events"
        )
