"""Wiring for the Lambda functions: services built once per cold start from the settings.

Handlers ask for what they need here; tests and the local stack call ``reset()`` to rebuild
everything from a new environment.
"""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from cardmaker.cards.keys import KmsDataKeys
from cardmaker.cards.numbering import CardNumberer, CardNumberScheme
from cardmaker.cards.opening import SecretOpener
from cardmaker.deliveries.sending import DeliverySender
from cardmaker.deliveries.service import DeliveryService
from cardmaker.generation.service import CardGenerator
from cardmaker.orders.service import OrderService
from cardmaker.settings import get_settings
from cardmaker.store.cards import DynamoDBCardRepository
from cardmaker.store.clients import dynamodb_client, kms_client, secretsmanager_client
from cardmaker.store.deliveries import DynamoDBDeliveryRepository
from cardmaker.store.orders import DynamoDBGenerationRepository, DynamoDBOrderRepository
from cardmaker.top.client import TopClient
from cardmaker.top.spi import SpiPolicy


@cache
def order_service() -> OrderService:
    settings = get_settings()
    return OrderService(DynamoDBOrderRepository(settings.orders_table_name))


@cache
def spi_policy() -> SpiPolicy:
    settings = get_settings()
    return SpiPolicy(
        max_age=settings.spi_max_age_seconds,
        max_future=settings.spi_max_future_seconds,
        max_body_bytes=settings.spi_max_body_bytes,
    )


@cache
def card_generator() -> CardGenerator:
    settings = get_settings()
    if not (settings.cards_table_name and settings.card_key_id):
        raise RuntimeError("CARDS_TABLE_NAME and CARD_KEY_ID must be configured")
    scheme = CardNumberScheme(
        length=settings.card_number_length,
        prefix=settings.card_number_prefix,
        check_digit=settings.card_check_digit,
    )
    return CardGenerator(
        orders=DynamoDBGenerationRepository(settings.orders_table_name),
        cards=DynamoDBCardRepository(settings.cards_table_name),
        numberer=CardNumberer(scheme, _card_number_key()),
        data_keys=KmsDataKeys(kms_client(), settings.card_key_id),
        chunk_size=settings.chunk_size,
        secret_length=settings.card_secret_length,
        max_attempts=settings.stream_max_retries + 1,
    )


def _card_number_key() -> bytes:
    """The permutation key, read once per cold start: it never changes (see template.yaml)."""
    settings = get_settings()
    if not settings.card_number_secret_id:
        raise RuntimeError("CARD_NUMBER_SECRET_ID is not configured")
    secret = _secrets_provider().get(settings.card_number_secret_id, transform="json")
    if not isinstance(secret, dict) or len(str(secret.get("key", ""))) < 32:
        raise RuntimeError("the card number secret needs a key of at least 32 characters")
    return str(secret["key"]).encode("utf-8")


@cache
def _secrets_provider() -> SecretsProvider:
    return SecretsProvider(boto3_client=secretsmanager_client())


def top_app_secret() -> str:
    """The app secret: cached for ``SECRET_MAX_AGE_SECONDS`` so that a rotation is picked up."""
    settings = get_settings()
    if settings.top_app_secret is not None:
        return settings.top_app_secret.get_secret_value()
    return _top_secret("app_secret")


def top_session_key() -> str:
    settings = get_settings()
    if settings.top_session_key is not None:
        return settings.top_session_key.get_secret_value()
    return _top_secret("session_key")


def _top_secret(name: str) -> str:
    settings = get_settings()
    if not settings.top_secret_id:
        raise RuntimeError("TOP_SECRET_ID is not configured")
    secret = _secrets_provider().get(
        settings.top_secret_id, transform="json", max_age=settings.secret_max_age_seconds
    )
    if not isinstance(secret, dict) or not secret.get(name):
        raise RuntimeError(f"the TOP secret has no {name}")
    return str(secret[name])


@cache
def delivery_service() -> DeliveryService:
    settings = get_settings()
    return DeliveryService(_deliveries(), DynamoDBOrderRepository(settings.orders_table_name))


@cache
def delivery_sender() -> DeliverySender:
    settings = get_settings()
    if not (settings.cards_table_name and settings.card_key_id):
        raise RuntimeError("CARDS_TABLE_NAME and CARD_KEY_ID must be configured")
    top = TopClient(
        settings.top_gateway_url,
        settings.top_app_key,
        top_app_secret(),
        sign_method=settings.top_sign_method,
        session_key=top_session_key(),
        simplify=settings.top_simplify,
        timeout=(3.05, settings.top_read_timeout_seconds),
    )
    cards = DynamoDBCardRepository(settings.cards_table_name)
    return DeliverySender(
        _deliveries(),
        DynamoDBOrderRepository(settings.orders_table_name),
        cards,
        SecretOpener(cards, KmsDataKeys(kms_client(), settings.card_key_id)),
        top,
        bind_app_key=settings.card_bind_app_key or settings.top_app_key,
        ka_list_shape=settings.eticket_ka_list_shape,
        max_attempts=settings.stream_max_retries + 1,
    )


def _deliveries() -> DynamoDBDeliveryRepository:
    settings = get_settings()
    if not settings.deliveries_table_name:
        raise RuntimeError("DELIVERIES_TABLE_NAME is not configured")
    return DynamoDBDeliveryRepository(settings.deliveries_table_name)


def reset() -> None:
    """Forget every cached setting, client and service."""
    for cached in (
        get_settings,
        order_service,
        spi_policy,
        card_generator,
        delivery_service,
        delivery_sender,
        _secrets_provider,
        dynamodb_client,
        kms_client,
        secretsmanager_client,
    ):
        cached.cache_clear()
