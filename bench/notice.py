"""How much does taking a send-code notice cost, against the one write it needs?

(a) notices through the notice function's handler: API Gateway events of GBK forms signed as
    the platform signs them, each decoded, bounded, verified (MD5 over GBK with the notice
    secret, read through the cached Secrets Manager provider), checked against the window,
    recorded with one conditional ``PutItem`` and answered ``{"code": 200}``;
(b) the baseline: one bare conditional ``put_item`` of the same item (the notice's item as
    the store writes it, ``attribute_not_exists(pk)``) for other orders, with the same client.

Both in one process, moto in-process (``mock_aws``), interleaved batch by batch so that drift
hits both alike; the figure is the ratio of the times per notice (lower is better). Building
the events and items is set-up: not timed.
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
from cardmaker import EticketNotice, dynamodb_client, notice_body
from cardmaker.store import PK, eticket_schema
from cardmaker.top import format_timestamp, utc_now
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_NOTICE_SECRET, DEMO_SECRET, sample_notice
from local.apigw import LambdaContext, http_api_event
from local.template import Handler

BATCHES = 10
WARMUP_BATCHES = 1
BATCH_SIZE = 50
GOAL = 2.0
FUNCTION = "EticketNoticeFunction"
NOTICE_IDS = 5_000_000  # the handler's Taobao orders
RAW_IDS = 6_000_000  # the baseline's: other orders, so that each put is a new item


class BenchFailed(Exception):
    pass


def main() -> int:
    isolate_environment()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        with mock_aws():
            noticed_s, raw_s = measure()
    except BenchFailed as failure:
        print(f"bench FAILED: {failure}", file=sys.stderr)
        return 1
    count = BATCHES * BATCH_SIZE
    notice_rate, raw_rate = count / noticed_s, count / raw_s
    ratio = noticed_s / raw_s
    print(
        f"notice: {count} signed GBK send notices through the handler, vs {count} bare "
        "conditional put_item of the same items"
    )
    print(f"  handler (decode, verify, window, conditional put)   {notice_rate:7.1f} /s")
    print(f"  bare conditional put_item                           {raw_rate:7.1f} /s")
    print(f"notice_per_s={notice_rate:.0f}")
    print(f"put_item_per_s={raw_rate:.0f}")
    print(f"notice_vs_put_item_ratio={ratio:.2f}")
    report((Goal("notice_vs_put_item_ratio", "<=", GOAL), ratio))
    return 0


def measure() -> tuple[float, float]:
    """Seconds for all timed batches: (handler, bare puts)."""
    stack, spec, handler = function_stack(
        FUNCTION,
        {"app_secret": DEMO_SECRET, "session_key": "bench", "notice_secret": DEMO_NOTICE_SECRET},
        TopAppKey=DEMO_APP_KEY,
    )
    table = stack.physical["EticketTable"]
    total = WARMUP_BATCHES + BATCHES
    events = [_events(NOTICE_IDS + n * BATCH_SIZE) for n in range(total)]
    items = [_items(RAW_IDS + n * BATCH_SIZE) for n in range(total)]
    client = dynamodb_client()
    context = LambdaContext(function_name=FUNCTION, timeout_seconds=spec.timeout)
    noticed = raw = 0.0
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        for number, (batch, puts) in enumerate(zip(events, items, strict=True)):
            first, second = (batch, puts) if number % 2 == 0 else (puts, batch)
            timings = {}
            for work in (first, second):
                started = time.perf_counter()
                if work is batch:
                    _notify(handler, batch, context)
                else:
                    _put(client, table, puts)
                timings[id(work)] = time.perf_counter() - started
            if number >= WARMUP_BATCHES:
                noticed += timings[id(batch)]
                raw += timings[id(puts)]
    _check(client, table, total * BATCH_SIZE)
    return noticed, raw


def _parameters(order_id: int) -> dict[str, str]:
    return {"timestamp": format_timestamp(utc_now()), **sample_notice("send", str(order_id))}


def _events(first_id: int) -> list[dict[str, Any]]:
    """A batch of the platform's send notices, signed (GBK), as API Gateway hands them over."""
    events = []
    for order_id in range(first_id, first_id + BATCH_SIZE):
        body, content_type = notice_body(_parameters(order_id), DEMO_NOTICE_SECRET)
        events.append(
            http_api_event(
                "POST",
                "/eticket/notices",
                headers=[("content-type", content_type)],
                body=body,
                route_key="POST /eticket/notices",
            )
        )
    return events


def _items(first_id: int) -> list[dict[str, Any]]:
    """The items the store would write for the same notices, for other orders."""
    now = utc_now().isoformat(timespec="milliseconds")
    return [
        eticket_schema.notice_item(EticketNotice.of(_parameters(order_id), received_at=now))
        for order_id in range(first_id, first_id + BATCH_SIZE)
    ]


def _notify(handler: Handler, events: list[dict[str, Any]], context: LambdaContext) -> None:
    for event in events:
        answer = handler(event, context)
        if (answer["statusCode"], json.loads(answer["body"])) != (200, {"code": 200}):
            raise BenchFailed(f"a notice was not recorded: {answer}")


def _put(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    for item in items:
        client.put_item(
            TableName=table, Item=item, ConditionExpression=f"attribute_not_exists({PK})"
        )


def _check(client: Any, table: str, count: int) -> None:
    """Every notice and every bare item stored once."""
    stored = client.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]
    if stored != 2 * count:
        raise BenchFailed(f"{stored} items stored, {2 * count} expected")


if __name__ == "__main__":
    sys.exit(main())
