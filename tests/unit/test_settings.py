"""Per-function settings: each function's model reads its own variables, validated at once,
and a missing or bad one is named (never its value)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cardmaker import FUNCTION_SETTINGS, runtime
from cardmaker.settings import (
    AftercareSettings,
    DeliverySettings,
    FulfilmentSettings,
    GeneratorSettings,
    LifecycleEventsSettings,
    NoticeSettings,
    NotifierSettings,
    OperatorApiSettings,
    SpiSettings,
    StockDeadlineSettings,
)

SPI = {"ORDERS_TABLE_NAME": "orders", "TOP_SECRET_ID": "arn:top", "TOP_APP_KEY": "12345678"}
DELIVERY = {
    "ORDERS_TABLE_NAME": "orders",
    "CARDS_TABLE_NAME": "cards",
    "DELIVERIES_TABLE_NAME": "deliveries",
    "ETICKET_TABLE_NAME": "eticket",
    "CARD_KEY_ID": "key",
    "TOP_SECRET_ID": "arn:top",
}


def _problems(error: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {".".join(map(str, e["loc"])): e["msg"] for e in error.value.errors()}


def test_a_missing_variable_is_named():
    with pytest.raises(ValidationError) as raised:
        OperatorApiSettings.from_env(
            {
                "ORDERS_TABLE_NAME": "orders",
                "ETICKET_TABLE_NAME": "e",
                "AUDIT_TABLE_NAME": "a",
                "CARDS_TABLE_NAME": "cards",
                "CARD_NUMBER_SECRET_ID": "arn:numbers",
            }
            | FAILURE_QUEUES
        )
    assert set(_problems(raised)) == {"DELIVERIES_TABLE_NAME"}
    assert "DELIVERIES_TABLE_NAME" in str(raised.value)


def test_a_bad_value_is_named_but_never_shown():
    environ = {**SPI, "TOP_APP_SECRET": "s3cr3t-value", "SPI_MAX_AGE_SECONDS": "soon"}
    with pytest.raises(ValidationError) as raised:
        SpiSettings.from_env(environ)
    assert set(_problems(raised)) == {"SPI_MAX_AGE_SECONDS"}
    assert "s3cr3t-value" not in str(raised.value)
    assert "soon" not in str(raised.value)


def test_an_empty_variable_counts_as_unset():
    # template.yaml leaves the local-only TOP_APP_SECRET empty on AWS
    settings = SpiSettings.from_env({**SPI, "TOP_APP_SECRET": "", "SPI_MAX_AGE_SECONDS": ""})
    assert settings.top_app_secret is None
    assert settings.spi_policy.max_age == 300


def test_the_spi_needs_a_source_for_its_app_secret():
    with pytest.raises(ValidationError) as raised:
        SpiSettings.from_env({"ORDERS_TABLE_NAME": "orders", "TOP_APP_KEY": "12345678"})
    assert "TOP_SECRET_ID" in str(raised.value)
    local = SpiSettings.from_env(
        {"ORDERS_TABLE_NAME": "orders", "TOP_APP_KEY": "12345678", "TOP_APP_SECRET": "s"}
    )
    assert local.top_app_secret is not None
    assert local.top_app_secret.get_secret_value() == "s"


def test_the_spi_needs_our_app_key_and_takes_its_charset():
    # Without the app key every call would be refused for good: the function fails instead
    # (HTTP 500, which the platform retries until the key is configured).
    without_key = {name: value for name, value in SPI.items() if name != "TOP_APP_KEY"}
    for environ in (without_key, {**without_key, "TOP_APP_KEY": ""}):
        with pytest.raises(ValidationError) as raised:
            SpiSettings.from_env(environ)
        assert set(_problems(raised)) == {"TOP_APP_KEY"}
    policy = SpiSettings.from_env(SPI).spi_policy
    assert (policy.app_key, policy.charset) == ("12345678", "utf-8")
    assert SpiSettings.from_env({**SPI, "SPI_CHARSET": "gbk"}).spi_policy.charset == "gbk"
    with pytest.raises(ValidationError) as raised:
        SpiSettings.from_env({**SPI, "SPI_CHARSET": "koi8-r"})
    assert set(_problems(raised)) == {"SPI_CHARSET"}


def test_the_delivery_function_needs_no_session_key():
    # card.bind needs no session: a maker that only binds cards has none
    without_secret = {**DELIVERY, "TOP_APP_SECRET": "s"}
    del without_secret["TOP_SECRET_ID"]
    assert DeliverySettings.from_env(without_secret).top_session_key is None
    with pytest.raises(ValidationError, match="TOP_SECRET_ID"):
        DeliverySettings.from_env({**without_secret, "TOP_APP_SECRET": ""})


FAILURE_QUEUES = {
    f"{queue}_FAILURES_QUEUE_URL": f"https://sqs.example/{queue}"
    for queue in ("GENERATOR", "DELIVERY", "EVENTS", "NOTIFIER", "FULFILMENT")
}
OPERATOR_API = {
    "ORDERS_TABLE_NAME": "orders",
    "DELIVERIES_TABLE_NAME": "deliveries",
    "ETICKET_TABLE_NAME": "eticket",
    "AUDIT_TABLE_NAME": "audit",
    "CARDS_TABLE_NAME": "cards",
    "CARD_NUMBER_SECRET_ID": "arn:numbers",
    **FAILURE_QUEUES,
}


@pytest.mark.parametrize("settings", [DeliverySettings, OperatorApiSettings])
@pytest.mark.parametrize(
    "url",
    [
        "http://eco.taobao.com/router/rest",
        "http://user:pa55word@gw.api.tbsandbox.com/router/rest",
        "gw.api.tbsandbox.com/router/rest",
    ],
)
def test_a_plain_http_gateway_is_refused_naming_the_variable(settings, url):
    with pytest.raises(ValidationError) as raised:
        settings.from_env({**DELIVERY, **OPERATOR_API, "TOP_GATEWAY_URL": url})
    assert set(_problems(raised)) == {"TOP_GATEWAY_URL"}
    assert "TOP_GATEWAY_URL must be" in str(raised.value)
    assert "pa55word" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:3001/router/rest", "http://localhost/router/rest", "http://[::1]/r"],
)
def test_a_plain_http_gateway_on_loopback_is_taken(url):
    assert DeliverySettings.from_env({**DELIVERY, "TOP_GATEWAY_URL": url}).top_gateway_url == url


@pytest.mark.parametrize(
    ("url", "served"),
    [
        ("https://eco.taobao.com/router/rest", {"online"}),
        ("https://gw.api.taobao.com/router/rest", {"online"}),
        ("https://proxy.example.com/router/rest", {"online"}),
        ("https://gw.api.tbsandbox.com/router/rest", {"daily", "pre", "online"}),
        ("http://127.0.0.1:3001/router/rest", {"daily", "pre", "online"}),
    ],
)
def test_a_production_gateway_serves_online_orders_only(url, served):
    for settings in (DeliverySettings, OperatorApiSettings):
        model = settings.from_env({**DELIVERY, **OPERATOR_API, "TOP_GATEWAY_URL": url})
        assert {sign for sign in ("daily", "pre", "online") if model.serves_environment(sign)} == (
            served
        )


def test_parts_compose_into_each_functions_variables():
    assert OperatorApiSettings.variables() == {
        "ORDERS_TABLE_NAME",
        "DELIVERIES_TABLE_NAME",
        "ETICKET_TABLE_NAME",  # products, and a Taobao order's notices
        "AUDIT_TABLE_NAME",  # the operators' actions on record
        "TOP_GATEWAY_URL",  # which orders its gateway may deliver; it never calls it
        # why a delivery waits and the console's stock (the templates' cursors); GET
        # /cards/{card_no}: the card number inverted, the card's state read (never a
        # secret); a print run's release
        "CARDS_TABLE_NAME",
        "CARD_NUMBER_SECRET_ID",
        "CARD_NUMBER_LENGTH",
        "CARD_NUMBER_PREFIX",
        "CARD_CHECK_DIGIT",
        *FAILURE_QUEUES,  # the console's failures: the queues' counts, never a message
    }
    # the public notice function reads the e-voucher table and its secret, nothing else
    assert NoticeSettings.variables() == {
        "ETICKET_TABLE_NAME",
        "TOP_SECRET_ID",
        "ETICKET_NOTICE_SECRET",
        "SECRET_MAX_AGE_SECONDS",
        "ETICKET_NOTICE_WINDOW_SECONDS",
    }
    # the public SPI function reads nothing of cards, deliveries or outbound TOP calls
    assert not {name for name in SpiSettings.variables() if name.startswith(("CARD", "DELIVER"))}
    assert "TOP_SESSION_KEY" not in SpiSettings.variables()
    assert "TOP_SECRET_ID" not in GeneratorSettings.variables()
    assert set(FUNCTION_SETTINGS.values()) == {
        SpiSettings,
        NoticeSettings,
        OperatorApiSettings,
        GeneratorSettings,
        DeliverySettings,
        LifecycleEventsSettings,
        NotifierSettings,
        NoticeSettings,
        FulfilmentSettings,
        StockDeadlineSettings,
    }
    # e-voucher fulfilment reads what its aftercare needs (cards, the card key and the TOP
    # client's settings: a resend sends the same cards again) and never the SPI's app key
    # rules; the deadline only deliveries
    assert AftercareSettings.variables() <= FulfilmentSettings.variables()
    assert {"CARDS_TABLE_NAME", "CARD_KEY_ID", "TOP_SECRET_ID"} <= FulfilmentSettings.variables()
    assert "ETICKET_NOTICE_SECRET" not in FulfilmentSettings.variables()
    assert StockDeadlineSettings.variables() == {"DELIVERIES_TABLE_NAME"}
    # the lifecycle events are built from stream records alone: no table, key or secret
    assert LifecycleEventsSettings.variables() == {"LIFECYCLE_BUS_NAME"}
    # the notifier reads no cards, no deliveries, no card key
    assert not {
        name for name in NotifierSettings.variables() if name.startswith(("CARD", "DELIVER"))
    }


def test_the_notices_go_without_a_session_unless_configured():
    base = {"ORDERS_TABLE_NAME": "orders", "TOP_APP_SECRET": "s", "TOP_APP_KEY": "k"}
    assert NotifierSettings.from_env(base).notify_with_session is False
    assert NotifierSettings.from_env({**base, "NOTIFY_WITH_SESSION": "true"}).notify_with_session


def test_the_bind_app_key_defaults_to_our_own():
    settings = DeliverySettings.from_env({**DELIVERY, "TOP_APP_KEY": "12345678"})
    assert settings.bind_app_key == "12345678"
    other = DeliverySettings.from_env({**DELIVERY, "CARD_BIND_APP_KEY": "999"})
    assert other.bind_app_key == "999"


def test_a_function_validates_its_own_settings_at_its_first_service(monkeypatch):
    # Given the operator API's environment without its deliveries table
    monkeypatch.setenv("ORDERS_TABLE_NAME", "orders")
    monkeypatch.setenv("ETICKET_TABLE_NAME", "eticket")
    monkeypatch.setenv("AUDIT_TABLE_NAME", "audit")
    monkeypatch.setenv("CARDS_TABLE_NAME", "cards")
    monkeypatch.setenv("CARD_NUMBER_SECRET_ID", "arn:numbers")
    for name, value in FAILURE_QUEUES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DELIVERIES_TABLE_NAME", raising=False)
    runtime.reset()
    # When its first service is built, even one that needs only the orders table
    # Then the cold start fails, naming what is missing
    with pytest.raises(ValidationError, match="DELIVERIES_TABLE_NAME"):
        runtime.order_lookup()
    # and a value set later is read after a reset (tests and the local stack rely on it)
    monkeypatch.setenv("DELIVERIES_TABLE_NAME", "deliveries")
    runtime.reset()
    assert runtime.operator_api_settings().deliveries_table_name == "deliveries"


GENERATOR = {
    "ORDERS_TABLE_NAME": "orders",
    "CARDS_TABLE_NAME": "cards",
    "CARD_KEY_ID": "key",
    "CARD_NUMBER_SECRET_ID": "arn:numbers",
}


@pytest.mark.parametrize(
    ("length", "prefix", "check_digit"),
    [
        ("21", "3", "none"),  # 20 free digits: more than the permutation carries
        ("22", "3", "luhn"),
        ("30", "31019", "none"),
        ("8", "310", "none"),  # 5 free digits: fewer than a million card numbers
        ("9", "3101", "luhn"),
        ("17", "987654321098", "none"),
    ],
)
def test_the_card_number_scheme_needs_six_to_nineteen_free_digits(length, prefix, check_digit):
    environ = {
        **GENERATOR,
        "CARD_NUMBER_LENGTH": length,
        "CARD_NUMBER_PREFIX": prefix,
        "CARD_CHECK_DIGIT": check_digit,
    }
    with pytest.raises(ValidationError) as raised:
        GeneratorSettings.from_env(environ)
    message = str(raised.value)
    for variable in ("CARD_NUMBER_LENGTH", "CARD_NUMBER_PREFIX", "CARD_CHECK_DIGIT"):
        assert variable in message
    assert "6 to 19 free digits" in message
    assert "input_value" not in message
    assert prefix not in message


@pytest.mark.parametrize(
    ("length", "prefix", "check_digit", "free_digits"),
    [
        ("8", "31", "none", 6),
        ("20", "3", "none", 19),
        ("21", "3", "luhn", 19),
        ("30", "31019999901", "none", 19),
        ("23", "", "none", 19),  # an empty variable is unset: the default prefix, 3101
    ],
)
def test_the_edges_of_the_card_number_bound_are_accepted(length, prefix, check_digit, free_digits):
    environ = {
        **GENERATOR,
        "CARD_NUMBER_LENGTH": length,
        "CARD_NUMBER_PREFIX": prefix,
        "CARD_CHECK_DIGIT": check_digit,
    }
    settings = GeneratorSettings.from_env(environ)
    assert settings.card_number_scheme.free_digits == free_digits
    assert GeneratorSettings.from_env(GENERATOR).card_number_scheme.free_digits == 15


def test_the_notice_function_needs_a_source_for_its_secret():
    with pytest.raises(ValidationError) as raised:
        NoticeSettings.from_env({"ETICKET_TABLE_NAME": "eticket"})
    assert "TOP_SECRET_ID" in str(raised.value)
    local = NoticeSettings.from_env(
        {"ETICKET_TABLE_NAME": "eticket", "ETICKET_NOTICE_SECRET": "s3cr3t-notice"}
    )
    assert local.notice_policy.window_seconds == 600
    assert "s3cr3t-notice" not in repr(local)
