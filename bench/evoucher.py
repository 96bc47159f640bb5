"""How fast does a send-code notice become an accepted ``ma.send``, end to end, against the
raw writes and posts it needs?

(a) the pipeline: ``BENCH_EVOUCHERS`` (default 1,000) single-card ``send`` notices, signed as
    the platform signs them (GBK form), posted over HTTP to the local stack (moto server, fake
    TOP gateway, stream pollers, the functions): notice recorded, the fulfilment function
    makes the notice delivery, the delivery function claims a card of the mapped template
    and calls ``ma.send``. Timed from the first post to the last accepted ``ma.send``; each
    notice's latency is its post to its ``ma.send``'s arrival at the gateway.
(b) the raw floor, same run, same moto server: per e-voucher the same seven DynamoDB writes
    the pipeline makes (``python -m bench.evoucher_profile`` counts them), made bare with one
    client: the notice put, the delivery put, the notice's update naming its delivery, the
    claim as one transaction, three delivery updates; and one signed TOP post to the same
    gateway with a pooled session. The pipeline's reads (product, delivery, stock, cards, chunk
    key, KMS) and its stream reads are what the pipeline adds.

The figure is the ratio of the rates (goal >= 0.5). Creating the stock order and mapping the
product is set-up: not timed.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests

from bench.goals import Goal, report
from cardmaker.top import FixedCredentials, MakeFinishRequest, TopClient
from cardmaker_cli.notice import order_token, post_notice
from cardmaker_cli.samples import (
    DEMO_APP_KEY,
    DEMO_NOTICE_SECRET,
    DEMO_SECRET,
    sample_notice,
    sample_order,
)
from cardmaker_cli.target import Target
from local.platform import sign_demo_call
from local.stack import LocalStack
from local.top_gateway import MA_SEND

COUNT = int(os.environ.get("BENCH_EVOUCHERS", "1000"))
GOAL = 0.5
OWN_SIGN = "daily"
TEMPLATE = "BENCH-EV"
CODE = "BENCH-EV-100"
FIRST_ORDER_ID = 7_100_000_000_000_000
RAW_IDS = 8_000_000
TIMEOUT = 1800.0


class BenchFailed(Exception):
    pass


def quiet_stack() -> LocalStack:
    """The local stack as the benchmarks run it: no logs, no access log, no metrics."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    return LocalStack(
        port=0, log=io.StringIO(), access_log=False, log_level="ERROR",
        environment={"POWERTOOLS_METRICS_DISABLED": "true"},
    )  # fmt: skip


def main() -> int:
    try:
        with contextlib.redirect_stdout(io.StringIO()), quiet_stack() as stack:
            pipeline_s, latencies = pipeline(stack)
            raw_s = raw_floor(stack)
    except BenchFailed as failure:
        print(f"bench FAILED: {failure}", file=sys.stderr)
        return 1
    rate, raw_rate = COUNT / pipeline_s, COUNT / raw_s
    ratio = rate / raw_rate
    cuts = statistics.quantiles(latencies, n=100)
    print(f"evoucher: {COUNT} single-card send notices to accepted ma.send on the local stack")
    print(f"  pipeline (notice, fulfilment, claim, ma.send)       {rate:7.1f} /s")
    print(f"  raw writes and signed posts of the same work        {raw_rate:7.1f} /s")
    print(f"evoucher_cards_per_s={rate:.1f}")
    print(f"evoucher_raw_per_s={raw_rate:.1f}")
    print(f"evoucher_vs_raw_ratio={ratio:.2f}")
    print(f"evoucher_notice_to_ma_send_p50_ms={cuts[49]:.0f}")
    print(f"evoucher_notice_to_ma_send_p99_ms={cuts[98]:.0f}")
    report((Goal("evoucher_vs_raw_ratio", ">=", GOAL), ratio))
    return 0


