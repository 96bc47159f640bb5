"""Configuration: one settings model per function, composed from shared parts.

Each part is a few environment variables that belong together (a table, the TOP secrets, the
card-number scheme...); a function's model inherits the parts it needs, so its fields are
exactly the variables template.yaml gives that function. A model is read from the
environment once per cold start (``runtime``); a missing or bad variable fails there, with
the variable's name and never its value.

Field names are the variables' names in lower case: ``orders_table_name`` is
``ORDERS_TABLE_NAME``. An empty variable counts as unset (template.yaml leaves local-only
overrides empty on AWS).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from cardmaker.cards.numbering import (
    MAX_FREE_DIGITS,
    MIN_FREE_DIGITS,
    CardNumberScheme,
    CheckDigit,
)
from cardmaker.eticket.wire import NoticePolicy
from cardmaker.top.gateways import check_gateway_url, serves_environment
from cardmaker.top.signing import SignMethod
from cardmaker.top.spi import SpiCharset, SpiPolicy


class _Settings(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        alias_generator=str.upper,
        # Errors name the variable, never echo the environment (it holds secrets).
        hide_input_in_errors=True,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        """Read and validate the model's variables; raises pydantic's ``ValidationError``."""
        return cls.model_validate(
            {name: environ[name] for name in cls.variables() if environ.get(name, "") != ""}
        )

    @classmethod
    def variables(cls) -> set[str]:
        """The environment variables the model reads."""
        return {field.alias or name.upper() for name, field in cls.model_fields.items()}


# --- parts --------------------------------------------------------------------------------


class OrdersTable(_Settings):
    orders_table_name: str = Field(min_length=1)


class CardsTable(_Settings):
    cards_table_name: str = Field(min_length=1)


class DeliveriesTable(_Settings):
    deliveries_table_name: str = Field(min_length=1)


class EticketTable(_Settings):
    """The e-voucher table: send-code notices and products."""

    eticket_table_name: str = Field(min_length=1)


class AuditTable(_Settings):
    """The audit trail's table: the functions only append to it."""

    audit_table_name: str = Field(min_length=1)


class FailureQueueUrls(_Settings):
    """The on-failure queues, for ``GET /failures`` (their counts, never their messages)."""

    generator_failures_queue_url: str = Field(min_length=1)
    delivery_failures_queue_url: str = Field(min_length=1)
    events_failures_queue_url: str = Field(min_length=1)
    notifier_failures_queue_url: str = Field(min_length=1)
    fulfilment_failures_queue_url: str = Field(min_length=1)

    @property
    def failure_queue_urls(self) -> dict[str, str]:
        """By the names ``cardmaker dlq --queue`` takes."""
        return {
            "generator": self.generator_failures_queue_url,
            "delivery": self.delivery_failures_queue_url,
            "events": self.events_failures_queue_url,
            "notifier": self.notifier_failures_queue_url,
            "fulfilment": self.fulfilment_failures_queue_url,
        }


class CardKey(_Settings):
    """The KMS key that wraps each chunk's data key (the card secrets are sealed under it)."""

    card_key_id: str = Field(min_length=1)


class CardNumbering(_Settings):
    """The card-number scheme and its permutation key (read from Secrets Manager)."""

    card_number_secret_id: str = Field(min_length=1)
    card_number_length: int = Field(default=19, ge=8, le=30)
    card_number_prefix: str = Field(default="3101", pattern=r"^[0-9]{0,12}$")
    card_check_digit: CheckDigit = "none"

    @model_validator(mode="after")
    def _scheme_fits_the_permutation(self) -> Self:
        # The bound depends on all three variables together (template.yaml's parameters can
        # only bound each alone): checked here so that a bad scheme stops the generator at
        # cold start, before it numbers a card. The message names the variables, never values.
        free_digits = (
            self.card_number_length
            - len(self.card_number_prefix)
            - (1 if self.card_check_digit == "luhn" else 0)
        )
        if not MIN_FREE_DIGITS <= free_digits <= MAX_FREE_DIGITS:
            raise ValueError(
                "CARD_NUMBER_LENGTH minus the digits of CARD_NUMBER_PREFIX minus the check digit"
                f" (CARD_CHECK_DIGIT luhn) must leave {MIN_FREE_DIGITS} to {MAX_FREE_DIGITS} free"
                " digits"
            )
        return self

    @property
    def card_number_scheme(self) -> CardNumberScheme:
        return CardNumberScheme(
            length=self.card_number_length,
            prefix=self.card_number_prefix,
            check_digit=self.card_check_digit,
        )


