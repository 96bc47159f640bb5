"""``make demo``: the pipeline on the embedded local stack, end to end over real HTTP.

The platform's part is played exactly: a signed ``cardorder.make`` POSTed to /top/spi. Then
the order is looked up, and the call is replayed (the platform retries) to show that the
answer is the same order. Exits non-zero, saying why, at the first unexpected answer.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any, TextIO

import requests

from cardmaker.observability import logger
from local.platform import sample_delivery, sample_order, sign_spi_call
from local.stack import LocalStack

CARD_ORDER_ID = 16002
OWN_SIGN = "daily"
TEMPLATES = [("3010030E02", 1200, "100"), ("3010030E05", 37, "5000")]
GENERATION_BOUND = 120  # seconds for the order to reach GENERATED
DELIVERY_BOUND = 60  # seconds for a delivery to finish
DELIVERIES = [
    sample_delivery("bind", CARD_ORDER_ID, OWN_SIGN),
    sample_delivery("eticket", CARD_ORDER_ID, OWN_SIGN),
]
TIMEOUT = 10


class DemoFailed(Exception):
    """An answer the demo did not expect."""


def main() -> int:
    out = sys.stdout
    # The functions' logs and metrics (stdout, as on Lambda) are kept aside and shown only if
    # the demo fails: the demo's own lines are the story.
    functions_output = io.StringIO()
    # Powertools warns (stderr) on every invocation that publishes no metric, e.g. a lookup.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # The functions' logger was created at import, on the real stdout: point it at the buffer.
    logger.registered_handler.setStream(functions_output)
    try:
        with (
            contextlib.redirect_stdout(functions_output),
            LocalStack(access_log=False, log=functions_output) as stack,
        ):
            run(stack, out)
    except Exception as failure:
        reason = str(failure) if isinstance(failure, DemoFailed) else repr(failure)
        print(f"demo FAILED: {reason}", file=sys.stderr)
        if not isinstance(failure, DemoFailed | requests.RequestException):
            traceback.print_exc()
        if functions_output.getvalue():
            print("--- the local stack's output ---", file=sys.stderr)
            print(functions_output.getvalue(), file=sys.stderr, end="")
        return 1
    print("demo OK", file=out)
    return 0


def run(stack: LocalStack, out: TextIO) -> None:
    url = stack.url

    def say(*parts: object) -> None:
        print(*parts, file=out, flush=True)

    say(f"Local stack: {url}")
    order = sample_order(CARD_ORDER_ID, OWN_SIGN, TEMPLATES, logistics=True)
    call = sign_spi_call(order)
    cards = sum(count for _, count, _ in TEMPLATES)
    say(
        f"1. platform -> POST /top/spi  cardorder.make {CARD_ORDER_ID} ({OWN_SIGN}): "
        f"{len(TEMPLATES)} templates, {cards} cards, signed JSON body"
    )
    first = spi_call(call.url(url), call.body, call.headers)
    say(f"   <- {describe_answer(first)}")
    making_card_no = first["making_card_no"]

    say(f"2. cards are generated from the orders stream; GET /orders/{CARD_ORDER_ID} shows it")
    view = follow_generation(url, say)
    for template in view.get("templates", []):
        say(
            f"      {template['template_no']}  {template['card_name']}  "
            f"requested {template['requested']}  generated {template['generated']}"
        )
    logistics = view.get("logistics_info") or {}
    if logistics:
        say(f"      ships to {logistics['receiver_name']}, {logistics['receiver_address']}")
    produced = [(t["template_no"], t["generated"]) for t in view.get("templates", [])]
    expect(
        produced == [(number, count) for number, count, _ in TEMPLATES],
        f"the order's generated cards are {produced}",
    )

    say("3. deliveries: bind 3 cards to a Taobao user, send 2 to a buyer's e-voucher order")
    delivery_ids = [create_delivery(url, body, say) for body in DELIVERIES]
    for delivery_id in delivery_ids:
        shown = follow_delivery(url, delivery_id)
        outcomes = ", ".join(f"{card['card_no']} {card['outcome']}" for card in shown["cards"])
        say(f"   <- {delivery_id} {shown['status']}: {outcomes}")
        expect(shown["status"] == "DELIVERED", f"delivery {delivery_id} is {shown['status']}")
    gateway = stack.top_gateway
    if gateway is not None:
        for received in gateway.calls:
            valid = "valid" if received.sign_valid else "INVALID"
            say(f"   fake TOP gateway received {received.method}, sign {valid}")
        expect(
            all(received.sign_valid for received in gateway.calls), "a TOP call was badly signed"
        )
        expect(len(gateway.calls) == len(DELIVERIES), f"{len(gateway.calls)} TOP calls, not 2")

    say("4. platform retries the same order call")
    replay = spi_call(call.url(url), call.body, call.headers)
    say(f"   <- {describe_answer(replay)}")
    expect(
        replay["making_card_no"] == making_card_no,
        f"the replay answered {replay['making_card_no']!r}, not {making_card_no!r}",
    )
    say(f"   same making_card_no: {making_card_no}")


def create_delivery(url: str, body: dict[str, Any], say: Callable[..., None]) -> str:
    answer = requests.post(f"{url}/deliveries", json=body, timeout=TIMEOUT)
    expect(answer.status_code == 202, f"POST /deliveries answered HTTP {answer.status_code}")
    delivery_id = str(json_body(answer)["delivery_id"])
    say(f"   POST /deliveries {body['type']} x{body['quantity']} -> 202 {delivery_id}")
    return delivery_id


def follow_delivery(url: str, delivery_id: str) -> dict[str, Any]:
    """Poll a delivery until it reaches a final status; fail past the bound."""
    deadline = time.monotonic() + DELIVERY_BOUND
    while True:
        answer = requests.get(f"{url}/deliveries/{delivery_id}", timeout=TIMEOUT)
        expect(answer.status_code == 200, f"GET /deliveries answered HTTP {answer.status_code}")
        shown = json_body(answer)
        if shown.get("status") in {"DELIVERED", "PARTIAL", "FAILED"}:
            return shown
        expect(time.monotonic() < deadline, f"{delivery_id} still {shown.get('status')}")
        time.sleep(0.2)


def follow_generation(url: str, say: Callable[..., None]) -> dict[str, Any]:
    """Poll the order until it is GENERATED, printing each change; fail past the bound."""
    deadline = time.monotonic() + GENERATION_BOUND
    shown = ""
    while True:
        view = get_order(url)
        status = view.get("status")
        line = f"{status}: {view.get('cards_generated')}/{view.get('card_count')} cards"
        if view.get("chunks_total"):
            line += f", {view.get('chunks_done')}/{view.get('chunks_total')} chunks"
        if line != shown:
            say(f"   <- {line}")
            shown = line
        if status == "GENERATED":
            return view
        expect(status != "FAILED", f"generation failed: {view.get('failure_reason')}")
        expect(time.monotonic() < deadline, f"not GENERATED after {GENERATION_BOUND} s ({line})")
        time.sleep(0.2)


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


def get_order(url: str) -> dict[str, Any]:
    answer = requests.get(
        f"{url}/orders/{CARD_ORDER_ID}", params={"own_sign": OWN_SIGN}, timeout=TIMEOUT
    )
    expect(answer.status_code == 200, f"GET /orders answered HTTP {answer.status_code}")
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


def expect(condition: bool, reason: str) -> None:
    if not condition:
        raise DemoFailed(reason)


if __name__ == "__main__":
    sys.exit(main())
