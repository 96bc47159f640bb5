"""The TOP client against the fake TOP gateway, over real HTTP on 127.0.0.1.

Backoff sleeps go to a recorder, so retries cost no waiting; the only real waits are the
read timeouts (0.2 s).
"""

from __future__ import annotations

import json
import os
import socket
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from cardmaker import CardmakerError, TopConfigError, TopError, TopOutcomeUnknown, TopUnavailable
from cardmaker.retry import backoff_delay
from cardmaker.top import (
    CardBindRequest,
    CardBindResult,
    Credentials,
    FixedCredentials,
    IsvKa,
    MaSendRequest,
    MaSendResult,
    TopClient,
    attempts_of,
    format_timestamp,
    sign_request,
)
from local import serve
from local.stack import LocalStack, LocalStackError, TopConfig, check_parameters
from local.template import load_template
from local.top_gateway import CARD_BIND, MA_SEND, FakeTopGateway, Fault

APP_KEY = "12345678"
SECRET = "gateway-test-secret-7f3a"
SESSION = "gateway-test-session-91c2"
CARD_SECRET = "KA-MI-SECRET-5521"
NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)  # 20:30 in China
FAST = (1.0, 0.2)  # (connect, read) timeouts of the tests that wait for a read timeout


class Sleeps(list[float]):
    """Records backoff delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def gateway() -> Iterator[FakeTopGateway]:
    with FakeTopGateway(APP_KEY, SECRET, SESSION) as started:
        yield started


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(gateway: FakeTopGateway, sleeps: Sleeps) -> Iterator[TopClient]:
    with make_client(gateway.url, sleeps) as made:
        yield made


def make_client(url: str, sleeps: Sleeps, **options: Any) -> TopClient:
    settings: dict[str, Any] = {"session_key": SESSION, "sleep": sleeps, **options}
    credentials = FixedCredentials(settings.pop("secret", SECRET), settings.pop("session_key"))
    return TopClient(url, APP_KEY, credentials, **settings)


def bind(client: TopClient, *cards: str) -> dict[str, Any]:
    request = CardBindRequest(
        top_app_key="-103",
        out_biz_id="B-1",
        card_no_s=list(cards or ["3101000000000000001"]),
        card_bind_user_nick="买家_01",
    )
    return client.call(CardBindRequest.METHOD, request.to_params())


def ma_send(client: TopClient, *, with_session: bool = True) -> dict[str, Any]:
    request = MaSendRequest(
        outer_id="1753340805138544",
        token="31231231231",
        certificate_type=1,
        isv_ka_list=[IsvKa(ka_no="3101000000000000001", ka_mi=CARD_SECRET)],
    )
    return client.call(MaSendRequest.METHOD, request.to_params(), with_session=with_session)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- signed calls ---------------------------------------------------------------------


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
def test_each_sign_method_signs_what_the_gateway_checks(gateway, sleeps, sign_method):
    with make_client(gateway.url, sleeps, sign_method=sign_method) as client:
        answer = bind(client, "C1", "C2")
    (call,) = gateway.calls
    assert call.sign_valid
    assert call.params["sign_method"] == sign_method
    assert call.structs["card_bind_req_dto"]["card_no_s"] == "C1,C2"
    assert call.structs["card_bind_req_dto"]["card_bind_user_nick"] == "买家_01"
    result = CardBindResult.from_response(answer)
    assert result.success
    assert result.out_biz_id == "B-1"
    assert result.bound(["C1", "C2"]) == ["C1", "C2"]
    assert answer.attempts == 1
    assert answer.request_id == call.answer["tmall_purchase_card_bind_response"]["request_id"]


def test_a_wrong_secret_is_refused_and_not_retried(gateway, sleeps):
    client = make_client(gateway.url, sleeps, secret="not-the-secret")
    with client, pytest.raises(TopError) as refused:
        bind(client)
    assert refused.value.top_code == 25
    assert refused.value.sub_code == "isv.invalid-signature"
    assert attempts_of(refused.value) == 1
    assert not gateway.calls[0].sign_valid
    assert sleeps == []


def test_system_parameters_in_the_query_business_ones_in_a_utf8_form_body(gateway, sleeps):
    sent: list[requests.PreparedRequest] = []
    http = requests.Session()
    http.hooks["response"].append(lambda response, **_: sent.append(response.request))
    with make_client(gateway.url, sleeps, http=http) as client:
        ma_send(client)
    (request,) = sent
    query = dict(parse_qsl(urlsplit(request.url).query))
    assert set(query) == {
        "method",
        "app_key",
        "timestamp",
        "v",
        "format",
        "sign_method",
        "session",
        "sign",
    }
    assert (query["v"], query["format"], query["method"]) == ("2.0", "json", MA_SEND)
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    body = dict(parse_qsl(request.body.decode("ascii"), encoding="utf-8"))
    assert set(body) == {"outer_id", "token", "biz_type", "certificate_type", "isv_ka_list"}
    assert json.loads(body["isv_ka_list"]) == [
        {"ka_no": "3101000000000000001", "ka_mi": CARD_SECRET, "num": 1}
    ]
    # The sign covers both halves: recompute it from what travelled.
    assert query["sign"] == sign_request(
        {k: v for k, v in {**query, **body}.items() if k != "sign"}, SECRET, "hmac-sha256"
    )
    http.close()


def test_session_is_sent_only_when_asked(gateway, client):
    bind(client)
    assert MaSendResult.from_response(ma_send(client)).succeeded
    bind_call, send_call = gateway.calls
    assert "session" not in bind_call.params
    assert send_call.params["session"] == SESSION
    assert send_call.sign_valid


def test_ma_send_without_the_session_is_refused_by_the_gateway(gateway, client):
    with pytest.raises(TopError) as refused:
        ma_send(client, with_session=False)
    assert refused.value.top_code == 26


def test_asking_for_a_session_without_a_session_key_fails_before_any_call(gateway, sleeps):
    client = make_client(gateway.url, sleeps, session_key=None)
    with client, pytest.raises(TopConfigError, match="session key"):
        ma_send(client)
    assert gateway.calls == []


def test_timestamps_are_china_time_whatever_the_clock(sleeps):
    with FakeTopGateway(APP_KEY, SECRET, SESSION, clock=lambda: NOW) as gateway:
        with make_client(gateway.url, sleeps, clock=lambda: NOW) as client:
            bind(client)
        assert gateway.calls[0].params["timestamp"] == "2026-11-22 20:30:00"
        # The classic SDK bug: UTC wall time sent as if it were China time (8 hours off).
        utc_as_china = NOW - timedelta(hours=8)
        with make_client(gateway.url, sleeps, clock=lambda: utc_as_china) as client:
            assert format_timestamp(utc_as_china) == "2026-11-22 12:30:00"
            with pytest.raises(TopError) as refused:
                bind(client)
    assert refused.value.top_code == 31
    assert attempts_of(refused.value) == 1


def test_simplified_answers_are_read_too(gateway, sleeps):
    gateway.fail_next(Fault.bind_result(invalid=["C2"], bind_fail=["C3"]), method=CARD_BIND)
    with make_client(gateway.url, sleeps, simplify=True) as client:
        answer = bind(client, "C1", "C2", "C3")
        sent = ma_send(client)
    bind_call, send_call = gateway.calls
    assert bind_call.params["simplify"] == "true"
    assert bind_call.sign_valid
    assert "result" in bind_call.answer  # no root wrapper...
    assert bind_call.answer["result"]["data"]["invalid_card_no_s"] == ["C2"]  # ...nor list one
    result = CardBindResult.from_response(answer)
    assert (result.invalid_card_no_s, result.bind_fail_card_no_s) == (["C2"], ["C3"])
    assert result.bound(["C1", "C2", "C3"]) == ["C1"]
    assert "ret_code" in send_call.answer
    assert MaSendResult.from_response(sent).succeeded


def test_wrapped_lists_and_business_failures(gateway, client):
    gateway.fail_next(Fault.bind_result(invalid=["C1"], success=False, message="部分失败"))
    gateway.fail_next(Fault.ma_ret("isv.order-status-error", "订单状态错误"))
    result = CardBindResult.from_response(bind(client, "C1", "C2"))
    assert gateway.calls[0].answer["tmall_purchase_card_bind_response"]["result"]["data"][
        "invalid_card_no_s"
    ] == {"string": ["C1"]}
    assert (result.success, result.message, result.invalid_card_no_s) == (
        False,
        "部分失败",
        ["C1"],
    )
    sent = MaSendResult.from_response(ma_send(client))
    assert not sent.succeeded
    assert sent.ret_code == "isv.order-status-error"


# --- retries --------------------------------------------------------------------------


def test_isp_error_then_success(gateway, client, sleeps):
    gateway.fail_next(Fault.error(15, "isp.remote-service-timeout"))
    answer = ma_send(client)
    assert answer.attempts == 2
    assert len(gateway.calls) == 2
    assert all(call.sign_valid for call in gateway.calls)
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 0.2


def test_rate_limit_backs_off_then_succeeds(gateway, client, sleeps):
    gateway.fail_next(Fault.error(7, msg="App Call Limited"), times=2)
    assert bind(client).attempts == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.2
    assert 0 <= sleeps[1] <= 0.4


@pytest.mark.parametrize("fault", [Fault.http_status(503), Fault.http_status(429), Fault.error(10)])
def test_unavailable_then_success(gateway, client, sleeps, fault):
    gateway.fail_next(fault)
    assert bind(client).attempts == 2
    assert len(gateway.calls) == 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault.error(15, "isv.invalid-parameter", sub_msg="非法参数"),
        Fault.error(7, "isv.app-call-limited"),  # an isv.* sub_code wins over the code
        Fault.error(41),
        Fault.error(15),
    ],
)
def test_other_errors_are_never_retried(gateway, client, sleeps, fault):
    gateway.fail_next(fault)
    with pytest.raises(TopError) as refused:
        ma_send(client)
    assert refused.value.top_code == fault.code
    assert refused.value.sub_code == fault.sub_code
    assert refused.value.attempts == 1
    assert len(gateway.calls) == 1
    assert sleeps == []


def test_exhausted_retries_raise_the_last_gateway_error(gateway, client, sleeps):
    gateway.fail_always(Fault.error(15, "isp.remote-service-error"))
    with pytest.raises(TopError) as refused:
        bind(client)
    assert refused.value.sub_code == "isp.remote-service-error"
    assert refused.value.attempts == 4
    assert len(gateway.calls) == 4
    assert len(sleeps) == 3


def test_exhausted_http_errors_raise_top_unavailable(gateway, client, sleeps):
    gateway.fail_always(Fault.http_status(502))
    with pytest.raises(TopUnavailable) as unavailable:
        bind(client)
    assert (unavailable.value.status, unavailable.value.attempts) == (502, 4)
    assert isinstance(unavailable.value, CardmakerError)


def test_other_http_statuses_are_not_retried(gateway, client, sleeps):
    gateway.fail_next(Fault.http_status(404))
    with pytest.raises(TopUnavailable) as unavailable:
        bind(client)
    assert (unavailable.value.status, unavailable.value.attempts) == (404, 1)


def test_a_late_answer_is_an_unknown_outcome_and_never_resent(gateway, sleeps):
    gateway.fail_next(Fault.delay(5.0))
    with make_client(gateway.url, sleeps, timeout=FAST) as client:
        with pytest.raises(TopOutcomeUnknown) as unknown:
            ma_send(client)
        assert unknown.value.attempts == 1
        assert "read timeout" in str(unknown.value)
        assert len(gateway.calls) == 1  # the gateway did get (and process) the call
        assert sleeps == []
        assert ma_send(client).attempts == 1  # the client is still usable


def test_an_unknown_outcome_after_a_retry_counts_both_attempts(gateway, sleeps):
    gateway.fail_next(Fault.error(15, "isp.busy"))
    gateway.fail_next(Fault.delay(5.0))
    client = make_client(gateway.url, sleeps, timeout=FAST)
    with client, pytest.raises(TopOutcomeUnknown) as unknown:
        bind(client)
    assert unknown.value.attempts == 2
    assert len(gateway.calls) == 2


def test_a_dropped_connection_is_an_unknown_outcome(gateway, client, sleeps):
    # The request was sent in full before the connection closed: the gateway may have acted
    # on it (this one did), so it is not ours to resend. Only a connection that was never
    # made is known not to have reached the gateway (next test).
    gateway.fail_next(Fault.drop())
    with pytest.raises(TopOutcomeUnknown) as unknown:
        ma_send(client)
    assert unknown.value.attempts == 1
    assert "connection dropped" in str(unknown.value)
    assert len(gateway.calls) == 1
    assert sleeps == []


def test_a_refused_connection_is_retried_then_unavailable(sleeps):
    url = f"http://127.0.0.1:{closed_port()}/router/rest"
    client = make_client(url, sleeps)
    with client, pytest.raises(TopUnavailable) as unavailable:
        ma_send(client)
    assert unavailable.value.attempts == 4
    assert unavailable.value.reason == "connection failed"
    assert unavailable.value.status is None
    assert len(sleeps) == 3


class Failing(requests.Session):
    """A session whose every call fails with ``error``, the way ``requests`` fails."""

    def __init__(self, error: requests.RequestException) -> None:
        super().__init__()
        self.error = error
        self.posts = 0

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.posts += 1
        raise self.error


@pytest.mark.parametrize(
    ("error", "expected", "posts"),
    [
        (requests.ConnectTimeout("connect timed out"), TopUnavailable, 4),
        (requests.ReadTimeout("read timed out"), TopOutcomeUnknown, 1),
        (requests.exceptions.SSLError("handshake failed"), TopOutcomeUnknown, 1),
        (requests.exceptions.ChunkedEncodingError("broken body"), TopOutcomeUnknown, 1),
    ],
)
def test_transport_errors_are_classified(sleeps, error, expected, posts):
    http = Failing(error)
    client = make_client("https://eco.taobao.com/router/rest", sleeps, http=http)
    with pytest.raises(expected) as failed:
        ma_send(client)
    assert http.posts == posts
    assert failed.value.attempts == posts
    assert failed.value.__cause__ is None
    assert failed.value.__context__ is None  # requests' text quotes the URL: never chained


def test_an_unreadable_answer_is_an_unknown_outcome(gateway, client):
    gateway.fail_next(Fault.http_status(200))  # a 200 with a body that is no TOP answer
    with pytest.raises(TopOutcomeUnknown):
        bind(client)
    assert len(gateway.calls) == 1


def test_backoff_is_full_jitter_below_a_growing_capped_ceiling():
    for attempts, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (5, 3.0), (30, 3.0)]:
        delays = [backoff_delay(attempts - 1, 0.2, 3.0) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2  # spread over the range, not pinned to it


# --- secrets --------------------------------------------------------------------------


def test_secrets_are_never_in_exceptions_or_logs(gateway, sleeps, captured_logs):
    failures: list[BaseException] = []
    scenarios = [
        Fault.error(15, "isp.busy"),  # retried, logged
        Fault.error(15, "isv.invalid-parameter"),
        Fault.drop(),
        Fault.delay(5.0),
        Fault.http_status(404),
    ]
    with make_client(gateway.url, sleeps, timeout=FAST) as client:
        ma_send(client)  # a success is logged too
        for fault in scenarios:
            gateway.fail_next(fault)
            try:
                ma_send(client)
            except CardmakerError as error:
                failures.append(error)
        refused_url = f"http://127.0.0.1:{closed_port()}/router/rest"
        with make_client(refused_url, sleeps) as refused:
            try:
                ma_send(refused)
            except TopUnavailable as error:
                failures.append(error)
        texts = [repr(client), captured_logs.getvalue()]
    assert len(failures) == 5
    texts += ["".join(traceback.format_exception(failure)) + repr(failure) for failure in failures]
    everything = "\n".join(texts)
    assert "TOP call will be retried" in everything
    signs = [call.params["sign"] for call in gateway.calls]
    for secret in [SECRET, SESSION, CARD_SECRET, "31231231231", *signs]:
        assert secret not in everything


# --- the fake gateway's own checks ----------------------------------------------------


def raw_call(gateway: FakeTopGateway, **changes: str | None) -> dict[str, Any]:
    """A hand-signed ma.send, with parameters changed (None removes one) before signing
    unless ``sign`` itself is given."""
    params = {
        "method": MA_SEND,
        "app_key": APP_KEY,
        "timestamp": format_timestamp(datetime.now(UTC)),
        "v": "2.0",
        "format": "json",
        "sign_method": "md5",
        "session": SESSION,
        "outer_id": "1",
        "token": "t",
        "isv_ma_list": '[{"code":"c","num":1}]',
    }
    params.update({k: v for k, v in changes.items() if v is not None and k != "sign"})
    for name in [k for k, v in changes.items() if v is None]:
        params.pop(name, None)
    params["sign"] = changes.get("sign") or sign_request(params, SECRET, "md5")
    answer = requests.post(gateway.url, data=params, timeout=5)
    return answer.json()


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"app_key": "999"}, 29),
        ({"app_key": None}, 28),
        ({"sign": "0" * 32}, 25),
        ({"sign_method": "sha1"}, 25),
        ({"timestamp": format_timestamp(datetime.now(UTC) - timedelta(minutes=11))}, 31),
        ({"timestamp": "2026-11-22T20:30:00"}, 31),
        ({"timestamp": None}, 30),
        ({"session": "someone-else"}, 27),
        ({"session": None}, 26),
        ({"method": "taobao.time.get"}, 22),
        ({"method": None}, 21),
        ({"outer_id": None}, 40),
        ({"isv_ma_list": "[not json"}, 41),
        ({"certificate_type": "1"}, 40),  # type 1 needs isv_ka_list
    ],
)
def test_the_gateway_refuses_what_the_real_one_refuses(gateway, changes, code):
    answer = raw_call(gateway, **changes)
    assert answer["error_response"]["code"] == code
    assert answer["error_response"]["request_id"]
    assert gateway.calls[0].answer == answer


def test_the_gateway_accepts_a_hand_signed_call(gateway):
    answer = raw_call(gateway)
    assert answer["eticket_merchant_ma_send_response"]["ret_code"] == "isv.success-all"
    assert gateway.calls[0].sign_valid


def test_the_gateway_checks_card_bind_dto(gateway, client):
    dto = {"top_app_key": "-103", "out_biz_id": "B", "card_no_s": "C1"}
    with pytest.raises(TopError) as refused:
        client.call(CARD_BIND, {"card_bind_req_dto": json.dumps(dto)})
    assert refused.value.top_code == 41  # neither nick nor open uid


def test_faults_are_consumed_per_call_and_by_method(gateway, client):
    gateway.fail_next(Fault.ma_ret("isv.x"), method=MA_SEND)
    assert gateway.pending_faults() == 1
    bind(client)  # not for card.bind: left in the queue
    assert gateway.pending_faults() == 1
    assert not MaSendResult.from_response(ma_send(client)).succeeded
    assert MaSendResult.from_response(ma_send(client)).succeeded
    assert [call.fault for call in gateway.calls_of(MA_SEND)] == [Fault.ma_ret("isv.x"), None]
    gateway.fail_always(Fault.ma_ret("isv.y"))
    gateway.reset()
    assert gateway.calls == []
    assert MaSendResult.from_response(ma_send(client)).succeeded


def test_the_gateway_log_names_calls_but_no_values(sleeps):
    lines: list[str] = []
    with FakeTopGateway(APP_KEY, SECRET, SESSION, log=lines.append) as gateway:
        gateway.fail_next(Fault.error(15, "isv.invalid-parameter"))
        with make_client(gateway.url, sleeps) as client:
            with pytest.raises(TopError):
                ma_send(client)
            ma_send(client)
    assert lines == [
        f"[top] {MA_SEND}: sign ok -> error 15 isv.invalid-parameter [fault: error]",
        f"[top] {MA_SEND}: sign ok -> ok",
    ]


def test_client_configuration_is_checked(sleeps):
    for url in ["eco.taobao.com/router/rest", "ftp://eco.taobao.com/router/rest"]:
        with pytest.raises(TopConfigError):
            TopClient(url, APP_KEY, FixedCredentials(SECRET))
    with pytest.raises(TopConfigError):
        TopClient("https://eco.taobao.com/router/rest", "", FixedCredentials(SECRET))
    with pytest.raises(TopConfigError):
        FixedCredentials(" ")
    fixed = FixedCredentials(SECRET)
    with pytest.raises(TopConfigError):
        TopClient("https://eco.taobao.com/router/rest", APP_KEY, fixed, sign_method="sha1")  # type: ignore[arg-type]
    with pytest.raises(TopConfigError):
        TopClient("https://eco.taobao.com/router/rest", APP_KEY, fixed, max_attempts=0)
    client = make_client("https://eco.taobao.com/router/rest", sleeps)
    with pytest.raises(ValueError, match="sign"):
        client.call(CARD_BIND, {"sign": "x"})  # a business parameter may not shadow one
    assert SECRET not in repr(client)
    assert SESSION not in repr(client)


@pytest.mark.parametrize(
    "url",
    [
        "http://eco.taobao.com/router/rest",
        "http://gw.api.tbsandbox.com/router/rest",
        "http://10.0.0.8:8080/router/rest",
        "http://127.0.0.1.example.com/router/rest",
    ],
)
def test_a_plain_http_gateway_is_refused_unless_loopback(url):
    with pytest.raises(TopConfigError, match="https://") as refused:
        TopClient(url, APP_KEY, FixedCredentials(SECRET))
    assert url not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/router/rest",
        "http://127.3.2.1/r",
        "http://localhost/r",
        "http://[::1]:9/r",
    ],
)
def test_a_plain_http_gateway_on_loopback_is_taken(url):
    TopClient(url, APP_KEY, FixedCredentials(SECRET)).close()


class RotatingCredentials:
    """A credentials source that has been rotated: the cache still holds the old ones."""

    def __init__(self, old: Credentials, new: Credentials) -> None:
        self.cached, self.stored = old, new
        self.refreshes = 0

    def current(self) -> Credentials:
        return self.cached

    def refresh(self) -> Credentials:
        self.refreshes += 1
        self.cached = self.stored
        return self.cached


def test_a_refused_sign_refreshes_the_credentials_and_calls_once_more(gateway, sleeps):
    credentials = RotatingCredentials(
        Credentials("the-old-secret", SESSION), Credentials(SECRET, SESSION)
    )
    with TopClient(gateway.url, APP_KEY, credentials, sleep=sleeps) as client:
        answer = bind(client)
        assert answer.attempts == 2  # the refused call counts
        bind(client)  # the fresh ones from now on
    assert credentials.refreshes == 1
    assert [call.sign_valid for call in gateway.calls] == [False, True, True]
    assert sleeps == []  # no backoff: the refusal was about us, not the platform


def test_a_refused_session_refreshes_the_credentials_and_calls_once_more(gateway, sleeps):
    credentials = RotatingCredentials(Credentials(SECRET, "expired"), Credentials(SECRET, SESSION))
    with TopClient(gateway.url, APP_KEY, credentials, sleep=sleeps) as client:
        assert MaSendResult.from_response(ma_send(client)).succeeded
    assert [call.params["session"] for call in gateway.calls] == ["expired", SESSION]


def test_a_second_refusal_after_the_refresh_is_raised(gateway, sleeps):
    credentials = RotatingCredentials(
        Credentials("the-old-secret", SESSION), Credentials("not-it-either", SESSION)
    )
    client = TopClient(gateway.url, APP_KEY, credentials, sleep=sleeps)
    with client, pytest.raises(TopError) as refused:
        bind(client)
    assert refused.value.top_code == 25
    assert attempts_of(refused.value) == 2
    assert len(gateway.calls) == 2  # once more, not in a loop


# --- the local stack ----------------------------------------------------------------------


def test_the_local_stack_starts_the_fake_gateway_for_its_functions():
    with LocalStack(access_log=False) as stack:
        gateway = stack.top_gateway
        assert gateway is not None
        assert os.environ["TOP_GATEWAY_URL"] == gateway.url == stack.top_gateway_url()
        assert f"fake TOP gateway: {gateway.url}" in stack.describe()
        # A client configured the way the functions are gets through.
        client = TopClient(
            os.environ["TOP_GATEWAY_URL"],
            os.environ["TOP_APP_KEY"],
            FixedCredentials(stack.top.app_secret, stack.top.session_key),
            sign_method=os.environ["TOP_SIGN_METHOD"],  # type: ignore[arg-type]
        )
        with client:
            assert MaSendResult.from_response(ma_send(client)).succeeded
        assert gateway.calls[0].sign_valid
        url = gateway.url
    assert stack.top_gateway is None
    with pytest.raises(requests.ConnectionError):
        requests.post(url, timeout=2)


def test_an_external_gateway_means_no_fake_one():
    external = "https://gw.api.tbsandbox.com/router/rest"
    with LocalStack(TopConfig(gateway_url=external), access_log=False) as stack:
        assert stack.top_gateway is None
        assert os.environ["TOP_GATEWAY_URL"] == external
        assert f"TOP gateway: {external}" in stack.describe()


@pytest.mark.parametrize(
    "url", ["http://gw.api.tbsandbox.com/router/rest", "http://eco.taobao.com/router/rest"]
)
def test_the_local_stack_refuses_a_plain_http_gateway(url):
    with pytest.raises(LocalStackError, match="TOP_GATEWAY_URL") as refused:
        TopConfig.from_environ({"TOP_GATEWAY_URL": url})
    assert url not in str(refused.value)
    with pytest.raises(LocalStackError, match="TOP_GATEWAY_URL"):
        TopConfig(gateway_url=url)


def test_make_serve_refuses_a_plain_http_gateway(monkeypatch, capsys):
    monkeypatch.setenv("TOP_GATEWAY_URL", "http://eco.taobao.com/router/rest")
    monkeypatch.setenv("CARDMAKER_LOCAL_STATE", "/nonexistent/never-written.json")
    assert serve.main() == 2
    error = capsys.readouterr().err
    assert "TOP_GATEWAY_URL must be https://" in error
    assert "eco.taobao.com" not in error


@pytest.mark.parametrize(
    ("url", "taken"),
    [
        ("https://eco.taobao.com/router/rest", True),
        ("http://127.0.0.1:3001/router/rest", True),
        ("http://[::1]:3001/router/rest", True),
        ("http://eco.taobao.com/router/rest", False),
        ("http://127.0.0.1.example.com/router/rest", False),
    ],
)
def test_the_template_refuses_a_plain_http_gateway_at_deploy(url, taken):
    # CloudFormation checks the parameter's AllowedPattern; the local stack checks it the same way
    if taken:
        check_parameters(load_template(), {"TopGatewayUrl": url})
    else:
        with pytest.raises(LocalStackError, match="TopGatewayUrl"):
            check_parameters(load_template(), {"TopGatewayUrl": url})
