"""AWS clients: created lazily, once per process, and only here."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Standard retry mode backs off on throttling; the timeouts keep a slow call well inside the
# function's own timeout.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=5,
)


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def events_client() -> Any:
    """EventBridge's client (typed by the bus's own protocol, ``events.bus.EventsClient``)."""
    return boto3.client("events", config=_CONFIG)


@cache
def kms_client() -> KMSClient:
    return boto3.client("kms", config=_CONFIG)


@cache
def secretsmanager_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=_CONFIG)


@cache
def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=_CONFIG)
