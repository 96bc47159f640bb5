"""`cardmaker events` on the local stack: the lifecycle events the LifecycleBus's archive rule
wrote to its log group (moto's EventBridge delivers them as EventBridge does), read with
FilterLogEvents as on AWS."""

from __future__ import annotations

import json

import requests

from cardmaker_cli.samples import sample_order
from local.platform import sign_demo_call
from local.stack import LocalStack
from tests.cli.conftest import ORDER_ID, OWN_SIGN, Cli
from tests.conftest import stream_records

ORDER = f"CM-{OWN_SIGN}-{ORDER_ID}"
OWN_ORDER = 17401


def shown(cli: Cli, *args: str) -> list[dict]:
    result = cli("events", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_order_s_received_and_generated_events_are_shown(cli: Cli, local_stack: LocalStack):
    # Given the package's order, received and generated when the stack started
    # When the operator asks for its events
    events = shown(cli, "--order", ORDER)

    # Then its received and generated are there, in the documented envelope
    orders = [event for event in events if event["detail-type"].startswith("Order ")]
    assert [event["detail-type"] for event in orders][:2] == ["Order Received", "Order Generated"]
    received = orders[0]["detail"]
    assert received["making_card_no"] == ORDER
    assert received["event_id"] == f"{ORDER}:RECEIVED:{received['time']}"
    assert {event["source"] for event in events} == {"cardmaker"}

    # And the table says the same for people
    table = cli("events", "--order", ORDER, env={"COLUMNS": "300"})
    assert table.exit_code == 0, table.output
    assert "Order Generated" in table.stdout
    assert ORDER in table.stdout


def test_limit_environment_and_duplicates(cli: Cli, local_stack: LocalStack):
    # Given an order of another environment, and its RECEIVED record handed to the function
    # a second time (a stream delivers at least once)
    send_order_in(local_stack, OWN_ORDER, "pre")
    local_stack.wait_idle(60)
    records = stream_records(
        local_stack.client("dynamodb"), local_stack.stack.physical["OrdersTable"]
    )
    (received,) = [
        r
        for r in records
        if r["dynamodb"]["NewImage"].get("card_order_id", {}).get("N") == str(OWN_ORDER)
        and r["eventName"] == "INSERT"
        and r["dynamodb"]["NewImage"]["sk"]["S"] == "ORDER"
    ]
    local_stack.functions["LifecycleEventsFunction"].invoke({"Records": [received]})

    # When the operator asks for that environment's events, and for the last one only
    pre = shown(cli, "--own-sign", "pre")
    last = shown(cli, "--order", f"CM-pre-{OWN_ORDER}", "--limit", "1")

    # Then each event is shown once, although it was published twice
    assert [event["detail-type"] for event in pre] == ["Order Received", "Order Generated"]
    assert {event["detail"]["own_sign"] for event in pre} == {"pre"}
    assert [event["detail-type"] for event in last] == ["Order Generated"]


def send_order_in(stack: LocalStack, order_id: int, own_sign: str) -> None:
    call = sign_demo_call(sample_order(order_id, own_sign, [("T1", 2, "100")]))
    answer = requests.post(call.url(stack.url), data=call.body, headers=call.headers, timeout=10)
    assert answer.json()["response"]["success"] is True, answer.text


def test_nothing_to_show_is_said_on_stderr(cli: Cli, local_stack: LocalStack):
    result = cli("events", "--order", "CM-online-99999")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "no events" in result.stderr
