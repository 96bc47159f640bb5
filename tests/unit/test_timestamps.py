"""Timestamps are GMT+8 whatever the host's time zone."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cardmaker.top import CHINA_TZ, format_timestamp, parse_timestamp

MOMENT = datetime(2026, 11, 22, 12, 30, 0, tzinfo=UTC)


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Shanghai"])
def host_zone(request, monkeypatch):
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_formatting_ignores_the_host_zone(host_zone):
    assert time.tzname[0]
    assert format_timestamp(MOMENT) == "2026-11-22 20:30:00"
    # the same instant expressed in another zone formats the same
    assert (
        format_timestamp(MOMENT.astimezone(timezone(timedelta(hours=-5)))) == "2026-11-22 20:30:00"
    )


def test_parsing_ignores_the_host_zone(host_zone):
    parsed = parse_timestamp("2026-11-22 20:30:00")
    assert parsed == MOMENT
    assert parsed.utcoffset() == CHINA_TZ.utcoffset(None)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        format_timestamp(datetime(2026, 11, 22, 12, 30))


@pytest.mark.parametrize(
    "text",
    ["2026-11-22T20:30:00", "2026-11-22 20:30", "2026-13-22 20:30:00", "", "2026-11-22 20:30:00Z"],
)
def test_malformed_timestamps_are_refused(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)
