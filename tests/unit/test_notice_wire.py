"""The notice adapter (cardmaker.eticket.wire): the sign over GBK bytes, the window, the
charsets, the bounds and what each method needs, one rule at a time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from cardmaker.errors import NoticeMalformed, NoticeUnverified
from cardmaker.eticket.wire import (
    NoticePolicy,
    check_required,
    check_timestamp,
    decode_notice_body,
    notice_body,
    notice_charset,
    notice_string_to_sign,
    read_notice,
    sign_notice,
)

SECRET = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)  # 20:30:00 in China
N2_LIKE = {
    "method": "send",
    "order_id": "1753340805138544",
    "timestamp": "2026-11-22 20:30:00",
    "token": "31231231231",
    "num": "1",
    "item_title": "天猫超市购物卡",
    "sku_properties": "",
}


def test_the_sign_is_upper_md5_of_secret_and_sorted_pairs_over_gbk_without_a_trailing_secret():
    # Written out by hand, as N2 and N3 build it: the empty sku_properties is left out
    text = (
        SECRET + "item_title天猫超市购物卡" + "methodsend" + "num1" + "order_id1753340805138544"
        "timestamp2026-11-22 20:30:00" + "token31231231231"
    )
    expected = hashlib.md5(text.encode("gbk"), usedforsecurity=False).hexdigest().upper()
    assert notice_string_to_sign(N2_LIKE, SECRET) == text
    assert sign_notice(N2_LIKE, SECRET) == expected
    assert sign_notice({**N2_LIKE, "sign": "X"}, SECRET) == expected  # sign is not signed
    # not TOP's: no trailing secret, not UTF-8
    assert (
        sign_notice(N2_LIKE, SECRET)
        != hashlib.md5((text + SECRET).encode("gbk"), usedforsecurity=False).hexdigest().upper()
    )
    assert (
        sign_notice(N2_LIKE, SECRET)
        != hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
    )


def test_a_character_gbk_cannot_hold_cannot_be_signed():
    with pytest.raises(ValueError, match="GBK"):
        sign_notice({**N2_LIKE, "item_title": "🎁"}, SECRET)


POLICY = NoticePolicy()


def _read(parameters, *, now=NOW, secret=SECRET, charset="gbk"):
    body, content_type = notice_body(parameters, secret, charset)
    return read_notice(body, content_type, lambda force: SECRET, POLICY, clock=lambda: now)


def test_a_signed_notice_reads_into_a_notice_without_sign_or_mobile():
    notice = _read({**N2_LIKE, "mobile": "15512345678"})
    assert (notice.method, notice.order_id, notice.token, notice.num) == (
        "send",
        "1753340805138544",
        "31231231231",
        1,
    )
    assert "sign" not in notice.parameters
    assert "mobile" not in notice.parameters
    assert notice.record_id == "SEND"
    assert notice.received_at == "2026-11-22T12:30:00.000+00:00"


def test_a_mismatch_reads_the_secret_once_more_past_its_cache():
    reads: list[bool] = []

    def secret(force: bool) -> str:
        reads.append(force)
        return SECRET if force else "old-secret"

    body, content_type = notice_body(N2_LIKE, SECRET)
    read_notice(body, content_type, secret, NoticePolicy(), clock=lambda: NOW)
    assert reads == [False, True]
    reads.clear()
    body, content_type = notice_body(N2_LIKE, "another")
    with pytest.raises(NoticeUnverified):
        read_notice(body, content_type, secret, NoticePolicy(), clock=lambda: NOW)
    assert reads == [False, True]


@pytest.mark.parametrize(
    ("seconds", "taken"), [(600, True), (-600, True), (601, False), (-601, False)]
)
def test_the_window_holds_either_way(seconds, taken):
    now = NOW + timedelta(seconds=seconds)
    if taken:
        check_timestamp(N2_LIKE, NoticePolicy(window_seconds=600), now)
    else:
        with pytest.raises(NoticeUnverified):
            check_timestamp(N2_LIKE, NoticePolicy(window_seconds=600), now)


@pytest.mark.parametrize("timestamp", ["", "2026-11-22T20:30:00", "2026-11-22 20:30", "yesterday"])
def test_a_timestamp_not_in_tops_form_is_unverified(timestamp):
    with pytest.raises(NoticeUnverified):
        check_timestamp({**N2_LIKE, "timestamp": timestamp}, NoticePolicy(), NOW)


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("", "gbk"),
        ("application/x-www-form-urlencoded", "gbk"),
        ("application/x-www-form-urlencoded; charset=UTF-8", "utf-8"),
        ("application/x-www-form-urlencoded;charset=utf8", "utf-8"),
        ("application/x-www-form-urlencoded; charset=GB18030", "gb18030"),
    ],
)
def test_the_charset_is_the_content_types_or_gbk(content_type, charset):
    assert notice_charset(content_type) == charset


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/plain; charset=gbk",
        "application/x-www-form-urlencoded; charset=latin-1",
    ],
)
def test_another_media_type_or_charset_is_malformed(content_type):
    with pytest.raises(NoticeMalformed):
        notice_charset(content_type)


def test_the_same_text_reads_alike_in_gbk_and_utf8():
    for charset in ("gbk", "utf-8"):
        body, content_type = notice_body(N2_LIKE, SECRET, charset)
        parameters = decode_notice_body(body, content_type, NoticePolicy())
        assert parameters["item_title"] == "天猫超市购物卡"


def test_utf8_bytes_under_a_gbk_label_do_not_read_as_the_same_text():
    body, _ = notice_body(N2_LIKE, SECRET, "utf-8")
    try:
        parameters = decode_notice_body(body, "application/x-www-form-urlencoded", NoticePolicy())
    except NoticeMalformed:
        return
    assert parameters["item_title"] != "天猫超市购物卡"


@pytest.mark.parametrize(
    "change",
    [
        {"method": ""},
        {"order_id": ""},
        {"order_id": "1 2"},
        {"order_id": "x" * 65},
        {"token": " "},
        {"token": "t" * 129},
        {"num": "0"},
        {"num": "-1"},
        {"num": "1234567"},
        {"num": "１"},
    ],
)
def test_a_send_without_what_it_needs_is_malformed(change):
    with pytest.raises(NoticeMalformed):
        check_required({**N2_LIKE, **change})


def test_other_methods_need_only_method_and_order_id():
    check_required({"method": "cancel", "order_id": "1"})
    check_required({"method": "anything-new", "order_id": "1"})
