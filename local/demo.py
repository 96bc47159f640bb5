"""``make demo``: the whole card-order lifecycle on the embedded local stack, over real HTTP.

The platform's part is played exactly: signed ``card.template.new`` calls announce the
templates, a signed ``cardorder.make`` for them is POSTed to /top/spi, and
``cardorder.status.query`` asks where the order is at each step. The order is followed (GET
/orders) until its cards are generated, a ``bind`` and an ``eticket`` delivery are followed
(GET /deliveries) until final; the operator marks the order made and ships it with a waybill,
and each time the platform is told (``make.finish``, ``status.sended``, sent by the notifier
from the orders stream); the platform confirms receipt (``cardorder.receipt``). The calls the
fake TOP gateway received are checked, and the order call is replayed (the platform retries) to
show the same answer comes back. Every wait has a bound; at the first miss or unexpected answer
the demo says why on stderr, shows the functions' output and exits 1. The drawing is
local/demo_display.py.

Bounds (seconds): ``CARDMAKER_DEMO_GENERATION_BOUND`` (default 60) for the order to reach
``GENERATED``, ``CARDMAKER_DEMO_DELIVERY_BOUND`` (default 30) for each delivery to finish and
for each platform notification to be sent.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from rich.console import Console

from cardmaker import FINAL, OrderKey, OwnSign, logger
from cardmaker_cli.samples import sample_order
from local.demo_display import (
    Bars,
    DemoDisplay,
    DemoSummary,
    GatewayCall,
    LifecycleStep,
    demo_console,
)
from local.demo_eticket import STOCK_WAIT_SECONDS, walk_eticket
from local.demo_lifecycle import (
    WAYBILL,
    DemoFailed,
    PlatformAnswer,
    announce_template,
    confirm_receipt,
    expect,
    follow_events,
    follow_notice,
    operator_step,
    query_status,
)
from local.platform import sample_delivery, sign_demo_call
from local.stack import LocalStack

CARD_ORDER_ID = 16002
OWN_SIGN: OwnSign = "daily"
# (template_no, count, par value in fen): 3,337 cards, a few seconds on the local stack.
TEMPLATES = [
    ("3010030E02", 1500, "100"),
    ("3010030E03", 1000, "200"),
    ("3010030E04", 800, "500"),
    ("3010030E05", 37, "5000"),
]
DELIVERIES = [
    sample_delivery("bind", CARD_ORDER_ID, OWN_SIGN),
    sample_delivery("eticket", CARD_ORDER_ID, OWN_SIGN, template_no="3010030E05"),
]
DEMO_CHUNK_SIZE = 250  # cards per generation chunk: 15 chunks for the demo's order
FINAL_DELIVERY_STATUSES = frozenset(status.value for status in FINAL)
POLL_SECONDS = 0.15
TIMEOUT = 10  # seconds for any one HTTP request


@dataclass(frozen=True)
class DemoBounds:
    """How long, in seconds, each wait of the demo may last."""

    generation: float = 60.0
    delivery: float = 30.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DemoBounds:
        """``CARDMAKER_DEMO_GENERATION_BOUND`` and ``CARDMAKER_DEMO_DELIVERY_BOUND``; unset
        or empty ones keep their defaults."""
        defaults = cls()
        return cls(
            generation=_seconds(environ, "CARDMAKER_DEMO_GENERATION_BOUND", defaults.generation),
            delivery=_seconds(environ, "CARDMAKER_DEMO_DELIVERY_BOUND", defaults.delivery),
        )


def main() -> int:
    """Run the demo on a fresh local stack; 0 if every step reached its expected state."""
    started = time.monotonic()
    display = DemoDisplay(demo_console(sys.stdout), Console(file=sys.stderr, highlight=False))
    # The functions' logs and metrics (stdout, as on Lambda) are kept aside and shown only if
    # the demo fails: the demo's own lines are the story.
    functions_output = io.StringIO()
    # Powertools warns (stderr) on every invocation that publishes no metric, e.g. a lookup.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # The functions' logger was created at import, on the real stdout: point it at the buffer.
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)  # typed as any logging.Handler
    handler.setStream(functions_output)
    try:
        bounds = DemoBounds.from_environ(os.environ)
        with (
            contextlib.redirect_stdout(functions_output),
            LocalStack(
                access_log=False,
                log=functions_output,
                # The out-of-stock notice gives up (ma.failsend) in seconds, not 10 minutes.
                # Small chunks: the bars move chunk by chunk (one chunk per template with the
                # default 5,000 would take them from 0 to 100 % at once).
                parameters={
                    "EticketStockWaitSeconds": str(STOCK_WAIT_SECONDS),
                    "GenerationChunkSize": str(DEMO_CHUNK_SIZE),
                },
            ) as stack,
        ):
            summary = run(stack, display, bounds, started=started)
    except Exception as failure:
        expected = isinstance(failure, DemoFailed | requests.RequestException)
        display.failure(
            str(failure) if isinstance(failure, DemoFailed) else repr(failure),
            functions_output.getvalue(),
            "" if expected else traceback.format_exc(),
        )
        return 1
    display.summary(summary)
    display.ok()
    return 0


def run(
    stack: LocalStack,
    display: DemoDisplay,
    bounds: DemoBounds | None = None,
    templates: list[tuple[str, int, str]] | None = None,
    started: float | None = None,
) -> DemoSummary:
    """Play the platform and the operator against a running stack; raises ``DemoFailed``.
    ``started`` (``time.monotonic()``, default now) is where the total elapsed time counts
    from; the order's own elapsed time counts from its POST."""
    bounds = bounds or DemoBounds()
    templates = templates or TEMPLATES
    url = stack.url
    started = time.monotonic() if started is None else started
    ordered = time.monotonic()
    display.step(f"Local stack: {url}")

    order = sample_order(CARD_ORDER_ID, OWN_SIGN, templates, logistics=True)
    display.step(f"0. platform -> card.template.new: {len(templates)} templates ({OWN_SIGN})")
    for template in order["card_product_infos"]:
        announced = announce_template(
            url, OWN_SIGN, template["template_no"], template["card_name"], template["par_value"]
        )
        display.note(f"{template['template_no']} <- {announced.summary}")

    call = sign_demo_call(order)
    display.step(
        f"1. platform -> POST /top/spi  cardorder.make {CARD_ORDER_ID} ({OWN_SIGN}): "
        f"{len(templates)} templates, {sum(count for _, count, _ in templates)} cards, "
        "signed JSON body"
    )
    first = spi_call(call.url(url), call.body, call.headers)
    display.note(f"<- {describe_answer(first)}")
    lifecycle = [platform_status(url, display, "received", "REQUEST_RECEIVED")]

    display.step(f"2. cards are generated from the orders stream; GET /orders/{CARD_ORDER_ID}")
    with display.bars() as bars:
        for template in order["card_product_infos"]:
            label = f"{template['template_no']} {template['card_name']}"
            bars.add(template["template_no"], label, template["count"])
        view = follow_generation(url, display, bars, bounds.generation)
    generation_seconds = time.monotonic() - ordered
    logistics = view.get("logistics_info") or {}
    if logistics:
        display.note(f"ships to {logistics['receiver_name']}, {logistics['receiver_address']}")
    produced = [(t["template_no"], t["requested"], t["generated"]) for t in view["templates"]]
    expect(
        produced == [(number, count, count) for number, count, _ in templates],
        f"the order's generated cards are {produced}",
    )
    expect(
        all(t.get("registered") for t in view["templates"]),
        "the order view does not find every announced template registered",
    )
    lifecycle.append(platform_status(url, display, "generated", "REQUEST_RECEIVED"))

    display.step("3. deliveries: bind 3 cards to a Taobao user, send 2 to an e-voucher order")
    deliveries = follow_deliveries(url, display, bounds.delivery)

    view, after_delivery = walk_lifecycle(url, display, bounds)
    lifecycle += after_delivery
    events = follow_events(stack, OrderKey(OWN_SIGN, CARD_ORDER_ID), bounds.delivery)
    display.note(
        f"LifecycleBus -> integrators: {len(events)} events for {view['making_card_no']}"
        f" ({', '.join(event['detail-type'] for event in events)}); `cardmaker events` shows them"
    )

    display.step("7. platform retries the same order call")
    replay = spi_call(call.url(url), call.body, call.headers)
    display.note(f"<- {describe_answer(replay)}")
    expect(replay == first, f"the replay answered {replay}, not the first answer {first}")

    # The e-voucher side: cards of the order's E04 template served to a buyer's send notice.
    e_template = templates[2][0] if len(templates) > 2 else templates[-1][0]
    display.step(f"8. e-vouchers: a product mapped to {e_template}, the platform's notices")
    walk_eticket(stack, display.note, OWN_SIGN, e_template, bounds.delivery)
    # deliveries, notifications, then the e-voucher walk's ma.send and ma.failsend
    gateway_calls = check_gateway(stack, display, len(DELIVERIES) + 2 + 2)
    return DemoSummary(
        order=view,
        generation_seconds=generation_seconds,
        deliveries=deliveries,
        lifecycle=lifecycle,
        gateway_calls=gateway_calls,
        replay_making_card_no=replay["making_card_no"],
        total_seconds=time.monotonic() - started,
    )


