"""Wiring for the Lambda functions: each function's services, built once per cold start from
its own settings model (``cardmaker.settings``).

Handlers ask for what they need here; the first ask reads and validates the function's
settings, so a missing variable fails the cold start with its name. Tests and the local stack
call ``reset()`` to rebuild everything from a new environment.

Settings are read from ``os.environ``, unless the local stack has pinned an environment of its
own (``pin_environment``): there every function shares one process with the operator's CLI and
the tests, which change ``os.environ`` while the functions run in background threads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from cardmaker.audit.trail import AuditTrail
from cardmaker.cards.keys import KmsDataKeys
from cardmaker.cards.numbering import CardNumberer, CardNumberScheme
from cardmaker.cards.opening import SecretOpener
from cardmaker.cards.print_release import PrintReleases
from cardmaker.cards.state import CardLookup
from cardmaker.deliveries.sending import DeliverySender
from cardmaker.deliveries.service import DeliveryService
from cardmaker.eticket.aftercare import NoticeAftercare
from cardmaker.eticket.catalogue import ProductCatalogue
from cardmaker.eticket.deadline import StockDeadline
from cardmaker.eticket.failsend import FailsendSender
from cardmaker.eticket.fulfilment import NoticeFulfilment
from cardmaker.eticket.stock import NoticeStock
from cardmaker.eticket.wire import NoticePolicy
from cardmaker.events.bus import EventBridgeBus
from cardmaker.failures import FailureQueues
from cardmaker.generation.service import CardGenerator
from cardmaker.orders.lifecycle import OrderLifecycle
from cardmaker.orders.listing import OrderListing
from cardmaker.orders.notifying import WAVE, PlatformNotifier
from cardmaker.orders.service import OrderService
from cardmaker.orders.stock import StockLevels
from cardmaker.settings import (
    AftercareSettings,
    CardNumbering,
    DeliverySettings,
    FulfilmentSettings,
    GeneratorSettings,
    LifecycleEventsSettings,
    NoticeSettings,
    NotifierSettings,
    OperatorApiSettings,
    SpiSettings,
    StockDeadlineSettings,
    TopSecrets,
)
from cardmaker.store.aftercare import DynamoDBAftercareRepository
from cardmaker.store.audit import DynamoDBAuditLog
from cardmaker.store.cards import DynamoDBCardRepository
from cardmaker.store.clients import (
    dynamodb_client,
    events_client,
    kms_client,
    secretsmanager_client,
    sqs_client,
)
from cardmaker.store.deliveries import DynamoDBDeliveryRepository
from cardmaker.store.handed_out import DynamoDBHandedOut
from cardmaker.store.lifecycle import DynamoDBLifecycleRepository
from cardmaker.store.notice_deliveries import DynamoDBNoticeDeliveryRepository
from cardmaker.store.notices import DynamoDBNoticeRepository
from cardmaker.store.order_list import DynamoDBOrderIndex
from cardmaker.store.orders import DynamoDBGenerationRepository, DynamoDBOrderRepository
from cardmaker.store.products import DynamoDBProductRepository
from cardmaker.store.queues import SqsQueueDepths
from cardmaker.store.schema import now_iso
from cardmaker.store.sequences import DynamoDBSequenceIndex
from cardmaker.store.stock import DynamoDBStockOrders
from cardmaker.store.templates import DynamoDBTemplateRegistry
from cardmaker.top.client import TopClient
from cardmaker.top.credentials import FixedCredentials, StoredCredentials, TopCredentials
from cardmaker.top.spi import SpiPolicy


class _Pin:
    """The environment the settings are read from while the local stack runs."""

    environment: Mapping[str, str] | None = None


def pin_environment(environment: Mapping[str, str] | None) -> None:
    """Read every function's settings from ``environment`` from now on (``None``: from
    ``os.environ`` again), and forget what was built from the previous one."""
    _Pin.environment = dict(environment) if environment is not None else None
    reset()


def _environment() -> Mapping[str, str]:
    return os.environ if _Pin.environment is None else _Pin.environment


# --- TopSpiFunction -------------------------------------------------------------------------


@cache
def spi_settings() -> SpiSettings:
    return SpiSettings.from_env(_environment())


@cache
def order_service() -> OrderService:
    """Receives the platform's orders (and reads them back)."""
    return OrderService(DynamoDBOrderRepository(spi_settings().orders_table_name))


