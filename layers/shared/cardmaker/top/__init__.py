"""The Taobao Open Platform protocol: signing, SPI verification (and the platform's side of it,
signing SPI calls), the SPI answer, the TOP client and the calls it makes, timestamps.

The public surface for protocol work; nothing here knows orders or deliveries.
"""

from cardmaker.top.api_models import (
    SPI_QUERY_PARAMETERS,
    SPI_ROUTE_DOCS,
    SPI_SIGN_LIST_HEADER,
    CardOrderProgress,
    ResultCode,
    SpiAnswerFields,
)
from cardmaker.top.calls import (
    SUCCESS_ALL,
    CardBindRequest,
    CardBindResult,
    CardOrderNoticeResult,
    IsvKa,
    IsvMa,
    KaListShape,
    MakeFinishRequest,
    MaResendRequest,
    MaSendRequest,
    MaSendResult,
    StatusSendedRequest,
)
from cardmaker.top.client import TopClient, attempts_of, retryable_top_error
from cardmaker.top.credentials import (
    Credentials,
    FixedCredentials,
    StoredCredentials,
    TopCredentials,
)
from cardmaker.top.envelopes import (
    encode_spi_answer,
    requested_format,
    response_format,
    response_key,
    unwrap_top_response,
)
from cardmaker.top.gateways import check_gateway_url, gateway_kind, serves_environment
from cardmaker.top.platform import SpiCall, sign_spi_call
from cardmaker.top.signing import (
    SIGN_METHODS,
    SIGN_PARAM,
    SignMethod,
    sign_request,
    sign_spi,
    signs_match,
    spi_string_to_sign,
)
from cardmaker.top.spi import SpiPolicy, SpiRequest, VerifiedSpiCall, verify_spi_call
from cardmaker.top.timestamps import CHINA_TZ, format_timestamp, parse_timestamp, utc_now

__all__ = [
    "CHINA_TZ",
    "SIGN_METHODS",
    "SIGN_PARAM",
    "SPI_QUERY_PARAMETERS",
    "SPI_ROUTE_DOCS",
    "SPI_SIGN_LIST_HEADER",
    "SUCCESS_ALL",
    "CardBindRequest",
    "CardBindResult",
    "CardOrderNoticeResult",
    "CardOrderProgress",
    "Credentials",
    "FixedCredentials",
    "IsvKa",
    "IsvMa",
    "KaListShape",
    "MaResendRequest",
    "MaSendRequest",
    "MaSendResult",
    "MakeFinishRequest",
    "ResultCode",
    "SignMethod",
    "SpiAnswerFields",
    "SpiCall",
    "SpiPolicy",
    "SpiRequest",
    "StatusSendedRequest",
    "StoredCredentials",
    "TopClient",
    "TopCredentials",
    "VerifiedSpiCall",
    "attempts_of",
    "check_gateway_url",
    "encode_spi_answer",
    "format_timestamp",
    "gateway_kind",
    "parse_timestamp",
    "requested_format",
    "response_format",
    "response_key",
    "retryable_top_error",
    "serves_environment",
    "sign_request",
    "sign_spi",
    "sign_spi_call",
    "signs_match",
    "spi_string_to_sign",
    "unwrap_top_response",
    "utc_now",
    "verify_spi_call",
]