class StreamRetries(_Settings):
    # Retries of a stream record (the template's StreamMaxRetries): the stream functions know
    # their last attempt by it.
    stream_max_retries: int = Field(default=4, ge=0, le=10)

    @property
    def max_attempts(self) -> int:
        return self.stream_max_retries + 1


class TopSecrets(_Settings):
    """The TOP app secret: from Secrets Manager (TOP_SECRET_ID, a JSON secret with
    ``app_secret`` and, for ``ma.send``, ``session_key``) on AWS; TOP_APP_SECRET overrides it
    for local use."""

    top_secret_id: str | None = None
    top_app_secret: SecretStr | None = None
    # How long a read secret is kept: a rotation is picked up within this time.
    secret_max_age_seconds: int = Field(default=300, ge=0)

    @model_validator(mode="after")
    def _app_secret_has_a_source(self) -> Self:
        if self.top_secret_id is None and self.top_app_secret is None:
            raise ValueError("set TOP_SECRET_ID (or TOP_APP_SECRET, for local use)")
        return self


class TopGateway(_Settings):
    """The TOP gateway deliveries go through: https (http only to a loopback address), and
    which platform environments' orders it may deliver (``cardmaker.top.gateways``)."""

    top_gateway_url: str = "https://eco.taobao.com/router/rest"

    @field_validator("top_gateway_url")
    @classmethod
    def _safe_gateway(cls, url: str) -> str:
        return check_gateway_url(url, "TOP_GATEWAY_URL")

    def serves_environment(self, own_sign: str) -> bool:
        """A production gateway delivers only ``online`` orders: test cards never reach a
        real buyer."""
        return serves_environment(self.top_gateway_url, own_sign)


class TopOutbound(TopGateway):
    """Calls this back office makes to the TOP gateway."""

    top_app_key: str = ""
    # From the TOP secret unless TOP_SESSION_KEY overrides it (local use). Optional: only
    # ma.send needs a session; a maker that only binds cards has none.
    top_session_key: SecretStr | None = None
    top_sign_method: SignMethod = "hmac-sha256"
    # Ask TOP for simplified JSON answers (no root wrapper, no list wrapping); both are read.
    top_simplify: bool = False
    # How long a TOP call may take to answer once sent; past it the outcome is unknown.
    top_read_timeout_seconds: float = Field(default=10.0, gt=0, le=30)


class NoticeSecret(_Settings):
    """The e-voucher notice secret (its own key, not the app secret, platform-apis.md §4.3):
    the TOP secret's ``notice_secret`` field (TOP_SECRET_ID) on AWS; ETICKET_NOTICE_SECRET
    overrides it for local use."""

    top_secret_id: str | None = None
    eticket_notice_secret: SecretStr | None = None
    secret_max_age_seconds: int = Field(default=300, ge=0)

    @model_validator(mode="after")
    def _notice_secret_has_a_source(self) -> Self:
        if self.top_secret_id is None and self.eticket_notice_secret is None:
            raise ValueError("set TOP_SECRET_ID (or ETICKET_NOTICE_SECRET, for local use)")
        return self


class SpiLimits(_Settings):
    """Whose SPI calls are taken and how strictly: our app key, the integration's charset,
    the timestamp window and body size."""

    # Required: without it every call would be refused, and a refused order is not retried.
    top_app_key: str = Field(min_length=1)
    spi_charset: SpiCharset = "utf-8"
    spi_max_age_seconds: int = Field(default=300, ge=1)
    spi_max_future_seconds: int = Field(default=180, ge=0)
    spi_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    @property
    def spi_policy(self) -> SpiPolicy:
        return SpiPolicy(
            app_key=self.top_app_key,
            charset=self.spi_charset,
            max_age=self.spi_max_age_seconds,
            max_future=self.spi_max_future_seconds,
            max_body_bytes=self.spi_max_body_bytes,
        )


# --- one model per function ---------------------------------------------------------------


class SpiSettings(OrdersTable, TopSecrets, SpiLimits):
    """TopSpiFunction: verifies the platform's SPI calls and stores the orders."""


