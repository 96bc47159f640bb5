"""The Taobao Open Platform protocol: signing, SPI verification (and the platform's side of
it, signing SPI calls), timestamps, envelopes."""

from cardmaker.top.envelopes import (
    encode_spi_answer,
    requested_format,
    response_format,
    unwrap_top_response,
)
from cardmaker.top.platform import SpiCall, sign_spi_call
from cardmaker.top.signing import SIGN_METHODS, SignMethod, sign_request, sign_spi, signs_match
from cardmaker.top.spi import SpiPolicy, SpiRequest, VerifiedSpiCall, verify_spi_call
from cardmaker.top.timestamps import CHINA_TZ, format_timestamp, parse_timestamp, utc_now

__all__ = [
    "CHINA_TZ",
    "SIGN_METHODS",
    "SignMethod",
    "SpiCall",
    "SpiPolicy",
    "SpiRequest",
    "VerifiedSpiCall",
    "encode_spi_answer",
    "format_timestamp",
    "parse_timestamp",
    "requested_format",
    "response_format",
    "sign_request",
    "sign_spi",
    "sign_spi_call",
    "signs_match",
    "unwrap_top_response",
    "utc_now",
    "verify_spi_call",
]
