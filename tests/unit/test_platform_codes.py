"""What a delivery records of the platform's codes: a plain code as it came, anything else
as ``unreadable-code``."""

from __future__ import annotations

import pytest

from cardmaker.cards.card_secrets import ChunkSecrets
from cardmaker.deliveries.platform_codes import UNREADABLE_CODE, recorded_code, refused_call

SECRET = ChunkSecrets(bytes(range(32))).secrets(0, 1)[0].decode()  # shaped like a card secret


@pytest.mark.parametrize(
    "code",
    ["15", "isv.invalid-parameter", "isv.invalid-parameter:token", "isv.ORDER_NOT_EXIST", None],
)
def test_plain_codes_are_recorded_as_they_came(code):
    assert recorded_code(code, ["31231231231"]) == code


@pytest.mark.parametrize(
    "code",
    [
        f"isv.invalid-parameter:{SECRET}",  # quotes a card secret
        "isv.invalid-parameter:31231231231",  # quotes the call's token
        "isv.invalid parameter",  # not a code: free text
        "isv.参数错误",
        "isv." + "x" * 61,  # too long
        "",
    ],
)
def test_anything_else_is_recorded_as_unreadable(code):
    assert recorded_code(code, ["31231231231"]) == UNREADABLE_CODE


def test_a_short_token_does_not_make_codes_unreadable_by_chance():
    assert recorded_code("isv.invalid-parameter:token", ["t"]) == "isv.invalid-parameter:token"


def test_a_refused_call_is_worded_by_its_numeric_code_only():
    assert refused_call(15) == "the platform refused the call (TOP error 15)"
    assert refused_call(None) == "the platform refused the call"
