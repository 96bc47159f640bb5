"""The demo's e-voucher walk (local/demo.py step 8): the operator maps a merchant code to one of
the order's templates, the platform posts a buyer's ``send`` notice signed as it signs them
(GBK form), the notice becomes a DELIVERED notice delivery whose ``ma.send`` carries the
notice's token, a duplicate send changes nothing, a notice for an unmapped code gives up on
stock after ``EticketStockWaitSeconds`` and tells the platform with ``ma.failsend``, and a
refund voids the delivered card. What the fake TOP gateway received is checked at each step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from cardmaker import notice_delivery_id
from cardmaker_cli.notice import order_token, post_notice
from cardmaker_cli.samples import DEMO_NOTICE_SECRET, sample_notice
from cardmaker_cli.target import Target
from local.demo_lifecycle import expect
from local.stack import LocalStack
from local.top_gateway import MA_FAILSEND, MA_SEND, RecordedCall

# The demo stack's stock wait (template parameter): the out-of-stock notice gives up after it.
STOCK_WAIT_SECONDS = 3
MERCHANT_CODE = "CM-EV-500"  # mapped to the order's 500-fen template
UNMAPPED_CODE = "CM-EV-NONE"  # never mapped: no stock
SENT_ORDER_ID = "4100000000000001"
NO_STOCK_ORDER_ID = "4100000000000002"
POLL_SECONDS = 0.02  # fine enough to measure notice -> ma.send in about a second
TIMEOUT = 10


@dataclass(frozen=True)
class EticketWalk:
    """What the walk measured: notice -> DELIVERED, notice -> failsend SENT (seconds)."""

    delivered_seconds: float
    failsend_seconds: float


def walk_eticket(
    stack: LocalStack,
    note: Callable[[str], None],
    own_sign: str,
    template_no: str,
    bound: float,
) -> EticketWalk:
    """Play the operator and the platform's e-voucher side; ``DemoFailed`` at the first
    surprise. ``bound``: seconds for each notice to reach its end (plus the stock wait for
    the out-of-stock one)."""
    url = stack.url
    gateway = stack.top_gateway
    expect(gateway is not None, "the e-voucher walk needs the fake TOP gateway")
    assert gateway is not None
    target = Target("local", stack.outputs(), stack.session(), local=True)

    product = {"own_sign": own_sign, "template_no": template_no, "certificate_type": 1}
    answer = requests.put(f"{url}/eticket/products/{MERCHANT_CODE}", json=product, timeout=TIMEOUT)
    expect(answer.status_code == 200, f"PUT /eticket/products answered {answer.status_code}")
    note(f"operator -> PUT /eticket/products/{MERCHANT_CODE}: {template_no} ({own_sign}) -> 200")

    send = sample_notice("send", SENT_ORDER_ID, token=order_token(SENT_ORDER_ID), num=1)
    send["sub_outer_iid"] = MERCHANT_CODE
    posted = time.monotonic()
    accepted(post_notice(target, send, DEMO_NOTICE_SECRET), "send")
    delivery_id = notice_delivery_id(SENT_ORDER_ID)
    note(f"platform -> POST /eticket/notices send order {SENT_ORDER_ID} x1 (GBK, signed) -> 200")
    view = follow(url, delivery_id, lambda v: v.get("status") == "DELIVERED", bound, posted)
    delivered_seconds = time.monotonic() - posted
    [card] = view["cards"]
    [ma_send] = accepted_calls(gateway.calls_of(MA_SEND), SENT_ORDER_ID)
    expect(ma_send.params.get("token") == send["token"], "the ma.send lacks the notice's token")
    note(
        f"<- {delivery_id} DELIVERED in {delivered_seconds:.2f} s: {card['card_no']} "
        f"{card['outcome']}; ma.send accepted, with the notice's token"
    )

    # The platform repeats a notice it got no answer to: the endpoint knows it (same order,
    # method and parameters) and records nothing new, so nothing downstream wakes.
    accepted(post_notice(target, send, DEMO_NOTICE_SECRET), "duplicate send")
    notices = get_json(f"{url}/eticket/notices/{SENT_ORDER_ID}").get("notices", [])
    again = get_json(f"{url}/deliveries/{delivery_id}")
    expect(len(notices) == 1, f"the duplicate send was recorded again: {notices}")
    expect(again["cards"] == view["cards"], "the duplicate send changed the delivery")
    sends = accepted_calls(gateway.calls_of(MA_SEND), SENT_ORDER_ID)
    expect(len(sends) == 1, f"{len(sends)} accepted ma.send for one order")
    note("platform -> the same send again -> 200: one notice recorded, one delivery, one ma.send")

    no_stock = sample_notice("send", NO_STOCK_ORDER_ID, token=order_token(NO_STOCK_ORDER_ID), num=1)
    no_stock["sub_outer_iid"] = UNMAPPED_CODE
    posted = time.monotonic()
    accepted(post_notice(target, no_stock, DEMO_NOTICE_SECRET), "out-of-stock send")
    wait = float(os.environ.get("ETICKET_STOCK_WAIT_SECONDS", STOCK_WAIT_SECONDS))
    note(f"platform -> send order {NO_STOCK_ORDER_ID} for {UNMAPPED_CODE} (unmapped: no stock)")
    failed = follow(
        url,
        notice_delivery_id(NO_STOCK_ORDER_ID),
        lambda v: (v.get("failsend") or {}).get("state") == "SENT",
        wait + bound,
        posted,
    )
    failsend_seconds = time.monotonic() - posted
    [ma_failsend] = accepted_calls(gateway.calls_of(MA_FAILSEND), NO_STOCK_ORDER_ID)
    expect(
        ma_failsend.params.get("token") == no_stock["token"]
        and ma_failsend.params.get("sub_err_code") == failed["failsend"]["sub_err_code"],
        "the ma.failsend lacks the notice's token or its reason",
    )
    note(
        f"<- {failed['delivery_id']} {failed['status']} after {failsend_seconds:.1f} s "
        f"(stock wait {wait:g} s): ma.failsend {failed['failsend']['sub_err_code']} accepted"
    )

    cancel = {**send, "method": "cancel", "cancel_num": "1"}
    accepted(post_notice(target, cancel, DEMO_NOTICE_SECRET), "cancel")
    voided = follow(
        url,
        delivery_id,
        lambda v: all(c.get("outcome") == "VOIDED" for c in v.get("cards", [])),
        bound,
        time.monotonic(),
    )
    note(f"platform -> cancel order {SENT_ORDER_ID} -> {voided['cards'][0]['card_no']} VOIDED")
    return EticketWalk(delivered_seconds, failsend_seconds)


def accepted(answer: tuple[int, dict[str, Any]], what: str) -> None:
    status, body = answer
    expect(status == 200 and body.get("code") == 200, f"the {what} notice answered {status} {body}")


def accepted_calls(calls: list[RecordedCall], outer_id: str) -> list[RecordedCall]:
    """The calls for ``outer_id`` the platform accepted (validly signed, no error)."""
    return [
        call
        for call in calls
        if call.params.get("outer_id") == outer_id
        and call.sign_valid
        and call.processed
        and call.answer is not None
        and "error_response" not in call.answer
    ]


def follow(
    url: str,
    delivery_id: str,
    done: Callable[[dict[str, Any]], bool],
    bound: float,
    since: float,
) -> dict[str, Any]:
    """Poll a notice delivery until ``done``; ``DemoFailed`` after ``bound`` seconds."""
    while True:
        answer = requests.get(f"{url}/deliveries/{delivery_id}", timeout=TIMEOUT)
        view: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
        if view and done(view):
            return view
        expect(
            time.monotonic() - since < bound,
            f"notice delivery {delivery_id} still {view.get('status', 'absent')} after {bound:g} s",
        )
        time.sleep(POLL_SECONDS)


def get_json(url: str) -> dict[str, Any]:
    answer = requests.get(url, timeout=TIMEOUT)
    expect(answer.status_code == 200, f"GET {url} answered {answer.status_code}")
    value = answer.json()
    expect(isinstance(value, dict), f"not a JSON object: {answer.text[:200]!r}")
    return dict(value)
