"""``make demo`` (local/demo.py): the whole story as a subprocess, and failing loudly, with the
reason, when a step does not reach its expected state."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from cardmaker import notice_delivery_id
from cardmaker_cli.samples import DEMO_NOTICE_SECRET, DEMO_SECRET
from local.apigw import local_identity
from local.demo import TEMPLATES, DemoBounds, run
from local.demo_display import DemoDisplay
from local.demo_lifecycle import DemoFailed
from local.stack import DEMO_SESSION_KEY
from local.top_gateway import MA_SEND, Fault

REPO = Path(__file__).resolve().parents[2]
# Enough of each template the demo's deliveries draw from (bind: E02, eticket: E05).
SMALL_ORDER = [("3010030E02", 20, "100"), ("3010030E05", 5, "5000")]


def run_demo(**environment: str) -> subprocess.CompletedProcess[str]:
    """``python -m local.demo`` as ``make demo`` runs it, stdout not a terminal (as in CI)."""
    return subprocess.run(
        [sys.executable, "-m", "local.demo"],
        cwd=REPO,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def table_rows(output: str, heading: str) -> list[list[str]]:
    """The body rows of the summary table printed under ``heading``, cell by cell."""
    lines = output.splitlines()
    start = lines.index(heading)
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def small_display() -> tuple[DemoDisplay, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    display = DemoDisplay(Console(file=out, width=120), Console(file=err, width=120))
    return display, out, err


def test_demo_tells_the_whole_story():
    # When make demo runs with its output going to a file, as in a CI log
    result = run_demo()

    # Then it succeeds, and its summary tells what happened at each step
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.rstrip().endswith("demo OK")
    [order] = table_rows(out, "Order")
    assert order[:5] == ["16002", "daily", "CM-daily-16002", "CONFIRMED", "3337/3337"]
    assert order[5].endswith(" s")
    templates = table_rows(out, "Cards per template")
    assert [(row[0], row[2], row[3], row[4]) for row in templates] == [
        (number, par_value, str(count), str(count)) for number, count, par_value in TEMPLATES
    ]
    assert len(TEMPLATES) >= 3
    assert sum(count for _, count, _ in TEMPLATES) >= 3000
    deliveries = table_rows(out, "Deliveries")
    assert [(row[1], row[3], row[4], row[5]) for row in deliveries] == [
        ("bind", "3", "DELIVERED", "BOUND 3"),
        ("eticket", "2", "DELIVERED", "ISSUED 2"),
    ]
    # the platform's status query after each step of the lifecycle, and the waybill once
    # shipped
    received, *after = table_rows(
        out, "Lifecycle: the order, and what cardorder.status.query answered"
    )
    # (right after the order call, generation may already have started)
    assert received[0] == "received"
    assert received[2:] == ["REQUEST_RECEIVED", "-"]
    assert received[1] in {"RECEIVED", "GENERATING", "GENERATED"}
    assert after == [
        ["generated", "GENERATED", "REQUEST_RECEIVED", "-"],
        ["made", "MADE", "WAITING_DELIVERY", "-"],
        ["shipped", "SHIPPED", "DELIVERED", "顺丰速运 SF1234567890"],
        ["confirmed", "CONFIRMED", "DELIVERED", "顺丰速运 SF1234567890"],
    ]
    # each delivery and each platform notification is one correctly signed call
    assert table_rows(out, "Fake TOP gateway: calls received") == [
        ["alibaba.fundplatform.cardorders.status.make.finish", "1", "1/1", "1/1"],
        ["alibaba.fundplatform.cardorders.status.sended", "1", "1/1", "1/1"],
        ["taobao.eticket.merchant.ma.failsend", "1", "1/1", "1/1"],
        ["taobao.eticket.merchant.ma.send", "2", "2/2", "2/2"],
        ["tmall.purchase.card.bind", "1", "1/1", "1/1"],
    ]
    assert "0. platform -> card.template.new: 4 templates (daily)" in out
    # and integrators heard every step on the LifecycleBus
    [bus] = [line for line in out.splitlines() if "LifecycleBus -> integrators" in line]
    for step in ("Received", "Generated", "Made", "Shipped", "Confirmed"):
        assert f"Order {step}" in bus
    # (each delivery names who asked for it: the local user, as the local API says)
    assert out.count(f"(requested by {local_identity()['userArn']})") == 2
    assert "replayed cardorder.make -> the same answer, making_card_no CM-daily-16002" in out
    assert "total elapsed: " in out
    # the e-voucher walk: a buyer's send notice becomes an accepted ma.send in about a
    # second, a duplicate changes nothing, no stock ends in ma.failsend, a refund voids
    assert "PUT /eticket/products/CM-EV-500: 3010030E04 (daily) -> 200" in out
    [delivered] = [line for line in out.splitlines() if " DELIVERED in " in line]
    assert delivered.strip().startswith(f"<- {notice_delivery_id('4100000000000001')} ")
    assert delivered.endswith("ISSUED; ma.send accepted, with the notice's token")
    assert float(delivered.split(" DELIVERED in ")[1].split(" s:")[0]) < 3
    assert "the same send again -> 200: one notice recorded, one delivery, one ma.send" in out
    assert f"<- {notice_delivery_id('4100000000000002')} FAILED after " in out
    assert "(stock wait 3 s): ma.failsend isv.fail-send-no-stock accepted" in out
    assert "platform -> cancel order 4100000000000001 -> " in out
    assert out.count(" VOIDED\n") == 1
    # and the progress bars' final state is printed even without a terminal
    assert "3010030E02 猫超储值卡面额100" in out
    # and nothing secret reaches the output
    for secret in (DEMO_SECRET, DEMO_SESSION_KEY, DEMO_NOTICE_SECRET):
        assert secret not in out + result.stderr


def test_demo_fails_loudly_when_generation_misses_its_bound():
    # When the order is given far less time than generation takes
    result = run_demo(CARDMAKER_DEMO_GENERATION_BOUND="0.01")

    # Then the demo exits 1, says why on stderr and shows the functions' output
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("demo FAILED: order 16002 not GENERATED within 0.01 s ("), (
        result.stderr
    )
    assert "--- the local stack's output ---" in result.stderr
    assert '"message":"OrderReceived"' in result.stderr
    assert "demo OK" not in result.stdout
    # and the logs it dumps hold no secret either
    for secret in (DEMO_SECRET, DEMO_SESSION_KEY):
        assert secret not in result.stdout + result.stderr


def test_demo_fails_loudly_on_a_bad_bound():
    result = run_demo(CARDMAKER_DEMO_DELIVERY_BOUND="soon")

    assert result.returncode == 1
    assert result.stderr.startswith(
        "demo FAILED: CARDMAKER_DEMO_DELIVERY_BOUND must be a positive number of seconds"
    )


def test_demo_fails_when_the_platform_refuses_a_delivery(local_stack):
    # Given a TOP gateway that refuses every ma.send as a caller error (never retried)
    assert local_stack.top_gateway is not None
    local_stack.top_gateway.fail_always(
        Fault.error(15, "isv.invalid-parameter", sub_msg="refused for the test"), method=MA_SEND
    )
    display, out, _ = small_display()

    # When the demo's story runs against it (a small order)
    with pytest.raises(DemoFailed) as failure:
        run(local_stack, display, DemoBounds(generation=30, delivery=15), SMALL_ORDER)

    # Then it stops at the e-voucher delivery, naming it and its cards' outcomes
    reason = str(failure.value)
    assert reason.startswith("delivery ET-")
    assert "(eticket) ended FAILED, not DELIVERED" in reason
    assert "FAILED isv.invalid-parameter, FAILED isv.invalid-parameter" in reason
    # while the bind delivery, which the gateway accepted, was delivered
    assert "BD-" in out.getvalue()
    assert " DELIVERED: " in out.getvalue()


def test_demo_fails_when_a_delivery_misses_its_bound(local_stack):
    # Given a TOP gateway that answers card.bind only after the delivery's bound
    assert local_stack.top_gateway is not None
    local_stack.top_gateway.fail_always(Fault.delay(2), method="tmall.purchase.card.bind")
    display, _, _ = small_display()

    # When the demo's story runs with a one-second bound per delivery
    with pytest.raises(
        DemoFailed, match=r"^delivery BD-\w+ \(bind\) still (PENDING|SENDING) after 1 s$"
    ):
        run(local_stack, display, DemoBounds(generation=30, delivery=1), SMALL_ORDER)


def test_bounds_come_from_the_environment():
    bounds = DemoBounds.from_environ(
        {"CARDMAKER_DEMO_GENERATION_BOUND": "2.5", "CARDMAKER_DEMO_DELIVERY_BOUND": ""}
    )

    assert bounds == DemoBounds(generation=2.5, delivery=DemoBounds().delivery)
    with pytest.raises(DemoFailed, match="CARDMAKER_DEMO_GENERATION_BOUND"):
        DemoBounds.from_environ({"CARDMAKER_DEMO_GENERATION_BOUND": "-1"})
