"""Domain errors. Each carries a stable code; handlers map them to answers in one place."""

from __future__ import annotations


class CardmakerError(Exception):
    """Base class of every error this package raises on purpose."""

    code = "SYSTEM_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SpiRefused(CardmakerError):
    """An SPI call that must be refused: the caller gets ``success: false`` and ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidSignature(SpiRefused):
    def __init__(self, message: str = "signature does not match") -> None:
        super().__init__("INVALID_SIGNATURE", message)


class InvalidTimestamp(SpiRefused):
    def __init__(self, message: str) -> None:
        super().__init__("INVALID_TIMESTAMP", message)


class InvalidParameter(SpiRefused):
    def __init__(self, message: str) -> None:
        super().__init__("INVALID_PARAMETER", message)


class InvalidMethod(SpiRefused):
    def __init__(self, method: str) -> None:
        # The method name is shown truncated: it is the caller's text, not ours.
        super().__init__("INVALID_METHOD", f"unsupported method {method[:64]!r}")


class OrderConflict(SpiRefused):
    def __init__(self, message: str) -> None:
        super().__init__("ORDER_CONFLICT", message)


class OrderNotFound(CardmakerError):
    code = "ORDER_NOT_FOUND"


class TopError(CardmakerError):
    """An ``error_response`` from the TOP gateway (we are the client)."""

    def __init__(
        self,
        code: int | None,
        msg: str,
        sub_code: str | None = None,
        sub_msg: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"TOP error {code}: {msg} ({sub_code}: {sub_msg})")
        self.code = str(code)
        self.top_code = code
        self.msg = msg
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.request_id = request_id
