"""The eticket chaos scenario's checks (chaos/eticket.py) find each breach they guard: the
long run's figures are only evidence if a broken run would have failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cardmaker_cli.notice import order_token
from chaos.eticket import broken_invariants, figures
from local.top_gateway import MA_RESEND, MA_SEND, RecordedCall

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DELIVERED = {"status": "DELIVERED", "cards": [{"outcome": "ISSUED"}]}


def ma_send(order_id: str, cards: list[str], at: datetime = T0, **params: str) -> RecordedCall:
    return RecordedCall(
        method=MA_SEND,
        params={"outer_id": order_id, "token": order_token(order_id), **params},
        structs={"isv_ka_list": [{"ka_no": card, "ka_pwd": "x"} for card in cards]},
        sign_valid=True,
        answer={"ret_code": "1"},
        at=at,
    )


def run(
    calls: list[RecordedCall],
    views: dict[str, dict[str, Any]] | None = None,
    voided_at: dict[str, datetime] | None = None,
) -> list[str]:
    views = views or {"1": DELIVERED, "2": DELIVERED}
    orders = {order_id: {"fate": "send"} for order_id in views}
    return broken_invariants(figures(orders, views, views, calls, voided_at or {}))


def test_a_healthy_run_breaks_nothing():
    # (the same cards sent again to the same order, after a lost answer, is a repeat)
    calls = [ma_send("1", ["c1"]), ma_send("1", ["c1"]), ma_send("2", ["c2"])]

    assert run(calls) == []


def test_a_card_sent_to_two_orders_is_a_breach():
    assert run([ma_send("1", ["c1"]), ma_send("2", ["c1"])]) == [
        "cards_in_two_deliveries=1 (must be 0)"
    ]


def test_a_voided_order_sent_again_is_a_breach():
    after_void = ma_send("1", ["c1"], at=T0 + timedelta(seconds=5))
    resend = RecordedCall(
        method=MA_RESEND,
        params={"outer_id": "1", "token": order_token("1")},
        structs={"isv_ma_list": [{"code": "s1", "num": 1}]},
        sign_valid=True,
        answer={"ret_code": "1"},
        at=T0 + timedelta(seconds=6),
    )

    assert run([ma_send("1", ["c1"]), after_void, resend], voided_at={"1": T0}) == [
        "voided_cards_reissued=2 (must be 0)"
    ]


def test_a_delivery_not_ended_is_a_breach():
    waiting = {"status": "WAITING_STOCK"}
    failed_unsent = {"status": "FAILED", "failsend": {"state": "PENDING"}}
    failed_sent = {"status": "FAILED", "failsend": {"state": "SENT"}}

    views = {"1": waiting, "2": failed_unsent, "3": failed_sent, "4": {"status": "CANCELLED"}}
    assert run([], views) == ["deliveries_not_ended=2 (must be 0)"]


def test_an_ma_send_without_its_notices_token_is_a_breach():
    assert run([ma_send("1", ["c1"], token="someone-elses")]) == [
        "ma_send_without_its_token=1 (must be 0)"
    ]
