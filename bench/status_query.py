"""How much does answering the platform's status query cost on top of reading the order?

(a) one signed ``cardorder.status.query`` through the SPI function's handler: signature
    check, validation of the struct, the order's read, the mapping to the platform's status,
    the TOP answer (with the waybill: the order is shipped);
(b) the baseline: one bare consistent ``get_item`` of the same order's header, on the same
    table, through the same moto.

Both in-process under ``moto.mock_aws``, measured in the same run and interleaved in rounds
(so that drift hits both alike); the figure that matters is the ratio of the medians. Signing
a call is the platform's work, building events is set-up: neither is timed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from typing import Any

from moto import mock_aws

from bench.goals import Goal, report
from bench.in_process import function_stack, isolate_environment
from bench.spi import BenchFailed, Figures
from cardmaker import (
    CARDORDER_STATUS_QUERY,
    DynamoDBGenerationRepository,
    DynamoDBLifecycleRepository,
    DynamoDBOrderRepository,
    OrderKey,
    Waybill,
    dynamodb_client,
)
from cardmaker.store import schema
from cardmaker.top import utc_now
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from local.apigw import LambdaContext, http_api_event
from local.platform import sign_demo_call
from local.template import Handler

ITERATIONS = 300
WARMUP = 30
GOAL = 2.0
FUNCTION = "TopSpiFunction"
KEY = OrderKey("daily", 3_000_000)


def main() -> int:
    isolate_environment()
    # Logs and metrics silenced as in bench.spi (the template's LogLevel ERROR; stdout, where
    # the EMF metrics are printed, to os.devnull while measuring).
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        with mock_aws():
            query, get = measure()
    except BenchFailed as failure:
        print(f"bench FAILED: {failure}", file=sys.stderr)
        return 1
    ratio = query.median_ms / get.median_ms
    print(f"status query: {ITERATIONS} status.query through the handler vs {ITERATIONS} get_item")
    print(f"  status.query handler (verify, validate, read, answer)  {query}")
    print(f"  get_item of the order header                          {get}")
    print(f"status_query_vs_get_item_ratio={ratio:.2f}")
    report((Goal("status_query_vs_get_item_ratio", "<=", GOAL), ratio))
    return 0


def measure() -> tuple[Figures, Figures]:
    stack, _, handler = function_stack(
        FUNCTION, {"app_secret": DEMO_SECRET, "session_key": "bench"}, TopAppKey=DEMO_APP_KEY
    )
    table = stack.physical["OrdersTable"]
    client = dynamodb_client()  # the layer's own client: same SDK set-up as the handler's

    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        _shipped_order(handler, client, table)
        return _rounds(handler, client, table)


def _shipped_order(handler: Handler, client: Any, table: str) -> None:
    """The order the platform asks about: received through the handler, then generated,
    made and shipped the way the generator and the operators move it."""
    call = sign_demo_call(sample_order(KEY.card_order_id, KEY.own_sign, logistics=True))
    answer = handler(_event(call.raw_query, call.headers, call.body), _context())
    if json.loads(answer["body"])["response"].get("success") is not True:
        raise BenchFailed(f"the order was not received: {answer['body']}")
    stored = DynamoDBOrderRepository(table, client).get(KEY)
    if stored is None:
        raise BenchFailed("the order was not stored")
    generation = DynamoDBGenerationRepository(table, client)
    generation.start(stored.order, 0, 5000, 0)
    generation.finish(KEY)
    lifecycle = DynamoDBLifecycleRepository(table, client)
    lifecycle.mark_made(KEY, "bench", utc_now())
    lifecycle.ship(KEY, Waybill("顺丰速运", "SF1234567890"), utc_now())


def _rounds(handler: Handler, client: Any, table: str) -> tuple[Figures, Figures]:
    for _ in range(WARMUP):
        time_query(handler)
        time_get(client, table)
    query_samples: list[int] = []
    get_samples: list[int] = []
    for round_number in range(ITERATIONS):
        if round_number % 2 == 0:  # alternate which goes first
            query_samples.append(time_query(handler))
            get_samples.append(time_get(client, table))
        else:
            get_samples.append(time_get(client, table))
            query_samples.append(time_query(handler))
    return Figures.of(query_samples), Figures.of(get_samples)


def time_query(handler: Handler) -> int:
    """Nanoseconds of one status.query through the handler (the answer checked afterwards)."""
    struct = {"card_order_id": KEY.card_order_id, "own_sign": KEY.own_sign}
    call = sign_demo_call({"request": struct}, method=CARDORDER_STATUS_QUERY)
    event, context = _event(call.raw_query, call.headers, call.body), _context()
    started = time.perf_counter_ns()
    answer = handler(event, context)
    elapsed = time.perf_counter_ns() - started
    response = json.loads(answer["body"])["response"]
    if answer["statusCode"] != 200 or response.get("status") != "DELIVERED":
        raise BenchFailed(f"status.query was not answered DELIVERED: {response!r}")
    return elapsed


def time_get(client: Any, table: str) -> int:
    """Nanoseconds of one bare consistent get_item of the order's header."""
    started = time.perf_counter_ns()
    item = client.get_item(TableName=table, Key=schema.header_key(KEY), ConsistentRead=True)
    elapsed = time.perf_counter_ns() - started
    if "Item" not in item:
        raise BenchFailed("the order's header is not there")
    return elapsed


def _event(raw_query: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    return http_api_event(
        "POST",
        "/top/spi",
        raw_query=raw_query,
        headers=headers.items(),
        body=body,
        route_key="POST /top/spi",
    )


def _context() -> LambdaContext:
    return LambdaContext(function_name=FUNCTION)