def pipeline(stack: LocalStack, count: int = COUNT) -> tuple[float, list[float]]:
    """Seconds from the first notice to the last of ``count`` accepted ma.send; each
    notice's ms."""
    call = sign_demo_call(sample_order(71001, OWN_SIGN, [(TEMPLATE, count, "100")]))
    requests.post(call.url(stack.url), data=call.body, headers=call.headers, timeout=30)
    stack.wait_idle(TIMEOUT)
    product = {"own_sign": OWN_SIGN, "template_no": TEMPLATE, "certificate_type": 1}
    if requests.put(f"{stack.url}/eticket/products/{CODE}", json=product, timeout=30).ok is False:
        raise BenchFailed("the product was not mapped")
    target = Target("local", stack.outputs(), stack.session(), local=True)
    posted: dict[str, datetime] = {}
    started = time.perf_counter()
    for number in range(count):
        order_id = str(FIRST_ORDER_ID + number)
        notice = sample_notice("send", order_id, token=order_token(order_id), merchant_code=CODE)
        posted[order_id] = datetime.now(UTC)
        status, body = post_notice(target, notice, DEMO_NOTICE_SECRET)
        if status != 200 or body.get("code") != 200:
            raise BenchFailed(f"notice {order_id} answered {status} {body}")
    gateway = stack.top_gateway
    assert gateway is not None
    deadline = time.monotonic() + TIMEOUT
    while True:
        sent = {
            c.business_id: c
            for c in gateway.calls_of(MA_SEND)
            if c.answer is not None and "error_response" not in c.answer
        }
        if len(sent) >= count:
            break
        if time.monotonic() > deadline:
            raise BenchFailed(f"{len(sent)} of {count} ma.send accepted")
        time.sleep(0.05)
    last = max(call.at for call in sent.values())
    elapsed = time.perf_counter() - started - (datetime.now(UTC) - last).total_seconds()
    latencies = [(sent[order_id].at - at).total_seconds() * 1000 for order_id, at in posted.items()]
    return elapsed, latencies


def raw_floor(stack: LocalStack) -> float:
    """The same writes, bare, and one signed post per e-voucher to the same gateway."""
    client = stack.client("dynamodb")
    notices = stack.stack.physical["EticketTable"]
    deliveries = stack.stack.physical["DeliveriesTable"]
    keys = {table: _key_names(client, table) for table in (notices, deliveries)}
    gateway = stack.top_gateway
    assert gateway is not None
    signer = TopClient(gateway.url, DEMO_APP_KEY, FixedCredentials(DEMO_SECRET))
    credentials = FixedCredentials(DEMO_SECRET).current()
    http = requests.Session()
    started = time.perf_counter()
    for number in range(RAW_IDS, RAW_IDS + COUNT):
        ident = f"BENCH#{number}"
        client.put_item(
            TableName=notices,
            Item=_item(keys[notices], ident, {"method": {"S": "send"}}),
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": keys[notices][0]},
        )
        delivery = _item(keys[deliveries], ident, {"status": {"S": "PENDING"}})
        client.put_item(TableName=deliveries, Item=delivery)
        client.update_item(
            TableName=notices,
            Key=_item(keys[notices], ident, {}),
            UpdateExpression="SET delivery_id = :d",
            ExpressionAttributeValues={":d": {"S": ident}},
        )
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": deliveries,
                        "Key": _item(keys[deliveries], ident, {}),
                        "UpdateExpression": "SET claimed = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            ]
        )
        for status in ("SENDING", "SENT", "DELIVERED"):
            client.update_item(
                TableName=deliveries,
                Key=_item(keys[deliveries], ident, {}),
                UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": status}},
            )
        params = MakeFinishRequest(card_order_id=number).to_params()
        query = signer.system_params(MakeFinishRequest.METHOD, params, credentials)
        answer = http.post(
            gateway.url,
            params=query,
            data=urlencode(params).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            timeout=10,
        )
        if answer.status_code != 200:
            raise BenchFailed(f"a raw post answered {answer.status_code}")
    return time.perf_counter() - started


def _key_names(client: Any, table: str) -> list[str]:
    schema = client.describe_table(TableName=table)["Table"]["KeySchema"]
    return [part["AttributeName"] for part in schema]


def _item(names: list[str], ident: str, more: dict[str, Any]) -> dict[str, Any]:
    return {**{name: {"S": ident} for name in names}, **more}


if __name__ == "__main__":
    sys.exit(main())