def walk_lifecycle(
    url: str, display: DemoDisplay, bounds: DemoBounds
) -> tuple[dict[str, Any], list[LifecycleStep]]:
    """Steps 4 to 6: the operator makes and ships the order, the notifier tells the platform
    each time, the platform confirms receipt; the status query after each. The order's final
    view and the steps."""
    lifecycle: list[LifecycleStep] = []

    def read_order() -> dict[str, Any]:
        return get_json(f"{url}/orders/{CARD_ORDER_ID}", {"own_sign": OWN_SIGN})

    display.step(f"4. operator -> POST /orders/{CARD_ORDER_ID}/made: the physical cards are made")
    status = operator_step(url, f"/orders/{CARD_ORDER_ID}/made", None, OWN_SIGN)
    display.note(f"<- 202 {status}")
    made = follow_notice(read_order, "make_finish", bounds.delivery)
    display.note(
        f"notifier -> platform cardorders.status.make.finish: {notice_line(made, 'make_finish')}"
    )
    lifecycle.append(platform_status(url, display, "made", "WAITING_DELIVERY"))

    display.step(
        f"5. operator -> POST /orders/{CARD_ORDER_ID}/shipment: "
        f"{WAYBILL['logistics_company']} {WAYBILL['logistics_order_id']}"
    )
    status = operator_step(url, f"/orders/{CARD_ORDER_ID}/shipment", WAYBILL, OWN_SIGN)
    display.note(f"<- 202 {status}")
    shipped = follow_notice(read_order, "status_sended", bounds.delivery)
    display.note(
        f"notifier -> platform cardorders.status.sended: {notice_line(shipped, 'status_sended')}"
    )
    delivered = platform_status(url, display, "shipped", "DELIVERED")
    expect(
        (delivered.logistics_company, delivered.logistics_order_id)
        == (WAYBILL["logistics_company"], WAYBILL["logistics_order_id"]),
        f"status.query answered the waybill {delivered.logistics_order_id!r}",
    )
    lifecycle.append(delivered)

    display.step("6. platform -> cardorder.receipt: the buyer confirmed receipt")
    receipt = confirm_receipt(url, OWN_SIGN, CARD_ORDER_ID)
    display.note(f"<- {receipt.summary}")
    view = read_order()
    expect(view["status"] == "CONFIRMED", f"the order is {view['status']}, not CONFIRMED")
    lifecycle.append(platform_status(url, display, "confirmed", "DELIVERED"))
    return view, lifecycle