@cache
def spi_lifecycle() -> OrderLifecycle:
    """Answers the platform's status queries and records its receipts."""
    return OrderLifecycle(DynamoDBLifecycleRepository(spi_settings().orders_table_name))


@cache
def spi_templates() -> DynamoDBTemplateRegistry:
    """Registers the templates the platform announces."""
    return DynamoDBTemplateRegistry(spi_settings().orders_table_name)


def spi_policy() -> SpiPolicy:
    return spi_settings().spi_policy


def top_app_secret() -> str:
    """The app secret SPI calls are signed with: cached for ``SECRET_MAX_AGE_SECONDS`` so
    that a rotation is picked up."""
    return _top_secret(spi_settings(), "app_secret")


# --- EticketNoticeFunction -----------------------------------------------------------------


@cache
def notice_settings() -> NoticeSettings:
    return NoticeSettings.from_env(_environment())


@cache
def notice_store() -> DynamoDBNoticeRepository:
    """Records the platform's send-code notices."""
    return DynamoDBNoticeRepository(notice_settings().eticket_table_name)


def notice_policy() -> NoticePolicy:
    return notice_settings().notice_policy


def notice_secret(force: bool = False) -> str:
    """The secret notices are signed with: the local override, else the TOP secret's
    ``notice_secret``, cached for ``SECRET_MAX_AGE_SECONDS``; ``force`` reads past the cache
    (the endpoint does once before refusing a sign, so that a rotation costs nothing)."""
    settings = notice_settings()
    if settings.eticket_notice_secret is not None:
        return settings.eticket_notice_secret.get_secret_value()
    if settings.top_secret_id is None:
        raise ValueError("TOP_SECRET_ID is not set: no notice_secret to read")
    secret = _secrets_provider().get(
        settings.top_secret_id,
        transform="json",
        max_age=settings.secret_max_age_seconds,
        force_fetch=force,
    )
    if not isinstance(secret, dict) or not secret.get("notice_secret"):
        raise ValueError("the TOP secret has no notice_secret")
    return str(secret["notice_secret"])


# --- OperatorApiFunction --------------------------------------------------------------------


@cache
def operator_api_settings() -> OperatorApiSettings:
    return OperatorApiSettings.from_env(_environment())


@cache
def order_lookup() -> OrderService:
    """Reads orders for the operators."""
    return OrderService(DynamoDBOrderRepository(operator_api_settings().orders_table_name))


@cache
def order_lifecycle() -> OrderLifecycle:
    """The operators' steps of an order: made, shipped."""
    return OrderLifecycle(DynamoDBLifecycleRepository(operator_api_settings().orders_table_name))


@cache
def order_listing() -> OrderListing:
    """An environment's orders, a page at a time."""
    return OrderListing(DynamoDBOrderIndex(operator_api_settings().orders_table_name))


@cache
def order_templates() -> DynamoDBTemplateRegistry:
    """Which templates of an order the platform announced, for the order view."""
    return DynamoDBTemplateRegistry(operator_api_settings().orders_table_name)


@cache
def notice_lookup() -> DynamoDBNoticeRepository:
    """Reads the notices received for a Taobao order, for the operators."""
    return DynamoDBNoticeRepository(operator_api_settings().eticket_table_name)


@cache
def product_catalogue() -> ProductCatalogue:
    """Maps merchant codes to stocks, for the operators."""
    settings = operator_api_settings()
    return ProductCatalogue(
        DynamoDBProductRepository(settings.eticket_table_name),
        DynamoDBNoticeDeliveryRepository(settings.deliveries_table_name),
    )


