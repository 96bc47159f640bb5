"""One default environment for every command: an order `platform send-order` just sent is
the one `orders show` finds, CARDMAKER_OWN_SIGN moves every command at once, and a 404 says
where the order is when it is in another environment."""

from __future__ import annotations

from tests.cli.conftest import ORDER_ID, json_output


def test_orders_show_finds_the_order_send_order_just_sent(cli):
    # Given an order sent the way the README's first hour does: no environment named
    sent = cli("platform", "send-order", "--card-order-id", "26501", "--template", "3010030E02:3")
    assert sent.exit_code == 0, sent.output

    # When it is shown without naming one either, Then it is found (same default environment)
    shown = cli("orders", "show", "26501", "--json")
    assert shown.exit_code == 0, shown.output
    assert json_output(shown)["making_card_no"] == "CM-daily-26501"


def test_cardmaker_own_sign_is_the_default_of_every_command(cli):
    # (online, not pre: other tests of the package's stack count the pre environment's events)
    env = {"CARDMAKER_OWN_SIGN": "online"}
    sent = cli(
        "platform", "send-order", "--card-order-id", "26502", "--template", "3010030E02:2", env=env
    )
    assert sent.exit_code == 0, sent.output

    shown = cli("orders", "show", "26502", "--json", env=env)
    assert shown.exit_code == 0, shown.output
    assert json_output(shown)["making_card_no"] == "CM-online-26502"
    listed = cli("orders", "list", "--json", env=env)
    assert "CM-online-26502" in [o["making_card_no"] for o in json_output(listed)["orders"]]
    # The root option says the same for one command line
    shown = cli("--own-sign", "online", "orders", "show", "26502", "--json")
    assert json_output(shown)["making_card_no"] == "CM-online-26502"


def test_a_404_names_the_environment_the_order_is_in(cli):
    # The package's order is in daily: looked for in online, it is not found, with the way out
    result = cli("orders", "show", str(ORDER_ID), "--own-sign", "online")

    assert result.exit_code == 1
    assert (
        f"order {ORDER_ID} is not in online; it exists in daily: add --own-sign daily"
        in " ".join(result.output.split())
    )
    assert "Traceback" not in result.output


def test_a_404_for_an_order_nowhere_is_the_api_answer(cli):
    result = cli("orders", "made", "26599")

    assert result.exit_code == 1
    assert "(404)" in result.output
    assert "exists in" not in result.output
