"""The ``alibaba.fundplatform.cardorder.make`` request, exactly per the seed document.

Struct parameters arrive as JSON strings in form bodies and as nested JSON in JSON bodies;
both are accepted. Every string and the total card count are bounded so that a hostile
request cannot make us allocate unbounded work (docs/spi-reference.md, "Limits on an
order", lists them).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

OwnSign = Literal["daily", "pre", "online"]

MAX_TEMPLATES_PER_ORDER = 999  # the seed's list limit
MAX_CARDS_PER_TEMPLATE = 1_000_000
MAX_CARDS_PER_ORDER = 2_000_000
MAX_ORDER_ID = 2**63 - 1  # the platform's Java Long


def _whole_number(value: Any) -> Any:
    """Accept an int or a string of digits (form bodies carry numbers as text); never a bool,
    a float or a signed/blank string, which pydantic's lax mode would otherwise coerce."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 19):
            raise ValueError("must be a whole number")
        return int(value)
    if not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def json_struct(value: Any) -> Any:
    """Struct parameters come as JSON text in form bodies."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            # RecursionError: nested too deep (a signed hostile call); a refusal, not a crash
            # the platform would retry forever.
            raise ValueError("must be JSON") from None
    return value


# Characters that would reach operators' terminals and files raw: C0 and C1 controls (DEL
# included) and the bidi controls that reorder what is shown (an address that reads other
# than it is). Refused in every text field of an order or a delivery.
_CONTROL_CHARACTERS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def plain_text(value: str) -> str:
    """Refuse control and bidi control characters (the one rule of every text field)."""
    found = _CONTROL_CHARACTERS.search(value)
    if found is not None:
        raise ValueError(f"must not contain control character U+{ord(found.group()):04X}")
    return value


# Every text field of a request says ``PlainText`` (the one rule, ``plain_text``).
PlainText = AfterValidator(plain_text)

_HTTP_URL = TypeAdapter(HttpUrl)


def _http_url(value: str) -> str:
    # Validate as a URL but keep the caller's exact text: pydantic would normalise it, and the
    # stored order must be what the platform sent.
    _HTTP_URL.validate_python(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
# Ids the platform or an operator names things by (template_no, outer_id, out_biz_id): they
# end up in storage keys and TOP calls, so they are plain ASCII.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.-]+$"
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN),
    PlainText,
]
TemplateNo = Identifier


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, strip_whitespace=False),
    AfterValidator(_not_blank),
    PlainText,
]


ParValue = Annotated[str, StringConstraints(min_length=1, max_length=12, pattern=r"^[1-9][0-9]*$")]
PictureUrl = Annotated[
    str,
    StringConstraints(max_length=1024),
    PlainText,
    AfterValidator(_http_url),
]


class CardProductInfo(BaseModel):
    """One card template of the order (卡模板信息)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    template_no: TemplateNo
    card_name: Text
    count: Annotated[WholeNumber, Field(ge=1, le=MAX_CARDS_PER_TEMPLATE)]
    par_value: ParValue = Field(
        description="Face value in fen (分): a positive whole number, digits only"
    )
    picture_url: PictureUrl | None = None


class LogisticsInfo(BaseModel):
    """Where physical cards go (物流信息); all four fields are required when present."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    receiver_name: Annotated[
        str,
        StringConstraints(min_length=1, max_length=64),
        AfterValidator(_not_blank),
        PlainText,
    ]
    receiver_number: Annotated[
        str,
        StringConstraints(min_length=1, max_length=32),
        AfterValidator(_not_blank),
        PlainText,
    ]
    receiver_address: Annotated[
        str,
        StringConstraints(min_length=1, max_length=256),
        AfterValidator(_not_blank),
        PlainText,
    ]
    receiver_zip_code: Annotated[
        str,
        StringConstraints(min_length=1, max_length=16),
        AfterValidator(_not_blank),
        PlainText,
    ]


class CardOrderMakeRequest(BaseModel):
    """The business parameters of ``alibaba.fundplatform.cardorder.make``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    card_order_id: Annotated[WholeNumber, Field(ge=1, le=MAX_ORDER_ID)]
    own_sign: OwnSign
    card_product_infos: Annotated[
        list[CardProductInfo],
        BeforeValidator(json_struct),
        Field(min_length=1, max_length=MAX_TEMPLATES_PER_ORDER),
    ]
    logistics_info: Annotated[LogisticsInfo | None, BeforeValidator(json_struct)] = None

    @field_validator("card_product_infos")
    @classmethod
    def _templates_are_distinct(cls, infos: list[CardProductInfo]) -> list[CardProductInfo]:
        seen: set[str] = set()
        for info in infos:
            if info.template_no in seen:
                raise ValueError(f"template_no {info.template_no} appears more than once")
            seen.add(info.template_no)
        return infos

    @model_validator(mode="after")
    def _bounded_total(self) -> CardOrderMakeRequest:
        total = self.card_count
        if total > MAX_CARDS_PER_ORDER:
            raise ValueError(f"the order asks for {total} cards; at most {MAX_CARDS_PER_ORDER}")
        return self

    @property
    def card_count(self) -> int:
        return sum(info.count for info in self.card_product_infos)


class CardOrderReference(BaseModel):
    """An order the platform names by its id and environment, bounded as in
    ``cardorder.make``: the struct ``request`` of ``cardorder.status.query`` and the
    parameters of ``cardorder.receipt`` (platform-apis.md §2.1, §2.3)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    card_order_id: Annotated[WholeNumber, Field(ge=1, le=MAX_ORDER_ID)] = Field(
        description="The platform's sub card-order id (子制卡单ID), as in cardorder.make"
    )
    own_sign: OwnSign


class StatusQueryRequest(CardOrderReference):
    """``cardorder.status.query``'s struct ``request``: which order the platform asks about."""


class ReceiptNotice(CardOrderReference):
    """``cardorder.receipt``: the buyer confirmed receipt of this order's cards."""


@dataclass(frozen=True)
class Waybill:
    """How the physical cards travel: the carrier's name and its waybill number."""

    logistics_company: str
    logistics_order_id: str


# A waybill number as carriers print them: letters, digits and dashes (SF1234567890).
WAYBILL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"


class ShipmentRequest(BaseModel):
    """``POST /orders/{id}/shipment``: the carrier's name and the waybill number, as
    ``cardorders.status.sended`` carries them to the platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    logistics_company: Annotated[
        str,
        StringConstraints(min_length=1, max_length=64),
        AfterValidator(_not_blank),
        PlainText,
    ] = Field(description="The carrier's name (物流商名称), e.g. 顺丰速运", examples=["顺丰速运"])
    logistics_order_id: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=WAYBILL_PATTERN)
    ] = Field(description="The waybill number (物流单号)", examples=["SF1234567890"])

    @property
    def waybill(self) -> Waybill:
        return Waybill(self.logistics_company, self.logistics_order_id)


def fingerprint(model: BaseModel) -> str:
    """A fingerprint of a request's content, independent of encoding and key order: a replay
    (same content) and a conflict or a new version (other content) are told apart by it."""
    canonical = json.dumps(
        model.model_dump(mode="json", exclude_none=True),
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