@cache
def delivery_service() -> DeliveryService:
    settings = operator_api_settings()
    return DeliveryService(
        DynamoDBDeliveryRepository(settings.deliveries_table_name),
        DynamoDBOrderRepository(settings.orders_table_name),
        serves_environment=settings.serves_environment,
        # Only the templates' cursors: why a delivery waits (template.yaml: CardCursorsRead).
        stock=DynamoDBCardRepository(settings.cards_table_name),
    )


@cache
def audit_trail() -> AuditTrail:
    """Records the operators' actions (who, what, when) and reads them back."""
    return AuditTrail(DynamoDBAuditLog(operator_api_settings().audit_table_name))


@cache
def _lookup_number_key() -> bytes:
    """The numbering key, read once per cold start (it never changes), only when a card is
    looked up: the other routes never read it."""
    return _card_number_key(operator_api_settings())


def card_lookup() -> CardLookup:
    """Finds a card by its number and says where it stands. Built per lookup: a
    ``CardNumberer`` is not shared between threads (the local stack serves requests in
    threads), and building one costs less than a millisecond."""
    settings = operator_api_settings()
    cards = DynamoDBCardRepository(settings.cards_table_name, dynamodb_client())
    return CardLookup(
        CardNumberer(settings.card_number_scheme, _lookup_number_key()),
        DynamoDBSequenceIndex(settings.orders_table_name),
        DynamoDBOrderRepository(settings.orders_table_name),
        cards,
        DynamoDBDeliveryRepository(settings.deliveries_table_name),
    )


def card_number_scheme() -> CardNumberScheme:
    """The scheme card numbers are checked against before a lookup."""
    return operator_api_settings().card_number_scheme


@cache
def print_releases() -> PrintReleases:
    """Gives back what a print run claimed and has not printed."""
    settings = operator_api_settings()
    return PrintReleases(
        DynamoDBOrderRepository(settings.orders_table_name),
        DynamoDBCardRepository(settings.cards_table_name),
        DynamoDBDeliveryRepository(settings.deliveries_table_name),
        now_iso,
    )


@cache
def stock_levels() -> StockLevels:
    """An order's stock per template, for the console."""
    settings = operator_api_settings()
    return StockLevels(
        DynamoDBOrderRepository(settings.orders_table_name),
        DynamoDBHandedOut(settings.cards_table_name),
    )


@cache
def failure_queues() -> FailureQueues:
    """The failed batches waiting in each on-failure queue, for the console."""
    return FailureQueues(operator_api_settings().failure_queue_urls, SqsQueueDepths())


# --- CardGeneratorFunction ------------------------------------------------------------------


@cache
def generator_settings() -> GeneratorSettings:
    return GeneratorSettings.from_env(_environment())


@cache
def card_generator() -> CardGenerator:
    settings = generator_settings()
    return CardGenerator(
        orders=DynamoDBGenerationRepository(settings.orders_table_name),
        cards=DynamoDBCardRepository(settings.cards_table_name),
        numberer=CardNumberer(settings.card_number_scheme, _card_number_key(settings)),
        data_keys=KmsDataKeys(kms_client(), settings.card_key_id),
        chunk_size=settings.chunk_size,
        secret_length=settings.card_secret_length,
        max_attempts=settings.max_attempts,
    )


def _card_number_key(settings: CardNumbering) -> bytes:
    """The permutation key, read once per cold start: it never changes (see template.yaml)."""
    secret = _secrets_provider().get(settings.card_number_secret_id, transform="json")
    if not isinstance(secret, dict) or len(str(secret.get("key", ""))) < 32:
        raise ValueError("the card number secret needs a key of at least 32 characters")
    return str(secret["key"]).encode("utf-8")


# --- CardDeliveryFunction -------------------------------------------------------------------


@cache
def delivery_settings() -> DeliverySettings:
    return DeliverySettings.from_env(_environment())


