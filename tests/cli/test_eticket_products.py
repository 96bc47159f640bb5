"""`cardmaker eticket products put|show|list` against the local stack's API over HTTP, and a
send notice served by the local stack on its own: recorded in the e-voucher table, its
stream played to the fulfilment function, its delivery out through the fake gateway."""

from __future__ import annotations

import time

from cardmaker import DynamoDBNoticeRepository, EticketNotice
from cardmaker.top import format_timestamp, utc_now
from cardmaker_cli.deliveries import show_delivery
from cardmaker_cli.samples import sample_notice
from tests.cli.conftest import json_output
from tests.conftest import send_accepted_order

MA_SEND = "taobao.eticket.merchant.ma.send"


def test_put_show_and_list_a_product(cli):
    put = cli(
        "eticket",
        "products",
        "put",
        "CLI-GIFT-1",
        "--template",
        "3010030E05",
        "--own-sign",
        "daily",
        "--json",
    )
    assert put.exit_code == 0, put.output
    assert json_output(put) | {"updated_at": ""} == {
        "merchant_code": "CLI-GIFT-1",
        "own_sign": "daily",
        "template_no": "3010030E05",
        "certificate_type": 1,
        "updated_at": "",
        "woken": 0,
    }
    shown = cli("eticket", "products", "show", "CLI-GIFT-1", env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "3010030E05" in shown.stdout
    listed = cli("eticket", "products", "list", "--json")
    assert "CLI-GIFT-1" in [p["merchant_code"] for p in json_output(listed)["products"]]


def test_a_refused_mapping_names_the_field_and_writes_nothing(cli):
    result = cli(
        "eticket",
        "products",
        "put",
        "CLI-GIFT-2",
        "--template",
        "no spaces allowed",
        "--own-sign",
        "daily",
    )
    assert result.exit_code != 0
    assert "template_no" in result.output
    missing = cli("eticket", "products", "show", "CLI-GIFT-2")
    assert missing.exit_code != 0
    assert "no product is mapped" in missing.output


def test_the_local_stack_serves_a_send_notice_by_itself(cli, local_stack):
    # Given a generated order of a template, and a product mapped to it
    send_accepted_order(local_stack, 17301, [("EVT1", 3, "100")], "daily")
    local_stack.wait_idle(60)
    assert (
        cli(
            "eticket", "products", "put", "CLI-EV-3", "--template", "EVT1", "--own-sign", "daily"
        ).exit_code
        == 0
    )
    # When the platform's send notice for 2 cards is recorded
    parameters = {
        "timestamp": format_timestamp(utc_now()),
        **sample_notice(order_id="8801", token="tok-8801-abc", num=2, merchant_code="CLI-EV-3"),
    }
    notice = EticketNotice.of(parameters, utc_now().isoformat(timespec="milliseconds"))
    notices = DynamoDBNoticeRepository(
        local_stack.stack.physical["EticketTable"], local_stack.client("dynamodb")
    )
    assert notices.record(notice)
    # Then the stack makes its delivery and sends it, without an operator
    deadline = time.monotonic() + 30
    while True:
        local_stack.wait_idle(30)
        (record,) = notices.notices("8801")
        if record.delivery_id is not None:
            view = json_output(cli("deliveries", "show", record.delivery_id, "--json"))
            if view["status"] == "DELIVERED" or time.monotonic() > deadline:
                break
        assert time.monotonic() < deadline, "the notice was never fulfilled"
        time.sleep(0.2)
    assert view["status"] == "DELIVERED"
    assert (view["outer_id"], view["card_order_id"], len(view["cards"])) == ("8801", 17301, 2)
    assert "tok-8801-abc" not in str(view)
    sent = [
        call
        for call in local_stack.top_gateway.calls_of(MA_SEND)
        if call.params["outer_id"] == "8801"
    ]
    assert len(sent) == 1
    assert sent[0].params["token"] == "tok-8801-abc"


def test_a_given_up_notice_delivery_shows_whether_the_platform_was_told(capsys):
    view = {
        "delivery_id": "EN-0123456789abcdef01234567",
        "status": "FAILED",
        "type": "notice",
        "outer_id": "8802",
        "failure_reason": "no stock: not enough cards of the product's template within the wait",
        "failsend": {"state": "SENT", "sub_err_code": "isv.fail-send-no-stock", "attempts": 1},
        "cards": [],
    }
    show_delivery(view)
    printed = " ".join(capsys.readouterr().out.split())
    assert "SENT isv.fail-send-no-stock (1 attempt(s))" in printed
