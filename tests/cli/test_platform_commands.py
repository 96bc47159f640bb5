"""`cardmaker platform`: orders signed as the platform signs them, sent to the local stack
over HTTP, and the signature debugging output."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import urlsplit

from cardmaker import CARDORDER_MAKE, CARDORDER_MAKE_PARAMETERS
from cardmaker.top import SpiPolicy, SpiRequest, verify_spi_call
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET
from tests.cli.conftest import json_output


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