class NoticeSettings(EticketTable, NoticeSecret):
    """EticketNoticeFunction: verifies the platform's send-code notices and records them."""

    # How far a notice's timestamp may be from now, either way (no source gives the
    # platform's own window, platform-apis.md §4.3). The template bounds it to 60-3600 s;
    # `sam local invoke` of the dated sample events widens it (events/env.json).
    eticket_notice_window_seconds: int = Field(default=600, ge=1)

    @property
    def notice_policy(self) -> NoticePolicy:
        return NoticePolicy(window_seconds=self.eticket_notice_window_seconds)


class OperatorApiSettings(
    OrdersTable,
    DeliveriesTable,
    EticketTable,
    AuditTable,
    CardsTable,
    CardNumbering,
    FailureQueueUrls,
    TopGateway,
):
    """OperatorApiFunction: reads orders, records, reads, lists and cancels deliveries
    (refusing those the TOP gateway may not deliver, before anything is recorded; saying
    why one waits from its template's cursor), reads the notices received for a Taobao
    order, looks cards up by number (the numbering key, read on the first lookup), releases
    print runs, keeps the audit trail of the operators' actions, and for the console counts
    the templates' stock (their cursors) and the on-failure queues' messages (never one)."""


class GeneratorSettings(OrdersTable, CardsTable, CardKey, CardNumbering, StreamRetries):
    """CardGeneratorFunction: plans orders into chunks and generates their cards."""

    card_secret_length: int = Field(default=16, ge=16, le=64)
    chunk_size: int = Field(default=5000, ge=1, le=100_000)


class DeliverySettings(
    OrdersTable,
    CardsTable,
    DeliveriesTable,
    EticketTable,
    CardKey,
    TopSecrets,
    TopOutbound,
    StreamRetries,
):
    """CardDeliveryFunction: hands cards out through TOP (ma.send, card.bind, and for
    send-code notices from their product's stock, ma.failsend when it has none)."""

    # card.bind's top_app_key: our own app key unless the platform assigned another one.
    card_bind_app_key: str = ""
    # How isv_ka_list travels (the seed is ambiguous): "array" or "object".
    eticket_ka_list_shape: Literal["array", "object"] = "array"

    @property
    def bind_app_key(self) -> str:
        return self.card_bind_app_key or self.top_app_key


class AftercareSettings(CardsTable, DeliveriesTable, CardKey, TopSecrets, TopOutbound):
    """What acting on resend / cancel / modified / order_modify notices needs (the e-voucher
    fulfilment function reads these too): the deliveries and cards tables, the card key to
    open secrets for a resend, and the TOP client's settings for ma.resend / ma.send."""

    eticket_ka_list_shape: Literal["array", "object"] = "array"


class FulfilmentSettings(AftercareSettings, EticketTable, StreamRetries):
    """EticketFulfilmentFunction: acts on each recorded send-code notice (a send makes its
    delivery; resend, cancel and changes go to the aftercare)."""

    # How long a send notice's delivery waits for stock (a mapping, enough cards) before
    # ma.failsend.
    eticket_stock_wait_seconds: int = Field(default=600, ge=0, le=86400)


class StockDeadlineSettings(DeliveriesTable):
    """StockDeadlineFunction: gives up on the notice deliveries past their stock deadline."""


class LifecycleEventsSettings(_Settings):
    """LifecycleEventsFunction: publishes the orders' and deliveries' lifecycle to the bus."""

    lifecycle_bus_name: str = Field(min_length=1)


class NotifierSettings(OrdersTable, TopSecrets, TopOutbound, StreamRetries):
    """PlatformNotifierFunction: tells the platform an order was made and shipped
    (make.finish, status.sended) and makes orders of test templates MADE."""

    # Whether make.finish / status.sended need a TOP session is not documented
    # (platform-apis.md §7.3): sent without one unless this says so.
    notify_with_session: bool = False


FUNCTION_SETTINGS: dict[str, type[_Settings]] = {
    "TopSpiFunction": SpiSettings,
    "EticketNoticeFunction": NoticeSettings,
    "OperatorApiFunction": OperatorApiSettings,
    "CardGeneratorFunction": GeneratorSettings,
    "CardDeliveryFunction": DeliverySettings,
    "EticketFulfilmentFunction": FulfilmentSettings,
    "StockDeadlineFunction": StockDeadlineSettings,
    "LifecycleEventsFunction": LifecycleEventsSettings,
    "PlatformNotifierFunction": NotifierSettings,
}
"""Each function of template.yaml (by logical id) and the settings it reads."""
