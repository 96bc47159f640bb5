"""The notice endpoint's answer to an error: the one place where errors become notice codes.

It lives in the function's folder, like the SPI's ``refusals``: only this edge speaks in the
e-voucher platform's codes (platform-apis.md §4.4).
"""

from __future__ import annotations

from cardmaker import NoticeCode, NoticeMalformed, NoticeRefused, NoticeUnverified

# A refusal is answered with HTTP 200: all three public handlers write their code in the body
# of an ordinary answer (N3 answers 501 that way), and what the platform does with another
# HTTP status is not stated; nothing was written, and retrying the same notice cannot help.
# The first class the error is an instance of gives its code.
NOTICE_CODES: dict[type[NoticeRefused], NoticeCode] = {
    NoticeUnverified: 501,
    NoticeMalformed: 400,
}

RECORDED: NoticeCode = 200
# Anything else: HTTP 500 with this code, which the platform retries (recording is
# idempotent, so a retry is safe).
FAILED: NoticeCode = 500


def refusal_code(error: BaseException) -> NoticeCode | None:
    """The code of a notice refused with ``error``; None if ``error`` is not a refusal."""
    for kind, code in NOTICE_CODES.items():
        if isinstance(error, kind):
            return code
    return None
