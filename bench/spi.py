"""How much does receiving an order cost on top of storing it?

(a) one signed ``cardorder.make`` through the SPI function's handler: signature check,
    validation, the order's conditional write, the TOP answer;
(b) the baseline: one bare conditional ``put_item`` of the same order's header item, on the
    same table, through the same moto.

Both in-process under ``moto.mock_aws``, measured in the same run and interleaved in rounds
(so that drift hits both alike); the figure that matters is the ratio of the medians.
Signing a call is the platform's work, building items and events is set-up: neither is timed.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

from moto import mock_aws

from bench.goals import Goal, report
from bench.in_process import function_stack, isolate_environment
from cardmaker import CardOrderMakeRequest, Order, dynamodb_client
from cardmaker.store import PK, schema
from cardmaker.top import utc_now
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from local.apigw import LambdaContext, http_api_event
from local.platform import sign_demo_call
from local.template import Handler

ITERATIONS = 300
WARMUP = 30
GOAL = 2.0
FUNCTION = "TopSpiFunction"
SPI_ORDER_IDS = 1_000_000  # the handler's orders: 1_000_000, 1_000_001, ...
PUT_ORDER_IDS = 2_000_000  # the baseline's items: other keys, same table


@dataclass(frozen=True)
class Figures:
    median_ms: float
    p90_ms: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Figures:
        return cls(
            median_ms=statistics.median(samples_ns) / 1e6,
            p90_ms=statistics.quantiles(samples_ns, n=10)[-1] / 1e6,
        )

    def __str__(self) -> str:
        return f"median {self.median_ms:6.3f} ms  p90 {self.p90_ms:6.3f} ms"


class BenchFailed(Exception):
    pass


def main() -> int:
    isolate_environment()
    # What is silenced, and why: the handler logs one INFO line per order and prints its EMF
    # metrics (a JSON line) per call; writing those to a terminal would measure the terminal.
    # - logs: the template's LogLevel ERROR, and the layer's logger set to ERROR too (it is
    #   created when the layer is first imported, before the environment is in place);
    # - metrics: stdout goes to os.devnull while measuring, so that serializing them (which
    #   Lambda does too) stays in the figure but the printing does not. Not
    #   POWERTOOLS_METRICS_DISABLED: with it, Powertools 3.37 never clears the metric set and
    #   prints it anyway every 100 values.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        with mock_aws():
            spi, put = measure()
    except BenchFailed as failure:
        print(f"bench FAILED: {failure}", file=sys.stderr)
        return 1
    ratio = spi.median_ms / put.median_ms
    print(f"spi: {ITERATIONS} orders through the handler vs {ITERATIONS} bare put_item")
    print(f"  spi handler (verify, validate, store)  {spi}")
    print(f"  put_item of the order header           {put}")
    print(f"spi_vs_put_item_ratio={ratio:.2f}")
    report((Goal("spi_vs_put_item_ratio", "<=", GOAL), ratio))
    return 0


def measure() -> tuple[Figures, Figures]:
    stack, _, handler = function_stack(
        FUNCTION, {"app_secret": DEMO_SECRET, "session_key": "bench"}, TopAppKey=DEMO_APP_KEY
    )
    table = stack.physical["OrdersTable"]
    client = dynamodb_client()  # the layer's own client: same SDK set-up as the handler's

    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        return _rounds(handler, client, table)


def _rounds(handler: Handler, client: Any, table: str) -> tuple[Figures, Figures]:
    for number in range(WARMUP):
        time_spi(handler, SPI_ORDER_IDS + number)
        time_put(client, table, PUT_ORDER_IDS + number)
    spi_samples: list[int] = []
    put_samples: list[int] = []
    for round_number in range(ITERATIONS):
        number = WARMUP + round_number
        if round_number % 2 == 0:  # alternate which goes first
            spi_samples.append(time_spi(handler, SPI_ORDER_IDS + number))
            put_samples.append(time_put(client, table, PUT_ORDER_IDS + number))
        else:
            put_samples.append(time_put(client, table, PUT_ORDER_IDS + number))
            spi_samples.append(time_spi(handler, SPI_ORDER_IDS + number))
    return Figures.of(spi_samples), Figures.of(put_samples)


def time_spi(handler: Handler, card_order_id: int) -> int:
    """Nanoseconds of one new order through the handler (the answer checked afterwards)."""
    call = sign_demo_call(sample_order(card_order_id, "daily", logistics=True))
    event = http_api_event(
        "POST",
        "/top/spi",
        raw_query=call.raw_query,
        headers=call.headers.items(),
        body=call.body,
        route_key="POST /top/spi",
    )
    context = LambdaContext(function_name=FUNCTION)
    started = time.perf_counter_ns()
    answer = handler(event, context)
    elapsed = time.perf_counter_ns() - started
    _check_success(answer, card_order_id)
    return elapsed


def time_put(client: Any, table: str, card_order_id: int) -> int:
    """Nanoseconds of one bare conditional put of a new order's header item."""
    order = sample_order(card_order_id, "daily", logistics=True)
    item = schema.header_item(Order.receive(CardOrderMakeRequest.model_validate(order), utc_now()))
    started = time.perf_counter_ns()
    client.put_item(
        TableName=table,
        Item=item,
        ConditionExpression=f"attribute_not_exists({PK})",
    )
    return time.perf_counter_ns() - started


def _check_success(answer: dict[str, Any], card_order_id: int) -> None:
    try:
        response = json.loads(answer["body"])["response"]
    except (KeyError, TypeError, ValueError):
        raise BenchFailed(f"order {card_order_id}: not an SPI answer: {answer!r}") from None
    if answer.get("statusCode") != 200 or response.get("success") is not True:
        raise BenchFailed(f"order {card_order_id} was not received: {response!r}")
