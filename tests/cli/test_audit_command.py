"""`cardmaker audit` and what the commands that work straight against AWS put on record: a
print run (cards export) and a redrive with its reopen, each reported through POST /audit and
recorded under the identity that signed the report (on the local stack: the local user).
Against the package's local stack, over real HTTP."""

from __future__ import annotations

import json
import socket

import pytest

from cardmaker import OrderStatus
from local.apigw import local_identity
from tests.cli.conftest import json_output
from tests.cli.test_dlq import (  # noqa: F401 (failing_cards: a fixture)
    delete_messages,
    failing_cards,
    messages,
    send_order,
    stored_order,
)

ORDER_ID = 26600  # the audit tests' own orders: a print run claims every card left
LOCAL_USER = local_identity()["userArn"]


def entries(cli, *args: str) -> list[dict]:
    result = cli("audit", *args, "--json")
    assert result.exit_code == 0, result.output
    return list(json_output(result)["entries"])


def test_a_print_run_is_on_record_before_its_cards_are_written(cli, local_stack, tmp_path):
    # Given a generated order
    send_order(local_stack, ORDER_ID, [("T1", 4, "100")])
    local_stack.wait_idle(60)
    order = f"CM-daily-{ORDER_ID}"
    # When the operator exports its template for print
    out = tmp_path / "cards.csv"
    result = cli("cards", "export", order, "--template", "T1", "--out", str(out))
    assert result.exit_code == 0, result.output
    # Then the print run is on record for that order, as the local user's, seen by the CLI
    (entry,) = entries(cli, "--order", order)
    assert entry["action"] == "cards.exported"
    assert entry["who"]["user_arn"] == LOCAL_USER
    assert entry["source"] == "cli"
    assert entry["subject"] == f"{order}/T1"
    assert entry["details"] == {
        "template_no": "T1",
        "claimed": 4,
        "first_position": 0,
        "format": "csv",
        "file": "cards.csv",
    }
    # and no card secret of the file is anywhere in the trail
    secrets = [line.rsplit(",", 1)[1] for line in out.read_text().splitlines()[1:]]
    assert len(secrets) == 4
    trail = json.dumps(entries(cli, "--all"))
    assert not [secret for secret in secrets if secret in trail]
    # and the order filter takes the id with --own-sign as well
    assert entries(cli, "--order", str(ORDER_ID), "--own-sign", "daily") == [entry]
    # and people get a table
    table = cli("audit", "--order", order, env={"COLUMNS": "300"})
    assert table.exit_code == 0, table.output
    assert "cards.exported" in table.stdout
    assert LOCAL_USER in table.stdout


def _dead_url() -> str:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{free.getsockname()[1]}"


def test_an_export_that_cannot_be_put_on_record_writes_no_card(cli, local_stack, tmp_path):
    # Given a generated order, and an API that does not answer
    send_order(local_stack, ORDER_ID + 1, [("T1", 2, "100")])
    local_stack.wait_idle(60)
    order = f"CM-daily-{ORDER_ID + 1}"
    out = tmp_path / "cards.csv"
    # When the operator exports for print
    result = cli(
        "--api-url", _dead_url(), "cards", "export", order, "--template", "T1", "--out", str(out)
    )
    # Then the command fails saying so, and no file is left behind
    assert result.exit_code == 1
    assert "cards.exported was done but could not be put on record" in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    # and once the API answers, the export is recorded and written
    again = cli("cards", "export", order, "--template", "T1", "--out", str(out))
    assert again.exit_code == 0, again.output
    assert [e["action"] for e in entries(cli, "--order", order)] == ["cards.exported"]


def test_a_redrive_and_its_reopen_are_on_record(cli, local_stack, failing_cards):  # noqa: F811
    # Given an order whose generation failed for good (its batch in the generator's queue)
    order_id = ORDER_ID + 2
    before = set(messages(local_stack))
    failing_cards.add(order_id)
    send_order(local_stack, order_id)
    local_stack.wait_idle(60)
    (message_id,) = set(messages(local_stack)) - before
    order = f"CM-daily-{order_id}"
    redrive = ("dlq", "redrive", "--queue", "generator", "--message-id", message_id, "--json")
    try:
        # A dry run changes nothing: nothing on record
        assert cli(*redrive, "--dry-run", "--reopen").exit_code == 0
        assert entries(cli, "--order", order) == []
        # When the fault is gone and the operator redrives with --reopen
        failing_cards.discard(order_id)
        done = cli(*redrive, "--reopen")
        assert done.exit_code == 0, done.output
        assert stored_order(local_stack, order_id).order.status is OrderStatus.GENERATED
    finally:
        delete_messages(local_stack, {message_id})
    # Then the reopen and the replay are on record, newest first, as the local user's
    recorded = entries(cli, "--order", order)
    assert [(e["action"], e["subject"]) for e in recorded] == [
        ("dlq.redriven", message_id),
        ("dlq.reopened", message_id),
    ]
    assert {e["who"]["user_arn"] for e in recorded} == {LOCAL_USER}
    assert recorded[0]["details"] == {"queue": "generator", "records": 1}
    assert recorded[1]["details"]["reopened"] == f"order daily/{order_id} FAILED → GENERATING"
    # and they head the whole trail too (the newest actions)
    assert entries(cli, "--limit", "2") == recorded


def test_the_trail_is_read_a_page_at_a_time(cli):
    first = cli("audit", "--limit", "1", "--json")
    assert first.exit_code == 0, first.output
    page = json_output(first)
    assert len(page["entries"]) == 1
    assert page["next"]
    following = cli("audit", "--limit", "1", "--next", page["next"], "--json")
    assert following.exit_code == 0, following.output
    assert json_output(following)["entries"] != page["entries"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--own-sign", "daily"), "--own-sign goes with --order"),
        (("--order", "nonsense"), "is not an order id"),
        (("--next", "damaged"), "next"),
    ],
)
def test_bad_usage_is_a_message_not_a_traceback(cli, args, message):
    result = cli("audit", *args)
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output
