"""`cardmaker platform`: orders signed as the platform signs them, sent to the local stack
over HTTP, and the signature debugging output."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import urlsplit

from cardmaker import (
    CARDORDER_MAKE,
    CARDORDER_MAKE_PARAMETERS,
    DynamoDBLifecycleRepository,
    OrderKey,
)
from cardmaker.top import SpiPolicy, SpiRequest, utc_now, verify_spi_call
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET
from tests.cli.conftest import json_output
from tests.conftest import send_accepted_order


def test_send_order_is_received_and_answered_like_the_platform_expects(cli):
    # Given the local stack (demo app key), when an order is sent from flags
    result = cli(
        "platform", "send-order", "--card-order-id", "26101", "--own-sign", "pre",
        "--template", "3010030E02:3", "--template", "3010030E05:2:5000", "--json",
    )  # fmt: skip

    # Then the stack accepted it, and its answer is the SPI response
    assert result.exit_code == 0, result.output
    answer = json_output(result)
    assert answer["status"] == 200
    assert answer["response"]["success"] is True
    assert answer["response"]["making_card_no"] == "CM-pre-26101"
    # and it really is stored with the templates of the flags
    shown = json_output(cli("orders", "show", "CM-pre-26101", "--json"))
    assert [(t["template_no"], t["requested"], t["par_value"]) for t in shown["templates"]] == [
        ("3010030E02", 3, "100"),
        ("3010030E05", 2, "5000"),
    ]


def test_send_order_from_a_file_as_a_form_body_with_an_xml_answer(cli, tmp_path):
    order = {
        "card_order_id": 1,  # overridden by the flag below
        "own_sign": "daily",
        "card_product_infos": [
            {"template_no": "T-FILE", "count": 2, "par_value": "50", "card_name": "猫超卡50"}
        ],
    }
    file = tmp_path / "order.json"
    file.write_text(json.dumps(order, ensure_ascii=False), encoding="utf-8")

    result = cli(
        "platform", "send-order", "--file", str(file), "--card-order-id", "26102",
        "--body", "form", "--format", "xml",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "<success>true</success>" in result.stdout
    assert "<making_card_no>CM-daily-26102</making_card_no>" in result.stdout
    shown = json_output(cli("orders", "show", "26102", "--own-sign", "daily", "--json"))
    assert shown["templates"][0]["card_name"] == "猫超卡50"


def test_a_wrong_secret_is_refused_with_the_platform_code_and_a_failing_exit(cli):
    result = cli(
        "platform", "send-order", "--card-order-id", "26103", "--app-secret", "not-the-secret"
    )

    assert result.exit_code == 1
    assert "INVALID_SIGNATURE" in result.stdout  # the answer as it came
    assert "error: the order was refused: INVALID_SIGNATURE" in result.stderr
    assert "not-the-secret" not in result.output
    assert "Traceback" not in result.output


def test_the_secret_from_the_environment_is_used_and_never_printed(cli):
    result = cli(
        "platform", "send-order", "--card-order-id", "26104",
        env={"TOP_APP_KEY": "12345678", "TOP_APP_SECRET": DEMO_SECRET},
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert '"success":true' in result.stdout
    assert DEMO_SECRET not in result.output


def test_sign_shows_the_hashed_string_without_the_secret_and_the_sign_verifies(cli):
    result = cli("platform", "sign", "--card-order-id", "26105", "--template", "T1:4:20")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert DEMO_SECRET not in result.stdout
    # The signed request, as printed: the URL, the headers, the body
    url = lines[0].removeprefix("POST ").strip()
    headers = dict(line.split(": ", 1) for line in lines[1 : lines.index("")])
    body = lines[lines.index("") + 1]
    hashed = lines[lines.index("string hashed (MD5, upper-case hex):") + 1]
    # The hashed string is the canonical parameters and the body between two placeholders
    assert hashed.startswith("<app_secret>app_key12345678format")
    assert hashed.endswith(body + "<app_secret>")
    assert "method" + "alibaba.fundplatform.cardorder.make" in hashed
    # and the layer verifies the printed request with the real secret
    call = verify_spi_call(
        SpiRequest(raw_query=urlsplit(url).query, body=body.encode(), headers=headers),
        DEMO_SECRET,
        policy=SpiPolicy(app_key=DEMO_APP_KEY),
        methods={CARDORDER_MAKE: CARDORDER_MAKE_PARAMETERS},
    )
    assert json.loads(call.body_text or "")["card_order_id"] == 26105
    # and the printed string is exactly what was hashed: with the secret put back, its MD5
    # is the request's sign
    sign = re.search(r"[?&]sign=([0-9A-F]{32})(&|$)", url).group(1)
    restored = hashed.replace("<app_secret>", DEMO_SECRET)
    assert hashlib.md5(restored.encode("utf-8")).hexdigest().upper() == sign


def test_sign_json_gives_the_same_request_for_scripts(cli):
    result = cli("platform", "sign", "--card-order-id", "26106", "--body", "form", "--json")

    assert result.exit_code == 0, result.output
    signed = json_output(result)
    assert signed["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    assert "card_order_id=26106" in signed["body"]
    # a form body is signed as fields, not as raw text
    assert "card_order_id26106" in signed["string_hashed"]
    assert DEMO_SECRET not in result.stdout


def test_a_template_that_is_not_no_count_is_a_usage_error(cli):
    result = cli("platform", "sign", "--card-order-id", "1", "--template", "3010030E02")

    assert result.exit_code == 2
    assert "NO:COUNT[:FACE_VALUE]" in result.output
    assert "Traceback" not in result.output


def test_an_order_needs_an_id_or_a_file(cli):
    result = cli("platform", "send-order")

    assert result.exit_code == 2
    assert "--card-order-id" in result.output


# --- the platform's lifecycle calls ----------------------------------------------------------


def test_template_new_announces_a_template_the_order_view_then_shows_as_registered(cli):
    # Given the stack's order of 3010030E02 and 3010030E05, none announced
    shown = json_output(cli("orders", "show", "CM-daily-17001", "--json"))
    assert [t["registered"] for t in shown["templates"]] == [False, False]
    # When the platform announces 3010030E05 as a test template, as a form body
    result = cli(
        "platform", "template-new", "--template-no", "3010030E05", "--card-name", "猫超卡5000",
        "--par-value", "5000", "--test", "--body", "form", "--json",
    )  # fmt: skip
    # Then it is registered, and the order view says so
    assert result.exit_code == 0, result.output
    assert json_output(result)["response"]["result_code"] == "SUCCESS"
    shown = json_output(cli("orders", "show", "CM-daily-17001", "--json"))
    assert [(t["registered"], t.get("is_test")) for t in shown["templates"]] == [
        (False, None),
        (True, True),
    ]
    # and announcing it again is a replay, answered the same
    again = cli(
        "platform", "template-new", "--template-no", "3010030E05", "--card-name", "猫超卡5000",
        "--par-value", "5000", "--test", "--json",
    )  # fmt: skip
    assert json_output(again) == json_output(result)


def test_status_query_prints_the_status_in_the_format_asked_for(cli):
    result = cli("platform", "status-query", "CM-daily-17001", "--json")
    assert result.exit_code == 0, result.output
    assert json_output(result)["response"]["status"] == "REQUEST_RECEIVED"  # GENERATED
    # the struct as a form field, the answer in XML
    result = cli("platform", "status-query", "17001", "--own-sign", "daily", "--body", "form",
                 "--format", "xml")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "<status>REQUEST_RECEIVED</status>" in result.stdout
    # an order never received is no failure: its status says so
    result = cli("platform", "status-query", "CM-daily-17999", "--json")
    assert result.exit_code == 0, result.output
    assert json_output(result)["response"]["status"] == "REQUEST_NOT_EXIST"


def test_receipt_is_refused_before_the_cards_are_made_then_confirms(cli, local_stack):
    # Given an order whose cards are generated but not made
    send_accepted_order(local_stack, 17050, [("3010030E02", 2, "100")], "daily")
    local_stack.wait_idle(60)
    # When the platform says the buyer confirmed receipt, it is refused, with a failing exit
    result = cli("platform", "receipt", "CM-daily-17050")
    assert result.exit_code == 1
    assert "error: the receipt call was refused: INVALID_ORDER_STATUS" in result.stderr
    assert "Traceback" not in result.output
    # and of an order never received: ORDER_NOT_FOUND
    result = cli("platform", "receipt", "CM-daily-17998")
    assert (result.exit_code, "ORDER_NOT_FOUND" in result.stdout) == (1, True)
    # Once the cards are made, the receipt confirms the order, as a form body too
    key = OrderKey("daily", 17050)
    DynamoDBLifecycleRepository(
        local_stack.stack.physical["OrdersTable"], local_stack.client("dynamodb")
    ).mark_made(key, "operator", utc_now())
    result = cli("platform", "receipt", "CM-daily-17050", "--body", "form", "--json")
    assert result.exit_code == 0, result.output
    assert json_output(result)["response"]["result_code"] == "SUCCESS"
    assert json_output(cli("orders", "show", "CM-daily-17050", "--json"))["status"] == "CONFIRMED"
    status = json_output(cli("platform", "status-query", "CM-daily-17050", "--json"))
    assert status["response"]["status"] == "DELIVERED"


def test_the_lifecycle_calls_need_the_secret_for_a_stack_that_is_not_the_demo(cli):
    result = cli("platform", "receipt", "CM-daily-17001", "--app-secret", "not-the-secret")
    assert result.exit_code == 1
    assert "INVALID_SIGNATURE" in result.stderr
    assert "not-the-secret" not in result.output


def test_template_new_validates_nothing_itself_the_stack_refuses_a_bad_template(cli):
    result = cli("platform", "template-new", "--template-no", "T 1", "--card-name", "x")
    assert result.exit_code == 1
    assert "INVALID_PARAMETER" in result.stderr
    assert "template_no" in result.stderr