def platform_status(url: str, display: DemoDisplay, step: str, expected: str) -> LifecycleStep:
    """The platform asks where the order is (``cardorder.status.query``); it must be
    ``expected``. The step as the summary shows it."""
    answer: PlatformAnswer = query_status(url, OWN_SIGN, CARD_ORDER_ID)
    display.note(f"platform -> cardorder.status.query <- {answer.summary}")
    status = str(answer.response.get("status"))
    expect(status == expected, f"status.query answered {status} after {step}, not {expected}")
    order = get_json(f"{url}/orders/{CARD_ORDER_ID}", {"own_sign": OWN_SIGN})
    return LifecycleStep(
        step=step,
        order_status=str(order.get("status")),
        platform_status=status,
        logistics_company=answer.response.get("logistics_company"),
        logistics_order_id=answer.response.get("logistics_order_id"),
    )


def notice_line(view: dict[str, Any], notice: str) -> str:
    state = view["notifications"][notice]
    return f"{state['state']} after {state['attempts']} call(s)"


def follow_generation(url: str, display: DemoDisplay, bars: Bars, bound: float) -> dict[str, Any]:
    """Poll the order until it is GENERATED, moving each template's bar and noting each
    status change; ``DemoFailed`` if it fails or ``bound`` seconds pass first."""
    deadline = time.monotonic() + bound
    shown = ""
    while True:
        view = get_json(f"{url}/orders/{CARD_ORDER_ID}", {"own_sign": OWN_SIGN})
        status = str(view.get("status"))
        for template in view.get("templates", []):
            bars.update(template["template_no"], template["generated"], status)
        line = f"{status}: {view.get('cards_generated')}/{view.get('card_count')} cards"
        if view.get("chunks_total"):
            line += f", {view.get('chunks_done')}/{view['chunks_total']} chunks"
        if status != shown:  # the bars show the progress; the story notes each status
            display.note(f"<- {line}")
            shown = status
        if status == "GENERATED":
            return view
        expect(status != "FAILED", f"generation failed: {view.get('failure_reason')}")
        expect(
            time.monotonic() < deadline,
            f"order {CARD_ORDER_ID} not GENERATED within {bound:g} s ({line})",
        )
        time.sleep(POLL_SECONDS)