@cache
def delivery_sender() -> DeliverySender:
    settings = delivery_settings()
    cards = DynamoDBCardRepository(settings.cards_table_name)
    deliveries = DynamoDBNoticeDeliveryRepository(settings.deliveries_table_name)
    orders = DynamoDBOrderRepository(settings.orders_table_name)
    return DeliverySender(
        deliveries,
        orders,
        cards,
        SecretOpener(cards, KmsDataKeys(kms_client(), settings.card_key_id)),
        _delivery_top(),
        bind_app_key=settings.bind_app_key,
        ka_list_shape=settings.eticket_ka_list_shape,
        max_attempts=settings.max_attempts,
        serves_environment=settings.serves_environment,
        notice_stock=NoticeStock(
            deliveries,
            DynamoDBProductRepository(settings.eticket_table_name),
            orders,
            DynamoDBStockOrders(settings.orders_table_name),
            cards,
        ),
    )


@cache
def failsend_sender() -> FailsendSender:
    """Sends the ma.failsend of the notice deliveries that gave up on stock."""
    return FailsendSender(
        DynamoDBNoticeDeliveryRepository(delivery_settings().deliveries_table_name),
        _delivery_top(),
    )


@cache
def _delivery_top() -> TopClient:
    return _top_client(delivery_settings())


# --- EticketFulfilmentFunction --------------------------------------------------------------


@cache
def fulfilment_settings() -> FulfilmentSettings:
    return FulfilmentSettings.from_env(_environment())


@cache
def notice_fulfilment() -> NoticeFulfilment:
    """Turns a send notice into its delivery."""
    settings = fulfilment_settings()
    return NoticeFulfilment(
        DynamoDBNoticeDeliveryRepository(settings.deliveries_table_name),
        DynamoDBProductRepository(settings.eticket_table_name),
        stock_wait_seconds=settings.eticket_stock_wait_seconds,
    )


@cache
def fulfilment_notices() -> DynamoDBNoticeRepository:
    """Records what became of each notice."""
    return DynamoDBNoticeRepository(fulfilment_settings().eticket_table_name)


# --- StockDeadlineFunction ------------------------------------------------------------------


@cache
def stock_deadline_settings() -> StockDeadlineSettings:
    return StockDeadlineSettings.from_env(_environment())


@cache
def stock_deadline() -> StockDeadline:
    """Gives up on the notice deliveries past their stock deadline."""
    return StockDeadline(
        DynamoDBNoticeDeliveryRepository(stock_deadline_settings().deliveries_table_name)
    )


# --- e-voucher notices after send (EticketFulfilmentFunction) ------------------------------


@cache
def aftercare_settings() -> AftercareSettings:
    return AftercareSettings.from_env(_environment())


@cache
def notice_aftercare() -> NoticeAftercare:
    """Acts on resend, cancel, modified and order_modify notices."""
    settings = aftercare_settings()
    cards = DynamoDBCardRepository(settings.cards_table_name)
    return NoticeAftercare(
        DynamoDBAftercareRepository(settings.deliveries_table_name),
        cards,
        SecretOpener(cards, KmsDataKeys(kms_client(), settings.card_key_id)),
        _top_client(settings),
        ka_list_shape=settings.eticket_ka_list_shape,
        now=now_iso,
    )


# --- PlatformNotifierFunction ---------------------------------------------------------------


@cache
def notifier_settings() -> NotifierSettings:
    return NotifierSettings.from_env(_environment())


@cache
def platform_notifier() -> PlatformNotifier:
    settings = notifier_settings()
    top = _top_client(settings)
    return PlatformNotifier(
        DynamoDBLifecycleRepository(settings.orders_table_name),
        DynamoDBTemplateRegistry(settings.orders_table_name),
        top,
        with_session=settings.notify_with_session,
        max_attempts=settings.max_attempts,
        serves_environment=settings.serves_environment,
        wave_seconds=WAVE * _longest_call_seconds(top),
    )


def _longest_call_seconds(top: TopClient) -> float:
    """The longest one TOP call may take: every attempt waiting out its timeouts, and the
    longest backoff before each retry."""
    connect, read = top.timeout
    return top.max_attempts * (connect + read + top.max_delay)


# --- shared TOP credentials -----------------------------------------------------------------


