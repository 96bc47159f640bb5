"""`cardmaker orders show` and `cardmaker deliveries create/show` against the local stack's
API over HTTP: readable tables, raw JSON, and the API's refusals as messages."""

from __future__ import annotations

import json

import pytest

from cardmaker_cli.deliveries import show_delivery, without_secrets
from cardmaker_cli.samples import sample_order
from local.apigw import local_identity
from local.top_gateway import Fault
from tests.cli.conftest import ORDER_ID, OWN_SIGN, json_output
from tests.conftest import send_accepted_order

MAKING_CARD_NO = f"CM-{OWN_SIGN}-{ORDER_ID}"


def test_orders_show_prints_the_order_and_its_templates(cli):
    result = cli("orders", "show", MAKING_CARD_NO)

    assert result.exit_code == 0, result.output
    assert f"order {MAKING_CARD_NO}" in result.stdout
    assert "GENERATED" in result.stdout
    assert "1210 / 1210" in result.stdout  # cards generated of the order's cards
    assert "3010030E02" in result.stdout
    assert "3010030E05" in result.stdout


def test_values_from_the_api_are_shown_as_text_never_as_markup(cli, tmp_path):
    # Given an order whose card name looks like rich markup (the platform chooses names)
    order = sample_order(26401, OWN_SIGN, [("3010030E02", 1, "100")])
    order["card_product_infos"][0]["card_name"] = "卡[/]x[bold]y"
    body = tmp_path / "order.json"
    body.write_text(json.dumps(order, ensure_ascii=False), encoding="utf-8")
    sent = cli("platform", "send-order", "--file", str(body))
    assert sent.exit_code == 0, sent.output

    # When it is shown, Then the name appears exactly as sent
    result = cli("orders", "show", "CM-daily-26401", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "卡[/]x[bold]y" in result.stdout


def test_orders_show_json_is_the_api_answer(cli):
    result = cli("orders", "show", str(ORDER_ID), "--own-sign", OWN_SIGN, "--json")

    assert result.exit_code == 0, result.output
    view = json_output(result)
    assert view["making_card_no"] == MAKING_CARD_NO
    assert view["status"] == "GENERATED"
    assert [(t["template_no"], t["generated"]) for t in view["templates"]] == [
        ("3010030E02", 1203),
        ("3010030E05", 7),
    ]


def test_an_unknown_order_is_a_message_not_a_traceback(cli):
    result = cli("orders", "show", "999", "--own-sign", "pre")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: the API refused the request (404)")
    assert "Traceback" not in result.output


def test_an_order_argument_that_names_no_order_is_a_usage_error(cli):
    result = cli("orders", "show", "CM-daily-12", "--own-sign", "pre")

    assert result.exit_code == 2
    assert "is a daily order, not pre" in result.output


def test_a_bind_delivery_is_created_and_followed_to_delivered(cli, local_stack):
    result = cli(
        "deliveries", "create", "bind", "--order", MAKING_CARD_NO, "--template", "3010030E05",
        "--quantity", "2", "--out-biz-id", "CLI-BIND-1", "--buyer-nick", "tracey_05", "--wait",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "DELIVERED" in result.stdout
    assert result.stdout.count("BOUND") == 2
    bound = local_stack.top_gateway.calls_of("tmall.purchase.card.bind")
    assert any(call.structs["card_bind_req_dto"]["out_biz_id"] == "CLI-BIND-1" for call in bound)


def test_an_eticket_delivery_from_a_file_then_shown_as_json(cli, tmp_path):
    body = {
        "type": "eticket",
        "card_order_id": ORDER_ID,
        "own_sign": OWN_SIGN,
        "template_no": "3010030E05",
        "quantity": 1,
        "outer_id": "CLI-ET-1",
        "token": "tok-1",
    }
    file = tmp_path / "delivery.json"
    file.write_text(json.dumps(body), encoding="utf-8")

    created = cli("deliveries", "create", "--file", str(file), "--json")
    assert created.exit_code == 0, created.output
    delivery_id = json_output(created)["delivery_id"]
    assert delivery_id.startswith("ET-")

    followed = cli("deliveries", "create", "--file", str(file), "--wait", "--json")
    assert followed.exit_code == 0, followed.output  # the same request finds the same delivery
    assert json_output(followed)["delivery_id"] == delivery_id

    shown = cli("deliveries", "show", delivery_id, "--json")
    assert shown.exit_code == 0, shown.output
    view = json_output(shown)
    assert view["status"] == "DELIVERED"
    assert [card["outcome"] for card in view["cards"]] == ["ISSUED"]
    assert "ka_mi" not in shown.stdout
    table = cli("deliveries", "show", delivery_id)
    assert view["cards"][0]["card_no"] in table.stdout


def test_waiting_for_a_delivery_that_fails_exits_non_zero(cli, local_stack):
    # Given a TOP gateway that answers the next ma.send with a business failure
    local_stack.top_gateway.fail_next(
        Fault.ma_ret("isv.code-invalid", "refused"), method="taobao.eticket.merchant.ma.send"
    )

    result = cli(
        "deliveries", "create", "eticket", "--order", MAKING_CARD_NO, "--template", "3010030E05",
        "--quantity", "1", "--outer-id", "CLI-ET-FAILS", "--token", "t", "--wait",
    )  # fmt: skip

    assert result.exit_code == 1
    assert "FAILED" in result.stdout  # the delivery and its card, as shown
    assert "isv.code-invalid" in result.stdout
    assert "error: delivery ET-" in result.stderr
    assert "ended FAILED" in result.stderr


def test_a_refused_delivery_names_the_failing_fields(cli):
    result = cli(
        "deliveries", "create", "eticket", "--order", MAKING_CARD_NO, "--template", "3010030E05",
        "--quantity", "0", "--outer-id", "CLI-ET-BAD", "--token", "t",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr.startswith("error: the API refused the request (422): ")
    # the field, the rule and its bounds, as a sentence (not pydantic's code)
    assert "quantity must be between 1 and 200 for eticket" in result.stderr
    assert "Traceback" not in result.output


def test_a_bind_needs_exactly_one_buyer(cli):
    result = cli(
        "deliveries", "create", "bind", "--order", MAKING_CARD_NO, "--template", "3010030E05",
        "--quantity", "1", "--out-biz-id", "CLI-BIND-NOBUYER",
    )  # fmt: skip

    assert result.exit_code == 2
    assert "--buyer-nick" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_delivery_is_a_message(cli):
    result = cli("deliveries", "show", "BD-000000000000000000000000")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: the API refused the request (404)")


def test_a_delivery_is_shown_with_who_asked_and_never_its_token(cli, tmp_path):
    # Given an e-voucher delivery asked for through the local stack (which says the local
    # user signed the request)
    token = "tok-never-shown-5b1f"
    created = cli(
        "deliveries", "create", "eticket", "--order", MAKING_CARD_NO, "--template", "3010030E05",
        "--quantity", "1", "--outer-id", "CLI-ET-WHO", "--token", token, "--wait", "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    delivery_id = json_output(created)["delivery_id"]
    # When it is shown, as a table and as JSON
    table = cli("deliveries", "show", delivery_id, env={"COLUMNS": "200"})
    as_json = cli("deliveries", "show", delivery_id, "--json")
    # Then both name who asked for it, and neither has the token
    requester = local_identity()["userArn"]
    assert requester in table.stdout
    assert json_output(as_json)["requested_by"]["user_arn"] == requester
    for shown in (created, table, as_json):
        assert token not in shown.output
        assert "token" not in shown.output


def test_a_token_an_older_api_still_answers_is_never_printed(capsys):
    # Given a delivery view from an API deployed before the token was withheld
    view = {
        "delivery_id": "ET-0123",
        "status": "DELIVERED",
        "outer_id": "O1",
        "token": "tok-from-an-older-api",
        "requested_by": {"user_arn": "arn:aws:iam::123456789012:user/alice"},
        "cards": [],
    }
    # When the command shows it
    show_delivery(without_secrets(view))
    show_delivery(view)
    # Then the token is never printed, and who asked is
    printed = capsys.readouterr().out
    assert "tok-from-an-older-api" not in printed
    assert "arn:aws:iam::123456789012:user/alice" in printed


# --- the lifecycle: list, made, ship --------------------------------------------------------

LIFECYCLE_ORDERS = (17101, 17102, 17103)


@pytest.fixture(scope="module")
def lifecycle_orders(local_stack):
    """Three GENERATED pre orders of their own (the package's shared order stays as it is),
    received in this order."""
    for number in LIFECYCLE_ORDERS:
        send_accepted_order(local_stack, number, [("3010030E02", 2, "100")], "pre")
    local_stack.wait_idle(60)
    return [f"CM-pre-{number}" for number in LIFECYCLE_ORDERS]


def test_orders_made_then_ship_walks_an_order_and_show_tells_it(cli, lifecycle_orders):
    order = lifecycle_orders[0]
    # When the order is made, then shipped
    made = cli("orders", "made", order)
    assert made.exit_code == 0, made.output
    assert made.stdout.strip() == f"order {order} MADE"
    shipped = cli("orders", "ship", order, "--carrier", "顺丰速运", "--waybill", "SF1234567890")
    assert shipped.exit_code == 0, shipped.output
    assert shipped.stdout.strip() == f"order {order} SHIPPED"
    # and the same steps again answer the same
    again = cli(
        "orders", "ship", order, "--carrier", "顺丰速运", "--waybill", "SF1234567890", "--json"
    )
    assert json_output(again) == {"status": "SHIPPED"}
    # Then `orders show` tells the lifecycle, the waybill and the notifications owed
    shown = cli("orders", "show", order, env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    for text in ("SHIPPED", "made_at", "shipped_at", local_identity()["userArn"], "顺丰速运",
                 "SF1234567890", "platform notifications", "make_finish",
                 "status_sended"):  # fmt: skip
        assert text in shown.stdout, text
    # (the notifier on the stack's stream may have sent them already: PENDING or SENT, never
    # FAILED)
    assert "PENDING" in shown.stdout or "SENT" in shown.stdout
    assert "FAILED" not in shown.stdout


def test_a_step_refused_by_the_order_status_says_where_the_order_is(cli, lifecycle_orders):
    order = lifecycle_orders[1]  # GENERATED: not shippable yet
    result = cli("orders", "ship", order, "--carrier", "顺丰速运", "--waybill", "SF1")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the API refused the request (409)")
    assert "(the order is GENERATED)" in result.stderr
    assert "Traceback" not in result.output
    # and an invalid waybill names the field
    bad = cli("orders", "ship", order, "--carrier", "顺丰速运", "--waybill", "SF 1")
    assert bad.exit_code == 1
    assert "(422)" in bad.stderr
    assert "logistics_order_id" in bad.stderr


def test_orders_list_pages_newest_first(cli, lifecycle_orders):
    # Page by page, two at a time, following each page's way on (the environment may hold
    # other tests' orders too: ours must come newest first, each once)
    listed: list[str] = []
    pages = 0
    arguments = ["orders", "list", "--own-sign", "pre", "--limit", "2", "--json"]
    token = None
    while True:
        result = cli(*arguments, *(["--next", token] if token else []))
        assert result.exit_code == 0, result.output
        page = json_output(result)
        assert 1 <= len(page["orders"]) <= 2
        listed += [order["making_card_no"] for order in page["orders"]]
        pages += 1
        token = page.get("next")
        if token is None:
            break
    assert pages >= 2
    assert len(listed) == len(set(listed))
    assert [order for order in listed if order in lifecycle_orders] == lifecycle_orders[::-1]
    # Every page at once, as a table
    table = cli("orders", "list", "--own-sign", "pre", "--limit", "1", "--all",
                env={"COLUMNS": "200"})  # fmt: skip
    assert table.exit_code == 0, table.output
    positions = [table.stdout.index(order) for order in lifecycle_orders[::-1]]
    assert positions == sorted(positions)
    assert "more orders" not in table.stderr
    # A single page says how to go on
    paged = cli("orders", "list", "--own-sign", "pre", "--limit", "1")
    assert "more orders: add --next " in paged.stderr


def test_orders_list_filters_by_status(cli, lifecycle_orders):
    made = cli("orders", "made", lifecycle_orders[2])
    assert made.exit_code == 0, made.output
    result = cli("orders", "list", "--own-sign", "pre", "--status", "MADE", "--all", "--json")
    assert result.exit_code == 0, result.output
    assert [o["making_card_no"] for o in json_output(result)["orders"]] == [lifecycle_orders[2]]


def test_a_damaged_next_token_is_a_message(cli, lifecycle_orders):
    result = cli("orders", "list", "--own-sign", "pre", "--next", "not-a-token")
    assert result.exit_code == 1
    assert "(422)" in result.stderr
    assert "next" in result.stderr


# --- the print-claim trap: why a delivery waits, cancelling it, an order's deliveries --------

TRAP_ORDER = "CM-daily-26340"


def _trap_order(cli, local_stack) -> None:
    sent = cli("platform", "send-order", "--card-order-id", "26340", "--template",
               "3010030E05:3:5000")  # fmt: skip
    assert sent.exit_code == 0, sent.output
    local_stack.wait_idle(60)


def _bind(cli, out_biz_id: str, quantity: int, *extra: str):
    return cli(
        "deliveries", "create", "bind", "--order", TRAP_ORDER, "--template", "3010030E05",
        "--quantity", str(quantity), "--out-biz-id", out_biz_id, "--buyer-nick", "tracey_05",
        *extra,
    )  # fmt: skip


def test_a_delivery_waiting_after_a_print_run_says_why_and_is_cancelled(cli, local_stack, tmp_path):
    # Given an order of 3 cards, 1 bound to a buyer, the other 2 claimed by a print run
    _trap_order(cli, local_stack)
    first = _bind(cli, "TRAP-1", 1, "--wait")
    assert first.exit_code == 0, first.output
    exported = cli("cards", "export", TRAP_ORDER, "--template", "3010030E05",
                   "--out", str(tmp_path / "cards.csv"))  # fmt: skip
    assert exported.exit_code == 0, exported.output

    # When a delivery of 2 more is asked for and followed
    waited = _bind(cli, "TRAP-2", 2, "--wait", "--timeout", "1")

    # Then --wait says why it waits and how to stop it
    reason = "waiting for stock: template 3010030E05 has 0 cards left, 2 asked"
    assert waited.exit_code == 1
    said = " ".join(waited.stderr.split())
    assert f"is still WAITING_STOCK after 1 s: {reason}" in said
    assert "cardmaker deliveries cancel" in said
    delivery_id = said.split("delivery ", 1)[1].split(" ", 1)[0]
    # And show says it too, as a sentence (and as data in --json)
    shown = cli("deliveries", "show", delivery_id)
    assert reason in " ".join(shown.stdout.replace("│", " ").split())  # cells wrap
    data = json_output(cli("deliveries", "show", delivery_id, "--json"))["waiting"]
    assert (data["reason"], data["remaining"], data["quantity"]) == ("not_enough_cards", 0, 2)

    # When the operator cancels it
    cancelled = cli("deliveries", "cancel", delivery_id)
    again = cli("deliveries", "cancel", delivery_id)

    # Then it is CANCELLED, by the local user, and a second cancel changes nothing
    assert cancelled.exit_code == 0, cancelled.output
    assert f"delivery {delivery_id} CANCELLED: it never sends" in cancelled.stdout
    assert again.exit_code == 0, again.output
    assert "was already CANCELLED" in again.stdout
    view = json_output(cli("deliveries", "show", delivery_id, "--json"))
    assert view["status"] == "CANCELLED"
    assert view["cancelled_by"]["user_arn"] == local_identity()["userArn"]

    # And the order's deliveries list it, newest first, with their status
    listed = cli("deliveries", "list", "--order", TRAP_ORDER, "--json")
    assert listed.exit_code == 0, listed.output
    assert [(d["status"], d["quantity"]) for d in json_output(listed)["deliveries"]] == [
        ("CANCELLED", 2),
        ("DELIVERED", 1),
    ]
    table = cli("deliveries", "list", "--order", TRAP_ORDER, "--limit", "1")
    assert table.exit_code == 0, table.output
    assert "CANCELLED" in table.stdout
    assert "DELIVERED" not in table.stdout
    assert "more deliveries: add --next " in table.stderr


def test_cancelling_a_delivered_delivery_is_refused_and_says_where_it_is(cli, local_stack):
    delivered = cli(
        "deliveries", "create", "bind", "--order", f"CM-{OWN_SIGN}-{ORDER_ID}", "--template",
        "3010030E02", "--quantity", "1", "--out-biz-id", "CLI-CANCEL-DONE", "--buyer-nick",
        "tracey_05", "--wait", "--json",
    )  # fmt: skip
    assert delivered.exit_code == 0, delivered.output
    delivery_id = json_output(delivered)["delivery_id"]

    refused = cli("deliveries", "cancel", delivery_id)

    assert refused.exit_code == 1
    said = " ".join(refused.stderr.split())
    assert "the API refused the request (409)" in said
    assert "only a delivery WAITING_STOCK can be cancelled (the delivery is DELIVERED)" in said
    shown = json_output(cli("deliveries", "show", delivery_id, "--json"))
    assert shown["status"] == "DELIVERED"
    assert "cancelled_by" not in shown
