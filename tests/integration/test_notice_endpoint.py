"""POST /eticket/notices and GET /eticket/notices/{order_id} through the real handlers: API
Gateway events in, ``{"code": ...}`` out, the e-voucher table in moto behind."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError

from cardmaker import DynamoDBNoticeRepository, EticketNotice, NoticeOutcome, notice_body, runtime
from cardmaker.top import format_timestamp, utc_now
from cardmaker_cli.samples import DEMO_NOTICE_SECRET, sample_notice
from local.apigw import http_api_event
from tests.conftest import OPERATOR

NOTICES = "/eticket/notices"


def notice_event(
    parameters: Mapping[str, str],
    *,
    secret: str = DEMO_NOTICE_SECRET,
    charset: str = "gbk",
    timestamp: str | None = None,
    body: bytes | None = None,
    content_type: str | None = None,
) -> dict[str, Any]:
    """A notice as the platform posts it: timestamped now (unless given), signed, a form."""
    stamped = {"timestamp": timestamp or format_timestamp(utc_now()), **parameters}
    signed_body, signed_type = notice_body(stamped, secret, charset)
    return http_api_event(
        "POST",
        NOTICES,
        headers=[("content-type", signed_type if content_type is None else content_type)],
        body=signed_body if body is None else body,
        route_key=f"POST {NOTICES}",
    )


def notices_get_event(order_id: str) -> dict[str, Any]:
    return http_api_event(
        "GET",
        f"{NOTICES}/{order_id}",
        route_key="GET /eticket/notices/{order_id}",
        path_parameters={"order_id": order_id},
        iam=OPERATOR,
    )


@pytest.fixture
def eticket_items(dynamodb: Any, stack: Any) -> Callable[[], list[dict[str, Any]]]:
    """Every item of the e-voucher table (for 'nothing was written' assertions)."""

    def scan() -> list[dict[str, Any]]:
        table = stack.physical["EticketTable"]
        return dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]

    return scan


def answered(answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assert answer["headers"]["Content-Type"] == "application/json"
    return answer["statusCode"], json.loads(answer["body"])


def test_a_gbk_send_is_recorded_once_without_sign_or_mobile(invoke, eticket_items):
    # Given a send with Chinese values, signed over GBK as the platform signs
    # When it is posted
    status, body = answered(invoke(notice_event(sample_notice())))
    # Then it is answered 200 and recorded once, as received, less its sign and the buyer
    assert (status, body) == (200, {"code": 200})
    (item,) = eticket_items()
    assert (item["pk"]["S"], item["sk"]["S"]) == ("NOTICE#1753340805138544", "SEND")
    assert item["entity"]["S"] == "NOTICE"
    assert item["outcome"]["S"] == "RECORDED"
    kept = item["parameters"]["M"]
    assert kept["item_title"]["S"] == "天猫超市购物卡 100元 电子卡"
    assert kept["token"]["S"] == "31231231231"
    assert not {"sign", "mobile", "encrypt_mobile", "md5_mobile"} & set(kept)


def test_a_utf8_notice_is_recorded(invoke, eticket_items):
    status, body = answered(invoke(notice_event(sample_notice(), charset="utf-8")))
    assert (status, body) == (200, {"code": 200})
    assert len(eticket_items()) == 1


def test_a_form_without_content_type_is_read_as_gbk(invoke, eticket_items):
    event = notice_event(sample_notice())
    del event["headers"]["content-type"]
    assert answered(invoke(event)) == (200, {"code": 200})
    assert eticket_items()[0]["parameters"]["M"]["seller_nick"]["S"] == "卡券专营店"


def test_a_repeated_send_changes_nothing(invoke, eticket_items):
    invoke(notice_event(sample_notice()))
    before = eticket_items()
    # the platform's duplicate: a new timestamp, even another token and quantity
    later = format_timestamp(utc_now() + timedelta(seconds=5))
    again = notice_event(sample_notice(token="other", num=3), timestamp=later)
    assert answered(invoke(again)) == (200, {"code": 200})
    assert eticket_items() == before


def test_a_replayed_resend_is_kept_once_and_a_second_resend_is_kept(invoke, eticket_items):
    first = notice_event(sample_notice("resend", left_num="1"))
    assert answered(invoke(first)) == (200, {"code": 200})
    assert answered(invoke(first)) == (200, {"code": 200})  # the very same notice again
    assert len(eticket_items()) == 1
    later = format_timestamp(utc_now() + timedelta(seconds=3))
    invoke(notice_event(sample_notice("resend", left_num="1"), timestamp=later))
    records = sorted(item["sk"]["S"] for item in eticket_items())
    assert len(records) == 2
    assert all(record.startswith("RESEND#") for record in records)


@pytest.mark.parametrize("method", ["cancel", "modified", "order_modify", "heartBeatCheck"])
def test_every_method_is_recorded_and_answered(invoke, eticket_items, method):
    extra = {"cancel_num": "1"} if method == "cancel" else {}
    assert answered(invoke(notice_event(sample_notice(method, **extra)))) == (200, {"code": 200})
    (item,) = eticket_items()
    kind = method.upper() if method != "heartBeatCheck" else "OTHER"
    assert item["sk"]["S"].startswith(f"{kind}#")
    assert item["method"]["S"] == method


def _utf8_sign(parameters: Mapping[str, str], secret: str) -> str:
    # What N1 tried (the TOP SDK's way): UTF-8 bytes. Not the platform's sign.
    text = secret + "".join(k + v for k, v in sorted(parameters.items()) if v)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def _form(parameters: Mapping[str, str], charset: str = "gbk") -> bytes:
    return "&".join(
        f"{quote_plus(k, encoding=charset)}={quote_plus(v, encoding=charset)}"
        for k, v in parameters.items()
    ).encode()


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda event: notice_event(sample_notice(), secret="f" * 32), id="other-key"),
        pytest.param(
            lambda event: {**event, "body": event["body"].replace("num=1", "num=9")},
            id="tampered",
        ),
        pytest.param(
            lambda event: {**event, "body": event["body"].split("&sign=")[0]}, id="unsigned"
        ),
    ],
)
def test_a_forged_notice_gets_501_and_nothing_is_written(invoke, eticket_items, forge):
    event = forge(notice_event(sample_notice()))
    assert answered(invoke(event)) == (200, {"code": 501})
    assert eticket_items() == []


def test_a_notice_signed_over_utf8_bytes_is_refused(invoke, eticket_items):
    parameters = {"timestamp": format_timestamp(utc_now()), **sample_notice()}
    parameters["sign"] = _utf8_sign(parameters, DEMO_NOTICE_SECRET)
    event = http_api_event(
        "POST",
        NOTICES,
        headers=[("content-type", "application/x-www-form-urlencoded; charset=UTF-8")],
        body=_form(parameters, "utf-8"),
        route_key=f"POST {NOTICES}",
    )
    assert answered(invoke(event)) == (200, {"code": 501})
    assert eticket_items() == []


# A minute beyond the 600 s window either way: the timestamp is cut to whole seconds and the
# handler reads the clock later, so a one-second margin is a race (CI lost it once). The exact
# boundary is tested with a fixed clock in tests/unit/test_notice_wire.py.
@pytest.mark.parametrize("offset", [-660, 660], ids=["stale", "future"])
def test_a_notice_outside_the_window_gets_501(invoke, eticket_items, offset):
    timestamp = format_timestamp(utc_now() + timedelta(seconds=offset))
    assert answered(invoke(notice_event(sample_notice(), timestamp=timestamp))) == (
        200,
        {"code": 501},
    )
    assert eticket_items() == []


def test_a_notice_inside_the_window_is_taken(invoke, eticket_items):
    timestamp = format_timestamp(utc_now() - timedelta(seconds=540))
    assert answered(invoke(notice_event(sample_notice(), timestamp=timestamp)))[1] == {"code": 200}


def test_a_notice_without_a_timestamp_gets_501(invoke, eticket_items):
    body, content_type = notice_body(sample_notice(), DEMO_NOTICE_SECRET)
    event = notice_event({}, body=body, content_type=content_type)
    assert answered(invoke(event)) == (200, {"code": 501})
    assert eticket_items() == []


def test_a_blank_value_signed_either_way_is_taken(invoke, eticket_items):
    # N2 signs a whitespace-only value, N3 leaves it out: both verify.
    parameters = {"timestamp": format_timestamp(utc_now()), **sample_notice(sku_properties=" ")}
    text = DEMO_NOTICE_SECRET + "".join(k + v for k, v in sorted(parameters.items()) if v)
    parameters["sign"] = hashlib.md5(text.encode("gbk"), usedforsecurity=False).hexdigest()
    event = notice_event({}, body=_form(parameters), content_type="")
    assert answered(invoke(event)) == (200, {"code": 200})  # lower-case hex too
    assert len(eticket_items()) == 1


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"order_id": ""}, "order_id"),
        ({"order_id": "16002/../x"}, "order_id"),
        ({"method": ""}, "method"),
        ({"token": ""}, "token"),
        ({"num": ""}, "num"),
        ({"num": "0"}, "num"),
        ({"num": "1.5"}, "num"),
    ],
)
def test_a_signed_send_without_what_it_needs_gets_400(
    invoke, eticket_items, captured_logs, change, missing
):
    parameters = {**sample_notice(), **change}
    assert answered(invoke(notice_event(parameters))) == (200, {"code": 400})
    assert eticket_items() == []
    assert missing in captured_logs.getvalue()


def test_a_cancel_needs_no_token_or_num(invoke, eticket_items):
    parameters = {k: v for k, v in sample_notice("cancel").items() if k not in ("token", "num")}
    assert answered(invoke(notice_event(parameters)))[1] == {"code": 200}


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param({"content_type": "application/json"}, id="not-a-form"),
        pytest.param(
            {"content_type": "application/x-www-form-urlencoded; charset=latin-1"},
            id="unaccepted-charset",
        ),
        pytest.param({"body": b"method=send&order_id=1&item_title=\xff\xff"}, id="not-gbk"),
        pytest.param({"body": b"method=send&order_id=%ff%ff"}, id="escaped-not-gbk"),
        pytest.param({"body": b"a=" + b"x" * (33 * 1024)}, id="oversized"),
        pytest.param({"body": b"&".join(b"p%d=1" % n for n in range(65))}, id="many"),
        pytest.param({"body": b"a=" + b"x" * 4097}, id="long-value"),
        pytest.param({"body": b"method=send&method=cancel"}, id="given-twice"),
        pytest.param({"body": b"m%00=1"}, id="bad-name"),
        pytest.param({"body": b"order_id=1&item_title=a%1bb"}, id="control-character"),
    ],
)
def test_a_body_that_cannot_be_read_gets_400(invoke, eticket_items, hostile):
    event = notice_event(sample_notice(), **hostile)
    assert answered(invoke(event)) == (200, {"code": 400})
    assert eticket_items() == []


def test_an_internal_failure_is_http_500_and_retried(invoke, eticket_items, monkeypatch, stack):
    # Given a table the function cannot write (a misconfiguration, or DynamoDB down)
    monkeypatch.setenv("ETICKET_TABLE_NAME", "no-such-table")
    table = stack.physical["EticketTable"]
    runtime.reset()
    event = notice_event(sample_notice())
    # When the notice comes: HTTP 500, so that the platform tries again
    assert answered(invoke(event)) == (500, {"code": 500})
    # Then once the table is back, the platform's retry is recorded
    monkeypatch.setenv("ETICKET_TABLE_NAME", table)
    runtime.reset()
    assert answered(invoke(event)) == (200, {"code": 200})
    assert len(eticket_items()) == 1


def test_a_rotated_notice_secret_is_used_at_once(invoke, eticket_items, stack):
    # Given a cached secret (one notice verified with it)
    invoke(notice_event(sample_notice("resend")))
    # When the secret is rotated and the platform signs with the new one
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secret_id = stack.physical["TopSecret"]
    current = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    secrets.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({**current, "notice_secret": "e" * 32})
    )
    # Then its first notice is taken (read past the cache), and the old key no longer is
    assert answered(invoke(notice_event(sample_notice(), secret="e" * 32)))[1] == {"code": 200}
    assert answered(invoke(notice_event(sample_notice("cancel"))))[1] == {"code": 501}
    assert len(eticket_items()) == 2


def test_an_empty_notice_secret_fails_rather_than_refuses(invoke, eticket_items, stack):
    # A stack whose notice secret was never put: the platform retries until it is.
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secret_id = stack.physical["TopSecret"]
    current = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    secrets.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({**current, "notice_secret": ""})
    )
    assert answered(invoke(notice_event(sample_notice()))) == (500, {"code": 500})
    assert eticket_items() == []


def test_logs_never_hold_the_token_sign_secret_or_mobile(invoke, captured_logs):
    event = notice_event(sample_notice())
    invoke(event)
    invoke(event)
    invoke(notice_event(sample_notice(), secret="f" * 32))
    sign = event["body"].rpartition("sign=")[2]
    logs = captured_logs.getvalue()
    assert "notice recorded" in logs
    assert "notice refused" in logs
    for secret in ("31231231231", sign, DEMO_NOTICE_SECRET, "15512345678", "155****5678"):
        assert secret not in logs


def test_the_operator_sees_an_orders_notices_and_their_delivery(invoke, stack):
    invoke(notice_event(sample_notice()))
    invoke(notice_event(sample_notice("cancel", cancel_num="1")))
    store = DynamoDBNoticeRepository(stack.physical["EticketTable"])
    send = next(r for r in store.notices("1753340805138544") if r.notice.method == "send")
    store.record_outcome(send.notice, NoticeOutcome.DELIVERY_CREATED, "EN-abc")
    answer = invoke(notices_get_event("1753340805138544"))
    assert answer["statusCode"] == 200
    view = json.loads(answer["body"])
    assert view["order_id"] == "1753340805138544"
    assert view["delivery_id"] == "EN-abc"
    assert [(n["method"], n["outcome"]) for n in view["notices"]] == [
        ("send", "DELIVERY_CREATED"),
        ("cancel", "RECORDED"),
    ]
    assert view["notices"][0]["delivery_id"] == "EN-abc"
    assert "delivery_id" not in view["notices"][1]
    assert "31231231231" not in answer["body"]
    assert "1551234" not in answer["body"]


def test_an_order_without_notices_is_404_and_a_bad_id_422(invoke):
    assert invoke(notices_get_event("999"))["statusCode"] == 404
    assert invoke(notices_get_event("a%20b"))["statusCode"] == 422


def test_an_outcome_never_makes_a_notice_up(stack):
    store = DynamoDBNoticeRepository(stack.physical["EticketTable"])
    ghost = EticketNotice.of(sample_notice(), received_at="2026-01-01T00:00:00.000+00:00")
    with pytest.raises(ClientError):
        store.record_outcome(ghost, NoticeOutcome.IGNORED)
    assert store.notices(ghost.order_id) == []
