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
    "ORDER_NOT_FOUND",
    "INVALID_ORDER_STATUS",
    "SYSTEM_ERROR",
]

# Where a card order is, in the platform's words (``cardorder.status.query``'s ``status``,
# platform-apis.md §2.1): the enum has these four values and no other.
CardOrderProgress = Literal[
    "REQUEST_NOT_EXIST", "REQUEST_RECEIVED", "WAITING_DELIVERY", "DELIVERED"
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
        "cardorder.make: our number for the order (CM-<own_sign>-<card_order_id>), on SUCCESS "
        "only; the same on every replay"
    )
    status: CardOrderProgress | SkipJsonSchema[None] = left_out(
        "cardorder.status.query: where the order is (REQUEST_NOT_EXIST for an order we never "
        "received, still with success true)"
    )
    logistics_company: str | SkipJsonSchema[None] = left_out(
        "cardorder.status.query: the carrier's name (物流商名称), with DELIVERED only"
    )
    logistics_order_id: str | SkipJsonSchema[None] = left_out(
        "cardorder.status.query: the waybill number (物流单号), with DELIVERED only"
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
    def progress(
        cls,
        result_message: str,
        status: CardOrderProgress,
        logistics_company: str | None = None,
        logistics_order_id: str | None = None,
    ) -> SpiAnswerFields:
        """``cardorder.status.query``'s answer: the order's status (and, once shipped, its
        waybill)."""
        return cls(
            success=True,
            result_code="SUCCESS",
            result_message=result_message,
            status=status,
            logistics_company=logistics_company,
            logistics_order_id=logistics_order_id,
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
    "summary": "The platform's SPI calls (TOP SPI alibaba.fundplatform.cardorder.make, "
    "cardorder.status.query, card.template.new, cardorder.receipt)",
    "description": "Public, protected by the TOP signature instead of IAM. The raw request is "
    "verified (MD5 sign, timestamp window, app key) and its business parameters validated; "
    "the `method` query parameter says which call it is. cardorder.make stores the order "
    "once; cardorder.status.query answers where an order is (`status`, and the waybill once "
    "shipped); card.template.new registers a card template (its same content again is a "
    "replay, other content a new version); cardorder.receipt records that the buyer confirmed "
    "receipt (ORDER_NOT_FOUND, INVALID_ORDER_STATUS before the cards are made). A replay gets "
    "the first answer again. Every outcome is an HTTP 200 TOP answer under the root "
    "`response`, a refusal included (success false, result_code saying why, nothing written), "
    "except an internal failure: HTTP 500 SYSTEM_ERROR, so that the platform retries. The "
    "answer is XML when the query says format=xml.",
    "tags": ["platform"],
    "responses": {
        200: {
            "description": "Served, a replay, or refused (see result_code)",
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
        "The SPI method: alibaba.fundplatform.cardorder.make, "
        "alibaba.fundplatform.cardorder.status.query, alibaba.fundplatform.card.template.new "
        "or alibaba.fundplatform.cardorder.receipt (anything else: INVALID_METHOD)",
        {
            "type": "string",
            "examples": [
                "alibaba.fundplatform.cardorder.make",
                "alibaba.fundplatform.cardorder.status.query",
                "alibaba.fundplatform.card.template.new",
                "alibaba.fundplatform.cardorder.receipt",
            ],
        },
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
