"""TOP timestamps: ``yyyy-MM-dd HH:mm:ss`` in China time (GMT+8), whatever the host's zone.

Lambda hosts run in UTC; formatting the host's local time is a classic bug of the public SDKs.
China has had no daylight saving time since 1991, so a fixed offset is exact and needs no tz
database on the Lambda image.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), name="GMT+8")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def utc_now() -> datetime:
    """The default clock: an aware datetime in UTC."""
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as a TOP timestamp in GMT+8."""
    if moment.tzinfo is None:
        raise ValueError("a TOP timestamp needs an aware datetime")
    return moment.astimezone(CHINA_TZ).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Parse a TOP timestamp (GMT+8) into an aware datetime. Raises ``ValueError``."""
    if len(text) != 19:
        raise ValueError("a TOP timestamp has the form yyyy-MM-dd HH:mm:ss")
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=CHINA_TZ)
