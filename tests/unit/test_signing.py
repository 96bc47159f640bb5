"""TOP signing: the published vectors, and properties that must hold for any input."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardmaker.top import SignMethod, sign_request, sign_spi, signs_match
from cardmaker.top.signing import canonical_params


def test_request_vectors(top_vectors):
    for case in top_vectors["request_signing"]:
        # Given the vector's parameters, When signed, Then both the hashed string and the sign match
        assert canonical_params(case["params"], skip_empty=True) == case["concatenated"]
        assert sign_request(case["params"], case["secret"], case["sign_method"]) == case["sign"]


def test_spi_vectors(top_vectors):
    for case in top_vectors["spi_verification"]:
        params = {**case["headers"], **case["query"], **case.get("form", {})}
        assert sign_spi(params, case.get("body"), case["secret"]) == case["sign"]


def test_outbound_sign_skips_empty_and_blank_values():
    params = {"app_key": "12345678", "method": "taobao.time.get", "v": "2.0"}
    base = sign_request(params, "helloworld", "hmac-sha256")
    assert (
        sign_request({**params, "session": "", "partner_id": "  "}, "helloworld", "hmac-sha256")
        == base
    )


def test_spi_sign_includes_empty_values():
    params = {"app_key": "12345678", "method": "m"}
    assert sign_spi({**params, "extra": ""}, None, "s") != sign_spi(params, None, "s")


def test_sign_parameter_itself_is_never_signed():
    params = {"app_key": "12345678", "method": "m"}
    assert sign_request({**params, "sign": "X"}, "s", "md5") == sign_request(params, "s", "md5")
    assert sign_spi({**params, "sign": "X"}, "{}", "s") == sign_spi(params, "{}", "s")


def test_signs_are_upper_case_hex():
    sign = sign_request({"a": "1"}, "s", "hmac")
    assert sign == sign.upper()
    assert len(sign) == 32
    assert len(sign_request({"a": "1"}, "s", "hmac-sha256")) == 64


def test_unknown_sign_method_is_refused():
    with pytest.raises(ValueError, match="unsupported sign_method"):
        sign_request({"a": "1"}, "s", "sha1")  # type: ignore[arg-type]


def test_sign_comparison_tolerates_non_ascii():
    assert signs_match("ABC", "ABC")
    assert not signs_match("ABC", "ABD")
    assert not signs_match("ABC", "ÄBC")


keys = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12
)
values = st.text(min_size=1, max_size=30).filter(str.strip)
parameter_sets = st.dictionaries(
    keys.filter(lambda key: key != "sign"), values, min_size=1, max_size=8
)


@settings(max_examples=200, deadline=None)
@given(
    params=parameter_sets, method=st.sampled_from(["md5", "hmac", "hmac-sha256"]), data=st.data()
)
def test_parameter_order_never_changes_a_sign(params, method, data):
    shuffled = dict(data.draw(st.permutations(list(params.items()))))
    assert sign_request(shuffled, "secret", method) == sign_request(params, "secret", method)
    assert sign_spi(shuffled, "body", "secret") == sign_spi(params, "body", "secret")


@pytest.mark.parametrize(("sign_method", "digest"), [("hmac", "md5"), ("hmac-sha256", "sha256")])
@pytest.mark.parametrize("secret_length", [0, 1, 16, 63, 64, 65, 128, 200])
def test_hmac_signs_are_the_standard_hmac_whatever_the_secrets_length(
    sign_method: SignMethod, digest: str, secret_length: int
):
    # The signer keys HMAC once per secret (RFC 2104's padded states, kept): the same bytes as
    # the standard library's HMAC, for secrets shorter and longer than a block alike, and for
    # several secrets in turn (a rotation), each its own.
    params = {"method": "tmall.purchase.card.bind", "v": "2.0", "b": "x" * 300}
    content = canonical_params(params, skip_empty=True).encode("utf-8")
    for variant in ("a", "b", "a"):
        secret = (variant * secret_length)[:secret_length] + "密"
        expected = hmac.digest(secret.encode("utf-8"), content, digest).hex().upper()
        assert sign_request(params, secret, sign_method) == expected
    # and for more secrets than the signer keeps keyed, each in turn, twice
    for _ in range(2):
        for number in range(20):
            secret = f"rotated-{number}-{secret_length}"
            expected = hmac.digest(secret.encode("utf-8"), content, digest).hex().upper()
            assert sign_request(params, secret, sign_method) == expected
