"""The fake TOP gateway takes what TOP takes: form and multipart/form-data bodies (file
parameters never signed), ``yyyy-MM-dd HH:mm:ss`` (GMT+8) and epoch-millisecond timestamps;
over real HTTP on 127.0.0.1, signed with Cardmaker's own ``sign_request``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from cardmaker.top import format_timestamp, sign_request
from local.top_gateway import CARD_BIND, FakeTopGateway

APP_KEY = "12345678"
SECRET = "gateway-parsing-secret-0b7e"
SESSION = "gateway-parsing-session-44d1"
NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)  # 20:30 in China
DTO = {
    "top_app_key": "-103",
    "out_biz_id": "243FC389EDACDFB9CF0BFC6D1443C97F",
    "card_no_s": "3101790202036006151",
    "card_bind_user_nick": "tracey_05",
}


@pytest.fixture
def gateway() -> Iterator[FakeTopGateway]:
    with FakeTopGateway(APP_KEY, SECRET, SESSION, clock=lambda: NOW) as started:
        yield started


def bind_params(timestamp: str, sign_method: str = "hmac-sha256") -> dict[str, str]:
    params = {
        "method": CARD_BIND,
        "app_key": APP_KEY,
        "timestamp": timestamp,
        "v": "2.0",
        "format": "json",
        "sign_method": sign_method,
        "card_bind_req_dto": json.dumps(DTO, separators=(",", ":")),
    }
    params["sign"] = sign_request(params, SECRET, sign_method)  # type: ignore[arg-type]
    return params


def epoch_ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def multipart(gateway: FakeTopGateway, params: dict[str, str], **files: bytes) -> dict[str, Any]:
    """Every parameter a multipart field, as the official Node SDK sends a call."""
    fields: dict[str, Any] = {name: (None, value) for name, value in params.items()}
    fields.update({name: (f"{name}.png", data, "image/png") for name, data in files.items()})
    answer = requests.post(gateway.url, files=fields, timeout=5)
    assert answer.status_code == 200
    assert answer.request.headers["content-type"].startswith("multipart/form-data; boundary=")
    result: dict[str, Any] = answer.json()
    return result


def form(gateway: FakeTopGateway, params: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = requests.post(gateway.url, data=params, timeout=5).json()
    return result


def accepted(answer: dict[str, Any]) -> bool:
    return "tmall_purchase_card_bind_response" in answer


def test_a_multipart_call_is_accepted_and_its_file_is_not_signed(gateway):
    params = bind_params(format_timestamp(NOW))
    answer = multipart(gateway, params, img_bytes=b"\x89PNG\r\n\x1a\n\x00binary=&\xff")
    assert accepted(answer), answer
    call = gateway.calls[-1]
    assert call.sign_valid
    assert call.params["card_bind_req_dto"] == params["card_bind_req_dto"]
    assert "img_bytes" not in call.params
    assert call.files == {"img_bytes": 18}


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
def test_a_multipart_call_signed_with_each_method_is_accepted(gateway, sign_method):
    assert accepted(multipart(gateway, bind_params(format_timestamp(NOW), sign_method)))


def test_a_tampered_multipart_call_is_refused(gateway):
    params = {**bind_params(format_timestamp(NOW)), "v": "2.1"}
    answer = multipart(gateway, params)
    assert answer["error_response"]["code"] == 25
    assert not gateway.calls[-1].sign_valid


def test_a_multipart_file_named_like_a_signed_parameter_is_refused(gateway):
    # A text parameter sent as a file part would be read as no parameter at all.
    params = bind_params(format_timestamp(NOW))
    dto = params.pop("card_bind_req_dto").encode()
    answer = multipart(gateway, params, card_bind_req_dto=dto)
    assert answer["error_response"]["code"] in (25, 40)


def test_an_epoch_millisecond_timestamp_is_accepted(gateway):
    assert accepted(form(gateway, bind_params(epoch_ms(NOW))))
    assert accepted(multipart(gateway, bind_params(epoch_ms(NOW - timedelta(minutes=9)))))


@pytest.mark.parametrize("skew", [timedelta(minutes=11), -timedelta(minutes=11)])
def test_an_epoch_millisecond_timestamp_outside_the_window_is_refused(gateway, skew):
    answer = form(gateway, bind_params(epoch_ms(NOW + skew)))
    assert answer["error_response"]["code"] == 31


@pytest.mark.parametrize("timestamp", ["1700000000", "-1700000000000", "17000000000000000000000"])
def test_a_timestamp_neither_format_is_refused(gateway, timestamp):
    assert form(gateway, bind_params(timestamp))["error_response"]["code"] == 31


def test_a_body_neither_form_nor_multipart_is_refused(gateway):
    answer = requests.post(
        gateway.url,
        data=json.dumps(bind_params(format_timestamp(NOW))),
        headers={"content-type": "application/json"},
        timeout=5,
    ).json()
    assert answer["error_response"]["code"] == 43


def test_a_multipart_parameter_given_twice_is_refused(gateway):
    params = bind_params(format_timestamp(NOW))
    fields = [(name, (None, value)) for name, value in params.items()]
    fields.append(("v", (None, "2.0")))
    answer = requests.post(gateway.url, files=fields, timeout=5).json()
    assert answer["error_response"]["code"] == 43


@pytest.mark.parametrize(
    "body",
    [
        b"--B\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--B--\r\n",
        b'--B\r\nContent-Disposition: form-data; name="v"\r\n\r\n\xff\xfe\r\n--B--\r\n',
        b"no boundary at all",
    ],
    ids=["part-without-a-name", "not-utf-8", "no-parts"],
)
def test_a_malformed_multipart_body_is_refused(gateway, body):
    answer = requests.post(
        gateway.url,
        data=body,
        headers={"content-type": "multipart/form-data; boundary=B"},
        timeout=5,
    ).json()
    assert answer["error_response"]["code"] == 43
    assert gateway.calls[-1].params == {}