def _top_client(settings: DeliverySettings | NotifierSettings | AftercareSettings) -> TopClient:
    """The signed TOP client of a function that calls the gateway (deliveries, notices)."""
    return TopClient(
        settings.top_gateway_url,
        settings.top_app_key,
        top_credentials(settings),
        sign_method=settings.top_sign_method,
        simplify=settings.top_simplify,
        timeout=(3.05, settings.top_read_timeout_seconds),
    )


def top_credentials(
    settings: DeliverySettings | NotifierSettings | AftercareSettings,
) -> TopCredentials:
    """What outbound calls are signed with, read on each call through the cached provider
    (``SECRET_MAX_AGE_SECONDS``), so that a rotation reaches deliveries as it reaches the SPI
    function; the TOP client forces a fresh read when the gateway refuses a sign or session."""
    app_secret = settings.top_app_secret
    session_key = settings.top_session_key
    secret_id = settings.top_secret_id
    if secret_id is None:  # local use
        if app_secret is None:
            raise ValueError("set TOP_SECRET_ID (or TOP_APP_SECRET, for local use)")
        return FixedCredentials(
            app_secret.get_secret_value(),
            session_key.get_secret_value() if session_key is not None else None,
        )

    def read(force: bool) -> object:
        return _secrets_provider().get(
            secret_id,
            transform="json",
            max_age=settings.secret_max_age_seconds,
            force_fetch=force,
        )

    return StoredCredentials(
        read,
        app_secret=app_secret.get_secret_value() if app_secret is not None else None,
        session_key=session_key.get_secret_value() if session_key is not None else None,
    )


# --- LifecycleEventsFunction ----------------------------------------------------------------


@cache
def lifecycle_events_settings() -> LifecycleEventsSettings:
    return LifecycleEventsSettings.from_env(_environment())


@cache
def lifecycle_bus() -> EventBridgeBus:
    """Where the lifecycle events go (``LIFECYCLE_BUS_NAME``)."""
    return EventBridgeBus(events_client(), lifecycle_events_settings().lifecycle_bus_name)


# --- shared -------------------------------------------------------------------------------


@cache
def _secrets_provider() -> SecretsProvider:
    return SecretsProvider(boto3_client=secretsmanager_client())


def _top_secret(settings: TopSecrets, name: str) -> str:
    """``app_secret`` or ``session_key``: the local override for the app secret, else the
    TOP secret's field (the settings guarantee one of them is configured)."""
    if name == "app_secret" and settings.top_app_secret is not None:
        return settings.top_app_secret.get_secret_value()
    if settings.top_secret_id is None:
        raise ValueError(f"TOP_SECRET_ID is not set: no {name} to read")
    secret = _secrets_provider().get(
        settings.top_secret_id, transform="json", max_age=settings.secret_max_age_seconds
    )
    if not isinstance(secret, dict) or not secret.get(name):
        raise ValueError(f"the TOP secret has no {name}")
    return str(secret[name])


def reset() -> None:
    """Forget every cached setting, client and service."""
    for cached in (
        spi_settings,
        order_service,
        spi_lifecycle,
        spi_templates,
        notice_settings,
        notice_store,
        operator_api_settings,
        notice_lookup,
        order_lookup,
        order_lifecycle,
        order_listing,
        order_templates,
        delivery_service,
        audit_trail,
        _lookup_number_key,
        print_releases,
        generator_settings,
        card_generator,
        delivery_settings,
        delivery_sender,
        aftercare_settings,
        notice_aftercare,
        failsend_sender,
        _delivery_top,
        fulfilment_settings,
        notice_fulfilment,
        fulfilment_notices,
        stock_deadline_settings,
        stock_deadline,
        product_catalogue,
        stock_levels,
        failure_queues,
        lifecycle_events_settings,
        lifecycle_bus,
        notifier_settings,
        platform_notifier,
        _secrets_provider,
        dynamodb_client,
        events_client,
        kms_client,
        secretsmanager_client,
        sqs_client,
    ):
        cached.cache_clear()
