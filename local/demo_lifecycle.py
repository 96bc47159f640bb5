"""The demo's platform lifecycle: templates announced, the status asked at each step, the
order made and shipped by the operator, the platform told (make.finish, status.sended), and
the receipt confirmed. Used by local/demo.py; every call goes over real HTTP, as the platform
and an operator would make it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from cardmaker import CARD_TEMPLATE_NEW, CARDORDER_RECEIPT, CARDORDER_STATUS_QUERY, OrderKey
from cardmaker_cli.events import latest_events
from cardmaker_cli.target import Target
from local.platform import sign_demo_call
from local.stack import LocalStack

POLL_SECONDS = 0.15
TIMEOUT = 10  # seconds for any one HTTP request
# The demo's waybill (the design brief's example).
WAYBILL = {"logistics_company": "顺丰速运", "logistics_order_id": "SF1234567890"}


class DemoFailed(Exception):
    """An answer the demo did not expect, or a state not reached within its bound."""


@dataclass(frozen=True)
class PlatformAnswer:
    """The ``response`` of one SPI call, and how it was asked."""

    method: str
    response: dict[str, Any]

    @property
    def summary(self) -> str:
        fields = ", ".join(
            f"{name}={value}"
            for name, value in self.response.items()
            if name not in ("success", "result_message")
        )
        return f"success={str(self.response.get('success')).lower()} {fields}"


def platform_call(url: str, method: str, business: dict[str, Any]) -> PlatformAnswer:
    """One SPI call signed as the platform signs it (JSON body); its ``response``, which
    must say success."""
    call = sign_demo_call(business, method=method, body_format="json")
    answer = requests.post(call.url(url), data=call.body, headers=call.headers, timeout=TIMEOUT)
    expect(answer.status_code == 200, f"{method} answered HTTP {answer.status_code}")
    response = answer.json().get("response")
    expect(isinstance(response, dict), f"{method}: no response struct in {answer.text[:200]!r}")
    assert isinstance(response, dict)
    expect(
        response.get("success") is True,
        f"{method} was refused: {response.get('result_code')} {response.get('result_message')}",
    )
    return PlatformAnswer(method, response)


def announce_template(
    url: str, own_sign: str, template_no: str, name: str, par_value: str
) -> PlatformAnswer:
    """``card.template.new`` for one of the order's templates (a real one: not a test template)."""
    business = {
        "template_no": template_no,
        "card_name": name,
        "par_value": par_value,
        "is_test": False,
        "own_sign": own_sign,
    }
    return platform_call(url, CARD_TEMPLATE_NEW, business)


def query_status(url: str, own_sign: str, card_order_id: int) -> PlatformAnswer:
    """``cardorder.status.query``: where the maker says the order is."""
    request = {"card_order_id": card_order_id, "own_sign": own_sign}
    return platform_call(url, CARDORDER_STATUS_QUERY, {"request": request})


def confirm_receipt(url: str, own_sign: str, card_order_id: int) -> PlatformAnswer:
    """``cardorder.receipt``: the buyer confirmed receipt."""
    business = {"card_order_id": card_order_id, "own_sign": own_sign}
    return platform_call(url, CARDORDER_RECEIPT, business)


def operator_step(url: str, path: str, body: dict[str, Any] | None, own_sign: str) -> str:
    """``POST /orders/{id}/made`` or ``/shipment`` as an operator; the status it answers."""
    answer = requests.post(
        f"{url}{path}", params={"own_sign": own_sign}, json=body, timeout=TIMEOUT
    )
    expect(answer.status_code == 202, f"POST {path} answered HTTP {answer.status_code}")
    return str(answer.json().get("status"))


def follow_notice(
    read_order: Callable[[], dict[str, Any]], notice: str, bound: float
) -> dict[str, Any]:
    """Poll the order until its ``notice`` notification is SENT; the order view then.
    ``LifecycleFailed`` if it FAILED or ``bound`` seconds pass first."""
    deadline = time.monotonic() + bound
    while True:
        view = read_order()
        state = (view.get("notifications") or {}).get(notice, {})
        if state.get("state") == "SENT":
            return view
        expect(
            state.get("state") != "FAILED",
            f"the platform notification {notice} FAILED: {state.get('code')}"
            f" {state.get('message')}",
        )
        expect(
            time.monotonic() < deadline,
            f"the platform notification {notice} not SENT within {bound:g} s ({state})",
        )
        time.sleep(POLL_SECONDS)


# What integrators hear of the demo's order on the LifecycleBus, in order.
ORDER_EVENTS = (
    "Order Received",
    "Order Generated",
    "Order Made",
    "Order Shipped",
    "Order Confirmed",
)


def follow_events(stack: LocalStack, key: OrderKey, bound: float) -> list[dict[str, Any]]:
    """The order's lifecycle events, read back from the bus's archive as ``cardmaker events``
    reads them, once every step of ``ORDER_EVENTS`` is there (they are published from the
    streams, a moment after each step); ``DemoFailed`` if ``bound`` seconds pass first."""
    target = Target("local", stack.outputs(), stack.session(), local=True)
    deadline = time.monotonic() + bound
    while True:
        events = latest_events(target, key, limit=100, since_hours=0)
        kinds = [event["detail-type"] for event in events]
        if set(ORDER_EVENTS) <= set(kinds):
            return events
        expect(
            time.monotonic() < deadline,
            f"the LifecycleBus carried {kinds} for {key.making_card_no} within {bound:g} s",
        )
        time.sleep(POLL_SECONDS)


def expect(condition: bool, reason: str) -> None:
    if not condition:
        raise DemoFailed(reason)
