"""`cardmaker platform notice ...` and `cardmaker eticket notices`: notices signed as the
e-voucher platform signs them (GBK, the notice secret), posted to the local stack over HTTP,
and read back by the operator."""

from __future__ import annotations

from cardmaker_cli.notice import order_token
from tests.cli.conftest import json_output


def _methods(cli, order_id: str) -> list[str]:
    view = json_output(cli("eticket", "notices", order_id, "--json"))
    assert view["order_id"] == order_id
    return [notice["method"] for notice in view["notices"]]


def test_a_send_notice_is_signed_as_the_platform_does_and_recorded(cli):
    # Given the local stack (its TOP secret holds the demo notice secret)
    # When the platform's send is played
    result = cli("platform", "notice", "send", "--order-id", "880001", "--num", "2", "--json")
    # Then it is answered {"code": 200} and the operator sees it
    assert result.exit_code == 0, result.output
    assert json_output(result) == {"status": 200, "answer": {"code": 200}}
    assert _methods(cli, "880001") == ["send"]


def test_a_repeated_send_is_answered_and_changes_nothing(cli):
    for _ in range(2):
        result = cli("platform", "notice", "send", "--order-id", "880002")
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == '200 {"code": 200}'
    assert _methods(cli, "880002") == ["send"]


def test_every_method_can_be_played(cli):
    order = ["--order-id", "880003"]
    commands = [
        ["send", *order, "--charset", "utf-8"],
        ["resend", *order, "--left-num", "1"],
        ["modified", *order, "--valid-ends", "2028-01-01 00:00:00"],
        ["order_modify", *order, "--valid-ends", "2028-06-30 23:59:59"],
        ["cancel", *order, "--cancel-num", "1"],
    ]
    for command in commands:
        result = cli("platform", "notice", *command)
        assert result.exit_code == 0, (command, result.output)
    assert _methods(cli, "880003") == ["send", "resend", "modified", "order_modify", "cancel"]


def test_a_notice_signed_with_another_secret_is_refused_and_not_recorded(cli):
    result = cli(
        "platform", "notice", "send", "--order-id", "880004", "--json",
        env={"ETICKET_NOTICE_SECRET": "f" * 32},
    )  # fmt: skip
    assert result.exit_code == 1
    assert json_output(result) == {"status": 200, "answer": {"code": 501}}
    assert "not recorded" in result.stderr
    assert cli("eticket", "notices", "880004").exit_code == 1  # 404: nothing was recorded


def test_the_token_never_shows(cli):
    cli("platform", "notice", "send", "--order-id", "880005")
    shown = cli("eticket", "notices", "880005")
    assert shown.exit_code == 0, shown.output
    assert "send" in shown.stdout
    assert order_token("880005") not in shown.stdout
    assert order_token("880005") == order_token("880005") != order_token("880006")
