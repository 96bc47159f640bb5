"""SPI verification as the official SpiUtils does it, and every way a call is refused."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardmaker import (
    CARDORDER_MAKE,
    CARDORDER_MAKE_PARAMETERS,
    InvalidAppKey,
    InvalidMethod,
    InvalidParameter,
    InvalidSignature,
    InvalidTimestamp,
)
from cardmaker.top import SpiPolicy, SpiRequest, parse_timestamp, sign_spi
from cardmaker.top import verify_spi_call as verify_with
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from local.platform import sign_demo_call

SENT = parse_timestamp("2026-11-22 20:30:00")
POLICY = SpiPolicy(app_key=DEMO_APP_KEY)  # the vectors' app key too
METHODS = {CARDORDER_MAKE: CARDORDER_MAKE_PARAMETERS}


def verify_spi_call(request, secret, *, policy=POLICY, clock):
    """The verification of the SPI function: our app key, cardorder.make served."""
    return verify_with(request, secret, policy=policy, methods=METHODS, clock=clock)


def at(seconds_after_sending: int):
    return lambda: SENT + timedelta(seconds=seconds_after_sending)


def vector_request(case, *, plus_for_space: bool = True) -> SpiRequest:
    query = {**case["query"], "sign": case["sign"]}
    raw_query = urlencode(query) if plus_for_space else urlencode(query, quote_via=quote)
    body = case["body"].encode() if "body" in case else urlencode(case["form"]).encode()
    return SpiRequest(raw_query, body, {"content-type": case["content_type"]})


@pytest.mark.parametrize("plus_for_space", [True, False], ids=["space-as-plus", "space-as-%20"])
def test_vectors_verify(top_vectors, plus_for_space):
    for case in top_vectors["spi_verification"]:
        call = verify_spi_call(
            vector_request(case, plus_for_space=plus_for_space), case["secret"], clock=at(30)
        )
        assert call.params["method"] == "alibaba.fundplatform.cardorder.make"
        assert call.params["timestamp"] == "2026-11-22 20:30:00"
        if "form" in case:
            assert call.body_kind == "form"
            assert call.params["logistics_info"] == case["form"]["logistics_info"]
        else:
            assert call.body_kind == "json"
            assert call.body_text == case["body"]


def test_wrong_secret_is_refused(top_vectors):
    case = top_vectors["spi_verification"][0]
    with pytest.raises(InvalidSignature):
        verify_spi_call(vector_request(case), "another-secret", clock=at(0))


def test_missing_sign_is_refused(top_vectors):
    case = top_vectors["spi_verification"][0]
    request = vector_request(case)
    unsigned = SpiRequest(urlencode(case["query"]), request.body, request.headers)
    with pytest.raises(InvalidSignature, match="missing"):
        verify_spi_call(unsigned, case["secret"], clock=at(0))


def test_sign_in_the_form_body_does_not_count(top_vectors):
    case = top_vectors["spi_verification"][1]
    form = urlencode({**case["form"], "sign": case["sign"]}).encode()
    request = SpiRequest(urlencode(case["query"]), form, {"content-type": case["content_type"]})
    with pytest.raises(InvalidSignature):
        verify_spi_call(request, case["secret"], clock=at(0))


@pytest.mark.parametrize(
    ("seconds", "accepted"),
    [(-181, False), (-180, True), (0, True), (300, True), (301, False), (86400, False)],
    ids=["too-far-ahead", "180s-ahead", "now", "300s-old", "301s-old", "a-day-old"],
)
def test_timestamp_window(top_vectors, seconds, accepted):
    case = top_vectors["spi_verification"][0]
    request = vector_request(case)
    if accepted:
        verify_spi_call(request, case["secret"], clock=at(seconds))
    else:
        with pytest.raises(InvalidTimestamp):
            verify_spi_call(request, case["secret"], clock=at(seconds))


def test_window_is_configurable(top_vectors):
    case = top_vectors["spi_verification"][0]
    with pytest.raises(InvalidTimestamp, match="older than 60"):
        verify_spi_call(
            vector_request(case),
            case["secret"],
            policy=SpiPolicy(app_key=DEMO_APP_KEY, max_age=60),
            clock=at(61),
        )


@pytest.mark.parametrize("timestamp", ["", "2026/11/22 20:30:00", "1795350600"])
def test_missing_or_malformed_timestamp_is_refused(timestamp):
    query = {"method": "m", "timestamp": timestamp}
    if not timestamp:
        del query["timestamp"]
    sign = sign_spi(query, "{}", "s")
    request = SpiRequest(
        urlencode({**query, "sign": sign}), b"{}", {"content-type": "application/json"}
    )
    with pytest.raises(InvalidTimestamp):
        verify_spi_call(request, "s", clock=at(0))


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "application/octet-stream", "image/png", "text/html"],
)
def test_unsupported_content_types_are_refused(content_type):
    request = SpiRequest("sign=X", b"x", {"content-type": content_type})
    with pytest.raises(InvalidParameter, match="Content-Type"):
        verify_spi_call(request, "s", clock=at(0))


@pytest.mark.parametrize("charset", ["koi8-r", "utf-8\x00"])
def test_unknown_charset_is_refused(charset):
    request = SpiRequest("sign=X", b"{}", {"content-type": f"application/json;charset={charset}"})
    with pytest.raises(InvalidParameter, match="charset"):
        verify_spi_call(request, "s", clock=at(0))


def test_oversized_body_is_refused_before_anything_else():
    request = SpiRequest("", b"x" * 2048, {"content-type": "application/json"})
    with pytest.raises(InvalidParameter, match="exceeds"):
        verify_spi_call(
            request, "s", policy=SpiPolicy(app_key=DEMO_APP_KEY, max_body_bytes=1024), clock=at(0)
        )


def test_duplicate_query_keys_are_refused():
    call = sign_demo_call(sample_order(), timestamp=SENT)
    request = SpiRequest(call.raw_query + "&v=2.0", call.body, call.headers)
    with pytest.raises(InvalidParameter, match="more than once"):
        verify_spi_call(request, DEMO_SECRET, clock=at(0))


def test_query_split_rules_of_the_sdk():
    # A bare key counts with value ""; String.split drops a trailing '=' ("v=2.0=" is "2.0").
    query = {"method": CARDORDER_MAKE, "app_key": DEMO_APP_KEY, "timestamp": "2026-11-22 20:30:00"}
    sign = sign_spi({**query, "session": "", "v": "2.0"}, "{}", "s")
    raw = urlencode(query) + "&session&v=2.0=&sign=" + sign
    call = verify_spi_call(
        SpiRequest(raw, b"{}", {"content-type": "application/json"}), "s", clock=at(0)
    )
    assert call.params["session"] == ""
    assert call.params["v"] == "2.0"


def test_a_query_pair_with_two_equals_is_refused_not_dropped():
    # The SDK leaves it out of the sign, but a servlet's getParameter still reads it: an
    # unsigned parameter in the query is refused, even one signed as the SDK would.
    query = {"method": CARDORDER_MAKE, "app_key": DEMO_APP_KEY, "timestamp": "2026-11-22 20:30:00"}
    raw = urlencode(query) + "&session=a=b&sign=" + sign_spi(query, "{}", "s")
    with pytest.raises(InvalidParameter, match="more than one '='"):
        verify_spi_call(
            SpiRequest(raw, b"{}", {"content-type": "application/json"}), "s", clock=at(0)
        )


@pytest.mark.parametrize("escape", ["%", "%2", "%zz", "%%41"])
def test_a_malformed_percent_escape_is_refused_as_javas_url_decoder_does(escape):
    query = {"method": CARDORDER_MAKE, "app_key": DEMO_APP_KEY, "timestamp": "2026-11-22 20:30:00"}
    signed = {**query, "session": escape}
    raw = urlencode(query) + f"&session={escape}&sign=" + sign_spi(signed, "{}", "s")
    with pytest.raises(InvalidParameter, match="malformed %-escape"):
        verify_spi_call(
            SpiRequest(raw, b"{}", {"content-type": "application/json"}), "s", clock=at(0)
        )


def test_signed_headers_are_part_of_the_sign():
    call = sign_demo_call(sample_order(), timestamp=SENT, signed_headers={"X-Top-Trace": "a b/1"})
    assert call.headers["top-sign-list"] == "X-Top-Trace"
    verify_spi_call(SpiRequest(call.raw_query, call.body, call.headers), DEMO_SECRET, clock=at(0))
    tampered = {**call.headers, "x-top-trace": "a b/2"}
    with pytest.raises(InvalidSignature):
        verify_spi_call(SpiRequest(call.raw_query, call.body, tampered), DEMO_SECRET, clock=at(0))
    missing = {name: value for name, value in call.headers.items() if name != "x-top-trace"}
    with pytest.raises(InvalidSignature):
        verify_spi_call(SpiRequest(call.raw_query, call.body, missing), DEMO_SECRET, clock=at(0))


@pytest.mark.parametrize("body_format", ["json", "form"])
def test_gbk_calls_verify_in_their_charset(body_format):
    call = sign_demo_call(
        sample_order(logistics=True), timestamp=SENT, charset="gbk", body_format=body_format
    )
    verified = verify_spi_call(
        SpiRequest(call.raw_query, call.body, call.headers),
        DEMO_SECRET,
        policy=SpiPolicy(app_key=DEMO_APP_KEY, charset="gbk"),
        clock=at(0),
    )
    text = verified.body_text if body_format == "json" else verified.params["logistics_info"]
    assert "张三" in text


def test_bytes_invalid_in_the_charset_are_refused():
    call = sign_demo_call(sample_order(), timestamp=SENT)
    with pytest.raises(InvalidParameter, match="not valid utf-8"):
        verify_spi_call(
            SpiRequest(call.raw_query, b"\xff\xfe{}", call.headers), DEMO_SECRET, clock=at(0)
        )
    with pytest.raises(InvalidParameter, match="not valid utf-8"):
        verify_spi_call(
            SpiRequest(call.raw_query + "&x=%FF", call.body, call.headers), DEMO_SECRET, clock=at(0)
        )


def _mutate(text: str, data: st.DataObject) -> str:
    """One character of ``text`` replaced by a different one."""
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.characters(codec="utf-8", exclude_characters=[text[position]]))
    return text[:position] + replacement + text[position + 1 :]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), body_format=st.sampled_from(["json", "form"]))
def test_any_one_character_change_fails_verification(data, body_format):
    call = sign_demo_call(
        sample_order(logistics=True),
        timestamp=SENT,
        body_format=body_format,
        signed_headers={"X-Top-Request-Id": "0a1b2c3d"},
    )
    verified = verify_spi_call(
        SpiRequest(call.raw_query, call.body, call.headers), DEMO_SECRET, clock=at(0)
    )
    target = data.draw(st.sampled_from(["query", "body", "header"]))
    if target == "query":
        name = data.draw(
            st.sampled_from(sorted(set(verified.params) - {"sign"} - _form_keys(call)))
        )
        value = verified.params[name]
        mutated = dict(_query_pairs(call))
        mutated[name] = _mutate(value, data)
        request = SpiRequest(urlencode(mutated), call.body, call.headers)
    elif target == "body":
        text = call.body.decode("utf-8")
        if body_format == "form":
            fields = dict(_form_pairs(text))
            name = data.draw(st.sampled_from(sorted(fields)))
            fields[name] = _mutate(fields[name], data)
            text = urlencode(fields)
        else:
            text = _mutate(text, data)
        request = SpiRequest(call.raw_query, text.encode("utf-8"), call.headers)
    else:
        headers = {**call.headers, "x-top-request-id": _mutate("0a1b2c3d", data)}
        request = SpiRequest(call.raw_query, call.body, headers)
    with pytest.raises((InvalidSignature, InvalidParameter)):
        verify_spi_call(request, DEMO_SECRET, clock=at(0))


def _query_pairs(call):
    return parse_qsl(call.raw_query, keep_blank_values=True)


def _form_pairs(text):
    return parse_qsl(text, keep_blank_values=True)


def _form_keys(call) -> set[str]:
    if not call.headers["content-type"].startswith("application/x-www-form-urlencoded"):
        return set()
    return {key for key, _ in _form_pairs(call.body.decode("utf-8"))}


# --- whose calls, in which reading ----------------------------------------------------------


def _verify(call, **changes):
    request = SpiRequest(
        changes.get("raw_query", call.raw_query),
        changes.get("body", call.body),
        changes.get("headers", call.headers),
    )
    return verify_spi_call(request, DEMO_SECRET, policy=changes.get("policy", POLICY), clock=at(0))


def test_a_call_for_another_app_is_refused():
    with pytest.raises(InvalidAppKey, match="not ours"):
        _verify(sign_demo_call(sample_order(), timestamp=SENT, app_key="87654321"))
    with pytest.raises(InvalidAppKey, match="missing"):
        _verify(sign_demo_call(sample_order(), timestamp=SENT, app_key=""))


def test_a_method_not_served_is_refused_after_the_sign():
    call = sign_demo_call(sample_order(), timestamp=SENT, method="alibaba.other")
    with pytest.raises(InvalidMethod):
        _verify(call)


def test_only_known_parameters_are_taken():
    call = sign_demo_call({**sample_order(), "comment": "x"}, timestamp=SENT, body_format="form")
    with pytest.raises(InvalidParameter, match="unknown parameter 'comment'"):
        _verify(call)
    # every system parameter is known
    system = {"session": "s", "partner_id": "p", "simplify": "true", "target_app_key": "1"}
    _verify(sign_demo_call({**sample_order(), **system}, timestamp=SENT, body_format="form"))


def test_a_form_field_repeating_a_query_parameter_is_refused():
    call = sign_demo_call(sample_order(), timestamp=SENT, body_format="form")
    body = call.body + b"&format=xml"
    with pytest.raises(InvalidParameter, match="'format' is given more than once"):
        _verify(call, body=body)


@pytest.mark.parametrize(
    "name",
    ["logistics_info", "Logistics_Info", "format", "SIGN", "x_trace", "1trace", "a.b", "a" * 65],
)
def test_a_signed_header_must_be_a_plain_header_and_no_parameter(name):
    call = sign_demo_call(sample_order(), timestamp=SENT, signed_headers={name: "v"})
    with pytest.raises(InvalidParameter, match="top-sign-list"):
        _verify(call)


@pytest.mark.parametrize(
    ("query_changes", "headers"),
    [
        ({"format": "jsonlogistics_info"}, {}),
        ({}, {"X-Trace": "own_sign"}),
        ({}, {"logistics": "_info"}),
        ({"format": ""}, {"jsonlogistics": "_info"}),
    ],
    ids=["in a query value", "in a header value", "across a header", "across value and header"],
)
def test_a_business_name_outside_its_own_key_is_refused(query_changes, headers):
    # Signed as sent: the sign is right, the reading is ambiguous.
    query = {
        "method": CARDORDER_MAKE,
        "app_key": DEMO_APP_KEY,
        "timestamp": "2026-11-22 20:30:00",
        "format": "json",
        **query_changes,
    }
    body = b"{}"
    sign = sign_spi({**headers, **query}, "{}", DEMO_SECRET)
    sent = {"content-type": "application/json", **{k.lower(): v for k, v in headers.items()}}
    if headers:
        sent["top-sign-list"] = ",".join(headers)
    request = SpiRequest(urlencode({**query, "sign": sign}), body, sent)
    with pytest.raises(InvalidParameter, match="appears inside another parameter"):
        verify_spi_call(request, DEMO_SECRET, clock=at(0))


@pytest.mark.parametrize("label", ["gbk", "GB18030", "latin-1"])
def test_a_charset_other_than_the_integrations_is_refused(label):
    call = sign_demo_call(sample_order(), timestamp=SENT)
    headers = {**call.headers, "content-type": f"application/json;charset={label}"}
    with pytest.raises(InvalidParameter, match="not this integration's"):
        _verify(call, headers=headers)
    # the integration's charset in another spelling is the same one; none means it too
    for same in ("application/json;charset=UTF8", "application/json"):
        _verify(call, headers={**call.headers, "content-type": same})


@pytest.mark.parametrize("where", ["query", "header"])
def test_a_raw_character_the_charset_cannot_encode_is_refused(where):
    gbk = SpiPolicy(app_key=DEMO_APP_KEY, charset="gbk")
    call = sign_demo_call(
        sample_order(), timestamp=SENT, charset="gbk", signed_headers={"X-Trace": "t"}
    )
    if where == "query":
        changes = {"raw_query": call.raw_query + "&session=\U0001f600"}
    else:
        changes = {"headers": {**call.headers, "x-trace": "\U0001f600"}}
    with pytest.raises(InvalidParameter, match="gbk cannot encode") as refused:
        _verify(call, policy=gbk, **changes)
    assert "position" not in str(refused.value)


def test_signing_text_a_charset_cannot_encode_says_nothing_of_positions():
    with pytest.raises(ValueError, match="cannot encode") as raised:
        sign_spi({"a": "\U0001f600"}, None, "secret", "gbk")
    assert "position" not in str(raised.value)
    assert raised.value.__cause__ is None
