"""The notice endpoint's answer (``{"code": ...}``) and the operators' view of an order's
notices (``GET /eticket/notices/{order_id}``), each defined once by its model: the handlers
build their answers from these models and the OpenAPI document is generated from them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from cardmaker.api_models import left_out
from cardmaker.eticket.notice import NoticeOutcome, NoticeRecord
from cardmaker.orders.models import Identifier

# A Taobao order id as a notice names it (a path parameter of GET /eticket/notices/...).
NoticeOrderId = Identifier

# 200: recorded (or already was); 400: not a notice we can record (NoticeMalformed); 501:
# not verified, a bad sign or a stale timestamp (the code N3 answers, platform-apis.md §4.4);
# 500: failed inside, retry.
NoticeCode = Literal[200, 400, 500, 501]


class NoticeAnswer(BaseModel):
    """What the notice endpoint answers, always JSON (platform-apis.md §4.4)."""

    model_config = ConfigDict(extra="forbid")

    code: NoticeCode = Field(
        description="200 recorded (a replay or a repeated send too); 400 malformed, 501 not "
        "verified (both: nothing written); 500 internal failure (HTTP 500: retry)"
    )


NOTICE_FIELDS = (
    "method",
    "timestamp",
    "sign",
    "order_id",
    "token",
    "num",
    "sub_outer_iid",
    "outer_iid",
    "cancel_num",
    "left_num",
    "valid_start",
    "valid_ends",
    "sub_method",
    "data",
)

NOTICE_ROUTE_DOCS: dict[str, Any] = {
    "summary": "The e-voucher platform's send-code notices (发码通知: send, resend, cancel, "
    "modified, order_modify)",
    "description": "Public, protected by the notice signature instead of IAM (upper-hex MD5 "
    "of the notice secret and the sorted non-empty key+value pairs, over GBK bytes, no "
    "trailing secret) and a timestamp window (ETICKET_NOTICE_WINDOW_SECONDS). The body is a "
    "form, in the charset its Content-Type names (GBK when none; UTF-8 accepted). A verified "
    'notice is recorded with one conditional write and answered {"code": 200} at once; what '
    "it asks for is done asynchronously. A replay, or a second send for the same order_id, "
    "changes nothing and is answered 200 too. Every answer is JSON with HTTP 200 except an "
    'internal failure (HTTP 500 {"code": 500}, so that the platform retries): {"code": '
    '501} for a bad sign or a stale timestamp, {"code": 400} for a notice that cannot be '
    "read or recorded (too large, not valid in its charset, order_id missing, a send "
    "without token or num); nothing is written for either.",
    "tags": ["eticket"],
    "responses": {
        200: {
            "description": "Recorded, already recorded, or refused (see code)",
            "content": {"application/json": {"model": NoticeAnswer}},
        },
        500: {
            "description": "Internal failure: retry",
            "content": {"application/json": {"model": NoticeAnswer}},
        },
    },
    "openapi_extensions": {
        "requestBody": {
            "required": True,
            "description": "The notice's parameters (platform-apis.md §4.2), a form in GBK "
            "unless the Content-Type names UTF-8",
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {name: {"type": "string"} for name in NOTICE_FIELDS},
                        "required": ["method", "timestamp", "sign", "order_id"],
                    }
                }
            },
        }
    },
}


class NoticeSummary(BaseModel):
    """One notice received for a Taobao order: never its token, sign or buyer's details."""

    model_config = ConfigDict(extra="forbid")

    method: str = Field(description="send, resend, cancel, modified, order_modify, or other")
    received_at: str = Field(description="When it was recorded (ISO 8601, UTC)")
    outcome: NoticeOutcome = Field(description="What became of it")
    delivery_id: str | SkipJsonSchema[None] = left_out(
        "The delivery it made or concerns (GET /deliveries/{delivery_id})"
    )

    @classmethod
    def of(cls, record: NoticeRecord) -> NoticeSummary:
        return cls(
            method=record.notice.method,
            received_at=record.notice.received_at,
            outcome=record.outcome,
            delivery_id=record.delivery_id,
        )


class NoticesView(BaseModel):
    """``GET /eticket/notices/{order_id}``: what was received for a Taobao order."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(description="The Taobao order (the notices' order_id)")
    notices: list[NoticeSummary] = Field(description="In the order they were received")
    delivery_id: str | SkipJsonSchema[None] = left_out(
        "The delivery the order's send made, once it exists"
    )

    @classmethod
    def of(cls, order_id: str, records: list[NoticeRecord]) -> NoticesView:
        deliveries = [record.delivery_id for record in records if record.delivery_id]
        return cls(
            order_id=order_id,
            notices=[NoticeSummary.of(record) for record in records],
            delivery_id=deliveries[0] if deliveries else None,
        )
