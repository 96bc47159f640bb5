"""The SPI answer (``{"response": {...}}``) and the SPI call's system parameters.

``SpiAnswerFields`` is the answer's one definition: the SPI function builds its answers as
``SpiAnswerFields`` (``envelopes.encode_spi_answer`` encodes them as JSON or XML) and the
OpenAPI document is generated from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from cardmaker.api_models import left_out

ResultCode = Literal[
    "SUCCESS",
    "INVALID_SIGNATURE",
    "INVALID_TIMESTAMP",
    "INVALID_PARAMETER",
    "INVALID_APP_KEY",
    "INVALID_METHOD",
    "ORDER_CONFLICT",
    "SYSTEM_ERROR",
]


class SpiAnswerFields(BaseModel):
    """The seed's ``response`` struct. In XML it is the root element ``<response>``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"xml": {"name": "response"}})

    success: bool = Field(description="true only for SUCCESS")
    result_code: ResultCode = Field(
        description="SUCCESS; a refusal (nothing written); SYSTEM_ERROR with HTTP 500"
    )
    result_message: str = Field(
        description="Human-readable; for INVALID_PARAMETER the failing fields and why"
    )
    making_card_no: str | SkipJsonSchema[None] = left_out(
        "Our number for the order (CM-<own_sign>-<card_order_id>), on SUCCESS only; the same "
        "on every replay"
    )

    @classmethod
    def accepted(cls, result_message: str, making_card_no: str | None = None) -> SpiAnswerFields:
        return cls(
            success=True,
            result_code="SUCCESS",
            result_message=result_message,
            making_card_no=making_card_no,
        )

    @classmethod
    def refused(cls, result_code: ResultCode, result_message: str) -> SpiAnswerFields:
        """A call not carried out (nothing written), or failed (``SYSTEM_ERROR``)."""
        return cls(success=False, result_code=result_code, result_message=result_message)


class SpiEnvelope(BaseModel):
    """An SPI answer in JSON."""

    model_config = ConfigDict(extra="forbid")

    response: SpiAnswerFields


SPI_ANSWER_CONTENT: dict[str, Any] = {
    "application/json": {"model": SpiEnvelope},
    "application/xml": {"model": SpiAnswerFields},
}

# The SPI route's description in the OpenAPI document (its request body is the methods').
SPI_ROUTE_DOCS: dict[str, Any] = {
    "summary": ("Receive an order from the platform (TOP SPI alibaba.fundplatform.cardorder.make)"),
    "description": "Public, protected by the TOP signature instead of IAM. The raw request is "
    "verified (MD5 sign, timestamp window) and the order validated and stored once: a replay "
    "gets the first answer again. Every outcome is an HTTP 200 TOP answer, a refusal included "
    "(success false, result_code saying why, nothing written), except an internal failure: "
    "HTTP 500 SYSTEM_ERROR, so that the platform retries. The answer is XML when the query "
    "says format=xml.",
    "tags": ["platform"],
    "responses": {
        200: {
            "description": "Stored, a replay, or refused (see result_code)",
            "content": SPI_ANSWER_CONTENT,
        },
        500: {
            "description": "Internal failure (SYSTEM_ERROR): retry",
            "content": SPI_ANSWER_CONTENT,
        },
    },
}


def _query(
    name: str, description: str, schema: dict[str, Any], *, required: bool
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


# The platform's system parameters, always in the query string (a business parameter may be
# there too). They are documented rather than declared to the resolver: a missing or bad one
# is an SPI refusal (HTTP 200, success false), never the resolver's 422.
SPI_QUERY_PARAMETERS: list[dict[str, Any]] = [
    _query(
        "method",
        "The SPI method; only alibaba.fundplatform.cardorder.make is served "
        "(anything else: INVALID_METHOD)",
        {"type": "string", "examples": ["alibaba.fundplatform.cardorder.make"]},
        required=True,
    ),
    _query(
        "app_key",
        "Our TOP app key (TOP_APP_KEY); missing or another: INVALID_APP_KEY",
        {"type": "string"},
        required=True,
    ),
    _query(
        "timestamp",
        "yyyy-MM-dd HH:mm:ss in GMT+8; accepted from 300 s back to 180 s ahead "
        "(else INVALID_TIMESTAMP)",
        {"type": "string", "examples": ["2026-11-22 20:30:00"]},
        required=True,
    ),
    _query("v", "Protocol version", {"type": "string", "examples": ["2.0"]}, required=False),
    _query(
        "format",
        "The answer's format: xml for XML, anything else (or nothing) for JSON",
        {"type": "string", "examples": ["json", "xml"]},
        required=False,
    ),
    _query(
        "sign_method",
        "How the call is signed",
        {"type": "string", "examples": ["md5"]},
        required=True,
    ),
    _query(
        "sign",
        "Upper-case hex MD5 of secret + the sorted signed parameters + body + secret "
        "(missing or wrong: INVALID_SIGNATURE)",
        {"type": "string"},
        required=True,
    ),
]

SPI_SIGN_LIST_HEADER: dict[str, Any] = {
    "name": "top-sign-list",
    "in": "header",
    "required": False,
    "description": "Comma-separated names of request headers that are signed too: plain "
    "header names (letters, digits, '-'), never a parameter's name (else INVALID_PARAMETER)",
    "schema": {"type": "string"},
}
