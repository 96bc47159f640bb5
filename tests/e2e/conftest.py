"""The local stack over real HTTP on 127.0.0.1: one fresh stack per test (about a second)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cardmaker.top import SpiCall
from local.stack import LocalStack


@pytest.fixture
def local_stack() -> Iterator[LocalStack]:
    with LocalStack(port=0) as stack:
        yield stack


def post_spi(
    stack: LocalStack, call: SpiCall, *, raw_query: str | None = None
) -> requests.Response:
    """Send a signed call as the platform does (optionally with a tampered query string)."""
    url = call.url(stack.url) if raw_query is None else f"{stack.url}/top/spi?{raw_query}"
    return requests.post(url, data=call.body, headers=call.headers, timeout=10)


def get_order(stack: LocalStack, card_order_id: int | str, own_sign: str) -> requests.Response:
    return requests.get(
        f"{stack.url}/orders/{card_order_id}", params={"own_sign": own_sign}, timeout=10
    )


def table_items(stack: LocalStack) -> list[dict[str, Any]]:
    """Every item of the orders table, read from the moto server with boto3."""
    dynamodb = stack.client("dynamodb")
    table = stack.stack.physical["OrdersTable"]
    return dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