def follow_deliveries(
    url: str, display: DemoDisplay, bound: float
) -> list[tuple[dict[str, Any], float]]:
    """Post every demo delivery, then poll them all until final; each must be DELIVERED
    within ``bound`` seconds of its POST. Each one's final view and seconds to get there."""
    with display.bars() as bars:
        posted: dict[str, tuple[dict[str, Any], float]] = {}
        for body in DELIVERIES:
            delivery_id = create_delivery(url, body, display)
            posted[delivery_id] = (body, time.monotonic())
            bars.add(delivery_id, f"{body['type']:<7} {delivery_id}", body["quantity"], "PENDING")
        finished: dict[str, tuple[dict[str, Any], float]] = {}
        while len(finished) < len(posted):
            for delivery_id, (body, posted_at) in posted.items():
                if delivery_id in finished:
                    continue
                view = get_json(f"{url}/deliveries/{delivery_id}")
                status = str(view.get("status"))
                bars.update(delivery_id, len(view.get("cards", [])), status)
                elapsed = time.monotonic() - posted_at
                if status in FINAL_DELIVERY_STATUSES:
                    finished[delivery_id] = (view, elapsed)
                    continue
                expect(
                    elapsed < bound,
                    f"delivery {delivery_id} ({body['type']}) still {status} after {bound:g} s",
                )
            if len(finished) < len(posted):
                time.sleep(POLL_SECONDS)
    in_order = [finished[delivery_id] for delivery_id in posted]  # as posted, not as finished
    for view, _ in in_order:
        outcomes = ", ".join(f"{card['card_no']} {card['outcome']}" for card in view["cards"])
        # Who asked: the local stack names the local user as the request's IAM principal.
        requester = (view.get("requested_by") or {}).get("user_arn", "nobody recorded")
        display.note(
            f"<- {view['delivery_id']} {view['status']}: {outcomes} (requested by {requester})"
        )
    for view, _ in in_order:
        delivery_id = view["delivery_id"]
        reason = f": {view['failure_reason']}" if view.get("failure_reason") else ""
        expect(
            view["status"] == "DELIVERED",
            f"delivery {delivery_id} ({view['type']}) ended {view['status']}, not DELIVERED"
            f"{reason} ({outcome_summary(view)})",
        )
    return in_order


