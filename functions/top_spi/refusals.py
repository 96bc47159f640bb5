"""The SPI's answer to an error: the one place where errors become TOP ``result_code``s.

It lives in the SPI function's folder, not in the layer: only this edge speaks in result codes
(the operator API maps the same errors to HTTP statuses in its own ``problems`` module), and a
module deployed with the one function that uses it cannot be reached for by another.
"""

from __future__ import annotations

from cardmaker import (
    CardmakerError,
    InvalidAppKey,
    InvalidMethod,
    InvalidParameter,
    InvalidSignature,
    InvalidTimestamp,
    OrderConflict,
    OrderNotFound,
    OrderStateConflict,
)
from cardmaker.top import ResultCode, SpiAnswerFields

# A refusal answers HTTP 200 with success false: nothing was written, and retrying the same
# call cannot help. The first class the error is an instance of gives its code.
RESULT_CODES: dict[type[CardmakerError], ResultCode] = {
    InvalidSignature: "INVALID_SIGNATURE",
    InvalidTimestamp: "INVALID_TIMESTAMP",
    InvalidParameter: "INVALID_PARAMETER",
    InvalidAppKey: "INVALID_APP_KEY",
    InvalidMethod: "INVALID_METHOD",
    OrderConflict: "ORDER_CONFLICT",
    # cardorder.receipt of an order we never received, or whose cards are not made yet.
    OrderNotFound: "ORDER_NOT_FOUND",
    OrderStateConflict: "INVALID_ORDER_STATUS",
}

# Anything else is a failure: HTTP 500, which the platform retries (the stored order is
# idempotent, so a retry is safe). Its message never says what went wrong inside.
FAILURE_MESSAGE = "internal error, please retry"


def refusal(error: BaseException) -> SpiAnswerFields | None:
    """The answer to a call refused with ``error``; None if ``error`` is not a refusal."""
    for kind, code in RESULT_CODES.items():
        if isinstance(error, kind):
            return SpiAnswerFields.refused(code, error.message)
    return None


def failure() -> SpiAnswerFields:
    """The answer to a call that failed inside (``SYSTEM_ERROR``)."""
    return SpiAnswerFields.refused("SYSTEM_ERROR", FAILURE_MESSAGE)
