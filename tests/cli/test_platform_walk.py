"""Joint testing (联调) as the design brief describes it: with `make serve` running, the
platform simulator and an operator walk one order from its template to the buyer's receipt,
each step through the `cardmaker` commands over HTTP, and the platform hears of each step
(the notifier's make.finish and status.sended, once each) and can ask at any time."""

from __future__ import annotations

from cardmaker import DynamoDBTemplateRegistry
from local.top_gateway import MAKE_FINISH, STATUS_SENDED
from tests.cli.conftest import json_output

ORDER = "CM-daily-26301"
WAYBILL = ("顺丰速运", "SF26301")


def test_an_order_walks_from_its_template_to_the_receipt(cli, local_stack):
    def status() -> dict:
        answer = json_output(cli("platform", "status-query", ORDER, "--json"))
        return answer["response"]

    # The platform announces the template, then orders it
    announced = cli(
        "platform", "template-new", "--template-no", "3010030E02",
        "--card-name", "猫超储值卡面额100", "--par-value", "100", "--json",
    )  # fmt: skip
    assert announced.exit_code == 0, announced.output
    sent = cli(
        "platform", "send-order", "--card-order-id", "26301", "--template", "3010030E02:4",
        "--logistics", "--json",
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    local_stack.wait_idle(60)
    registry = DynamoDBTemplateRegistry(
        local_stack.stack.physical["OrdersTable"], local_stack.client("dynamodb")
    )
    assert registry.get("daily", "3010030E02") is not None
    shown = json_output(cli("orders", "show", ORDER, "--json"))
    assert shown["status"] == "GENERATED"
    assert shown["templates"][0]["registered"] is True
    assert status()["status"] == "REQUEST_RECEIVED"
    # A receipt before the cards are made is refused, and changes nothing
    early = cli("platform", "receipt", ORDER, "--json")
    assert early.exit_code != 0
    assert json_output(early)["response"]["result_code"] == "INVALID_ORDER_STATUS"

    # The operator says the cards are made: the platform is told, and its query agrees
    made = cli("orders", "made", ORDER)
    assert made.exit_code == 0, made.output
    local_stack.wait_idle(60)
    assert status()["status"] == "WAITING_DELIVERY"

    # ...and ships them: the platform is told the waybill, and its query shows it
    shipped = cli("orders", "ship", ORDER, "--carrier", WAYBILL[0], "--waybill", WAYBILL[1])
    assert shipped.exit_code == 0, shipped.output
    local_stack.wait_idle(60)
    delivered = status()
    assert (
        delivered["status"],
        delivered["logistics_company"],
        delivered["logistics_order_id"],
    ) == ("DELIVERED", *WAYBILL)

    # The buyer confirms receipt
    confirmed = cli("platform", "receipt", ORDER, "--json")
    assert confirmed.exit_code == 0, confirmed.output
    local_stack.wait_idle(60)
    shown = json_output(cli("orders", "show", ORDER, "--json"))
    assert shown["status"] == "CONFIRMED"
    assert {name: n["state"] for name, n in shown["notifications"].items()} == {
        "make_finish": "SENT",
        "status_sended": "SENT",
    }
    assert status()["status"] == "DELIVERED"  # the platform's enum ends there

    # Each notification was one call the platform accepted, with this order's data
    gateway = local_stack.top_gateway
    assert gateway is not None
    finished = [c for c in gateway.calls_of(MAKE_FINISH) if c.params["card_order_id"] == "26301"]
    sended = [c for c in gateway.calls_of(STATUS_SENDED) if c.params["card_order_id"] == "26301"]
    assert [c.accepted for c in finished] == [("26301",)]
    assert [c.accepted for c in sended] == [("26301",)]
    assert (sended[0].params["logistics_company"], sended[0].params["logistics_order_id"]) == (
        WAYBILL
    )

    # and integrators heard every step on the LifecycleBus
    events = json_output(cli("events", "--order", ORDER, "--json"))
    kinds = [event["detail-type"] for event in events]
    for kind in ("Order Received", "Order Generated", "Order Made", "Order Shipped"):
        assert kind in kinds
    assert kinds[-1] == "Order Confirmed"
