"""Wiring for the Lambda functions: services built once per cold start from the settings.

Handlers ask for what they need here; tests and the local stack call ``reset()`` to rebuild
everything from a new environment.
"""

from __future__ import annotations

from functools import cache

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from cardmaker.orders.service import OrderService
from cardmaker.settings import get_settings
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.orders import DynamoDBOrderRepository
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
def _secrets_provider() -> SecretsProvider:
    return SecretsProvider(boto3_client=boto3.client("secretsmanager"))


def top_app_secret() -> str:
    """The app secret: cached for ``SECRET_MAX_AGE_SECONDS`` so that a rotation is picked up."""
    settings = get_settings()
    if settings.top_app_secret is not None:
        return settings.top_app_secret.get_secret_value()
    if not settings.top_secret_id:
        raise RuntimeError("neither TOP_APP_SECRET nor TOP_SECRET_ID is configured")
    secret = _secrets_provider().get(
        settings.top_secret_id, transform="json", max_age=settings.secret_max_age_seconds
    )
    if not isinstance(secret, dict) or not secret.get("app_secret"):
        raise RuntimeError("the TOP secret has no app_secret")
    return str(secret["app_secret"])


def reset() -> None:
    """Forget every cached setting, client and service."""
    for cached in (get_settings, order_service, spi_policy, _secrets_provider, dynamodb_client):
        cached.cache_clear()
