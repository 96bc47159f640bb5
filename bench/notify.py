"""How fast does the notifier tell the platform, against the posts alone?

(a) ``make.finish`` notifications through the notifier's handler, fed the orders stream's
    MADE records in batches of the mapping's ``BatchSize`` (read from template.yaml), with
    the function's ``Timeout`` as its context: per batch, one consistent read of its orders;
    per wave of notifications, the attempts counted, the signed TOP calls over HTTP to the
    fake gateway on 127.0.0.1, ``SENT`` recorded;
(b) the baseline: raw posts of the same signed calls (the same method, parameters and
    signature scheme, signed beforehand) with a pooled ``requests`` session, to the same
    gateway.

Both in one process, moto in-process (``mock_aws``), interleaved batch by batch so that drift
hits both alike; the figure is the ratio of the rates. Writing the MADE orders and building
their stream records is set-up: not timed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import requests
from moto import mock_aws

from bench.goals import Goal, report
from bench.in_process import function_stack, isolate_environment
from cardmaker import (
    CardOrderMakeRequest,
    DynamoDBLifecycleRepository,
    NoticeState,
    Order,
    OrderKey,
    OrderStatus,
    PlatformNotice,
    dynamodb_client,
)
from cardmaker.store import schema
from cardmaker.top import FixedCredentials, MakeFinishRequest, TopClient, utc_now
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from cardmaker_cli.stream_records import lambda_record
from local.apigw import LambdaContext
from local.streams import mapping_settings
from local.template import FunctionSpec, Handler
from local.top_gateway import FakeTopGateway

BATCHES = 5
WARMUP_BATCHES = 1
GOAL = 0.8
FUNCTION = "PlatformNotifierFunction"
NOTIFIED_IDS = 3_000_000  # the notifier's orders
RAW_IDS = 4_000_000  # the baseline's calls: other orders, so that the gateway takes each anew
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-22T00:00:00.000"


class BenchFailed(Exception):
    pass


def main() -> int:
    isolate_environment()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        with mock_aws(), FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, "bench-session") as gateway:
            notified_s, raw_s, batch_size = measure(gateway)
    except BenchFailed as failure:
        print(f"bench FAILED: {failure}", file=sys.stderr)
        return 1
    count = BATCHES * batch_size
    notify_rate, raw_rate = count / notified_s, count / raw_s
    ratio = notify_rate / raw_rate
    print(
        f"notify: {count} make.finish notifications through the handler, {batch_size} a batch,"
        f" vs {count} raw posts"
    )
    print(f"  notifier (batch read, count, signed call, SENT)   {notify_rate:7.1f} /s")
    print(f"  raw pooled posts of the same signed calls         {raw_rate:7.1f} /s")
    print(f"notify_per_s={notify_rate:.0f}")
    print(f"raw_posts_per_s={raw_rate:.0f}")
    print(f"notify_vs_raw_ratio={ratio:.2f}")
    report((Goal("notify_vs_raw_ratio", ">=", GOAL), ratio))
    return 0


def measure(gateway: FakeTopGateway) -> tuple[float, float, int]:
    """Seconds for all batches: (notifier, raw posts), and the batch size."""
    stack, spec, handler = function_stack(
        FUNCTION,
        {"app_secret": DEMO_SECRET, "session_key": "bench"},
        TopAppKey=DEMO_APP_KEY,
        TopGatewayUrl=gateway.url,
    )
    table = stack.physical["OrdersTable"]
    lifecycle = DynamoDBLifecycleRepository(table, dynamodb_client())
    signer = TopClient(gateway.url, DEMO_APP_KEY, FixedCredentials(DEMO_SECRET))
    total = WARMUP_BATCHES + BATCHES
    size = batch_size(spec)
    batches = [made_records(lifecycle, table, NOTIFIED_IDS + n * size, size) for n in range(total)]
    posts = [signed_posts(signer, RAW_IDS + n * size, size) for n in range(total)]
    http = requests.Session()  # pooled, as the client's own
    notified = raw = 0.0
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        for number, (records, calls) in enumerate(zip(batches, posts, strict=True)):
            first, second = (records, calls) if number % 2 == 0 else (calls, records)
            timings = {}
            for work in (first, second):
                started = time.perf_counter()
                if work is records:
                    _notify(handler, records, spec.timeout)
                else:
                    _post(http, gateway.url, calls)
                timings[id(work)] = time.perf_counter() - started
            if number >= WARMUP_BATCHES:
                notified += timings[id(records)]
                raw += timings[id(calls)]
    _check(lifecycle, gateway, total * size)
    return notified, raw, size


def batch_size(spec: FunctionSpec) -> int:
    """The notifier's mapping's ``BatchSize``, as Lambda would hand its records over."""
    (source,) = spec.stream_sources
    return mapping_settings(source.properties).batch_size


def made_records(
    lifecycle: DynamoDBLifecycleRepository, table: str, first_id: int, size: int
) -> list[dict[str, Any]]:
    """``size`` orders made by an operator, and their MADE stream records."""
    client = dynamodb_client()
    records = []
    for card_order_id in range(first_id, first_id + size):
        request = CardOrderMakeRequest.model_validate(sample_order(card_order_id, "daily"))
        order = Order.receive(request, utc_now())
        generated = schema.header_item(_generated(order))
        client.put_item(TableName=table, Item=generated)
        lifecycle.mark_made(order.key, "bench", utc_now())
        made = client.get_item(TableName=table, Key=schema.header_key(order.key))["Item"]
        raw = {
            "eventID": f"bench-{card_order_id}",
            "eventName": "MODIFY",
            "dynamodb": {
                "ApproximateCreationDateTime": time.time(),
                "Keys": schema.header_key(order.key),
                "NewImage": made,
                "OldImage": generated,
                "SequenceNumber": str(card_order_id),
                "SizeBytes": 1,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }
        records.append(lambda_record(raw, STREAM_ARN).event)
    return records


def _generated(order: Order) -> Order:
    return replace(order, status=OrderStatus.GENERATED)


def signed_posts(signer: TopClient, first_id: int, size: int) -> list[tuple[dict[str, str], bytes]]:
    """The same signed calls the notifier makes (query, form body), for other orders."""
    credentials = FixedCredentials(DEMO_SECRET).current()
    posts = []
    for card_order_id in range(first_id, first_id + size):
        params = MakeFinishRequest(card_order_id=card_order_id).to_params()
        query = signer.system_params(MakeFinishRequest.METHOD, params, credentials)
        posts.append((query, urlencode(params).encode("ascii")))
    return posts


def _notify(handler: Handler, records: list[dict[str, Any]], timeout: int) -> None:
    context = LambdaContext(function_name=FUNCTION, timeout_seconds=timeout)
    answer = handler({"Records": records}, context)
    if answer.get("batchItemFailures"):
        raise BenchFailed(f"the notifier failed {answer['batchItemFailures']}")


def _post(http: requests.Session, url: str, posts: list[tuple[dict[str, str], bytes]]) -> None:
    for query, body in posts:
        answer = http.post(
            url,
            params=query,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            timeout=10,
        )
        if answer.status_code != 200 or "error_response" in answer.text:
            raise BenchFailed(f"a raw post was refused: {answer.text[:200]}")


def _check(lifecycle: DynamoDBLifecycleRepository, gateway: FakeTopGateway, count: int) -> None:
    """Every notification SENT and accepted once; every raw post accepted once too."""
    for card_order_id in range(NOTIFIED_IDS, NOTIFIED_IDS + count):
        stored = lifecycle.get(OrderKey("daily", card_order_id))
        notice = stored.lifecycle.notices.get(PlatformNotice.MAKE_FINISH) if stored else None
        if notice is None or notice.state is not NoticeState.SENT:
            raise BenchFailed(f"order {card_order_id} was not notified")
    accepted = sum(len(call.accepted) for call in gateway.calls)
    if accepted != 2 * count:
        raise BenchFailed(f"{accepted} calls accepted, {2 * count} expected")


if __name__ == "__main__":
    sys.exit(main())