def check_gateway(
    stack: LocalStack, display: DemoDisplay, expected_calls: int
) -> list[GatewayCall] | None:
    """The fake gateway got one correctly signed call per delivery (None: no fake gateway)."""
    gateway = stack.top_gateway
    if gateway is None:
        return None
    calls = [
        GatewayCall(
            method=received.method,
            sign_valid=received.sign_valid,
            answered_ok=received.status == 200
            and received.answer is not None
            and "error_response" not in received.answer,
        )
        for received in gateway.calls
    ]
    for received in calls:
        sign = "valid" if received.sign_valid else "INVALID"
        display.note(f"fake TOP gateway received {received.method}, sign {sign}")
    expect(all(received.sign_valid for received in calls), "a TOP call was badly signed")
    expect(
        len(calls) == expected_calls,
        f"the fake TOP gateway received {len(calls)} calls, not {expected_calls}",
    )
    return calls


def create_delivery(url: str, body: dict[str, Any], display: DemoDisplay) -> str:
    """POST one delivery; its id."""
    answer = requests.post(f"{url}/deliveries", json=body, timeout=TIMEOUT)
    expect(answer.status_code == 202, f"POST /deliveries answered HTTP {answer.status_code}")
    delivery_id = str(json_body(answer).get("delivery_id"))
    display.note(f"POST /deliveries {body['type']} x{body['quantity']} -> 202 {delivery_id}")
    return delivery_id


def spi_call(url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """POST a signed call; the ``response`` of a successful SPI answer."""
    answer = requests.post(url, data=body, headers=headers, timeout=TIMEOUT)
    expect(answer.status_code == 200, f"/top/spi answered HTTP {answer.status_code}")
    response = json_body(answer).get("response")
    expect(isinstance(response, dict), f"no SPI response struct in {answer.text[:200]!r}")
    assert isinstance(response, dict)
    expect(
        response.get("success") is True and response.get("result_code") == "SUCCESS",
        f"the order was refused: {response.get('result_code')} {response.get('result_message')}",
    )
    expect(bool(response.get("making_card_no")), "the answer has no making_card_no")
    return response


def get_json(url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    """GET a view of the API; ``DemoFailed`` unless it answers 200 with a JSON object."""
    answer = requests.get(url, params=params, timeout=TIMEOUT)
    path = url.split("/", 3)[-1]
    expect(answer.status_code == 200, f"GET /{path} answered HTTP {answer.status_code}")
    return json_body(answer)


def json_body(answer: requests.Response) -> dict[str, Any]:
    try:
        value = answer.json()
    except ValueError:
        raise DemoFailed(f"not JSON: {answer.text[:200]!r}") from None
    expect(isinstance(value, dict), f"not a JSON object: {answer.text[:200]!r}")
    return value


def describe_answer(response: dict[str, Any]) -> str:
    return (
        f"success={json.dumps(response.get('success'))} {response.get('result_code')} "
        f"{response.get('result_message')!r} making_card_no={response.get('making_card_no')}"
    )


def outcome_summary(view: dict[str, Any]) -> str:
    """Each card's outcome, with the platform's code where there is one."""
    return ", ".join(
        f"{card['outcome']}{' ' + card['code'] if card.get('code') else ''}"
        for card in view.get("cards", [])
    )


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name) or ""
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise DemoFailed(f"{name} must be a positive number of seconds, not {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
