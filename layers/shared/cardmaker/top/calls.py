"""The TOP calls the card maker makes, typed: ``taobao.eticket.merchant.ma.send`` and
``tmall.purchase.card.bind`` (field names, types and limits from the seed documents), and the
fund platform's lifecycle notices ``alibaba.fundplatform.cardorders.status.make.finish`` and
``.status.sended`` (platform-apis.md §2.4, §2.5).

Requests build the business parameters ``TopClient.call`` sends; results read the business part
of the answer in both the wrapped and the ``simplify=true`` style. Card secrets (``ka_mi``,
codes) are hidden from reprs and validation errors never echo their input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

MAX_MA_LIST = 200  # the seed's list limit for isv_ma_list
SUCCESS_ALL = "isv.success-all"

KaListShape = Literal["array", "object"]


class _Struct(BaseModel):
    # hide_input_in_errors: a refused request must not put card secrets into error messages.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NonBlank = Annotated[str, AfterValidator(_not_blank)]


def to_json(value: Any) -> str:
    """Encode a struct parameter the way TOP reads it: compact, non-ASCII unescaped."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _flag(value: bool) -> str:
    return "true" if value else "false"


class IsvKa(_Struct):
    """A card number and its secret (``certificate_type`` 1)."""

    ka_no: NonBlank
    ka_mi: NonBlank = Field(repr=False)
    num: int = Field(default=1, ge=1)


class IsvMa(_Struct):
    """A redeemable code (``certificate_type`` 0)."""

    code: NonBlank = Field(repr=False)
    num: int = Field(default=1, ge=1)
    qr_image: str | None = None


class MaSendRequest(_Struct):
    """``taobao.eticket.merchant.ma.send``: hand codes or card number + secret to an order."""

    METHOD: ClassVar[str] = "taobao.eticket.merchant.ma.send"
    NEEDS_SESSION: ClassVar[bool] = True

    outer_id: NonBlank
    token: NonBlank = Field(repr=False)
    biz_type: int = 3001
    certificate_type: Literal[0, 1] = 0
    isv_ma_list: list[IsvMa] | None = Field(default=None, max_length=MAX_MA_LIST)
    isv_ka_list: list[IsvKa] | None = None
    group_redeem: bool | None = None

    @model_validator(mode="after")
    def _list_matches_certificate_type(self) -> MaSendRequest:
        if self.certificate_type == 1:
            if not self.isv_ka_list or self.isv_ma_list:
                raise ValueError("certificate_type 1 needs isv_ka_list and no isv_ma_list")
        elif not self.isv_ma_list or self.isv_ka_list:
            raise ValueError("certificate_type 0 needs isv_ma_list and no isv_ka_list")
        return self

    def to_params(self, ka_list_shape: KaListShape = "array") -> dict[str, str]:
        """The business parameters, struct lists as JSON strings.

        ``ka_list_shape`` picks how ``isv_ka_list`` travels: the seed calls it a list but types
        it as one ``IsvKa`` object, and which one the gateway takes is not confirmed.
        """
        params = {
            "outer_id": self.outer_id,
            "token": self.token,
            "biz_type": str(self.biz_type),
            "certificate_type": str(self.certificate_type),
        }
        if self.isv_ma_list:
            params["isv_ma_list"] = to_json(_dump_all(self.isv_ma_list))
        if self.isv_ka_list:
            params["isv_ka_list"] = _encode_ka_list(self.isv_ka_list, ka_list_shape)
        if self.group_redeem is not None:
            params["group_redeem"] = _flag(self.group_redeem)
        return params


class MaResendRequest(_Struct):
    """``taobao.eticket.merchant.ma.resend``: the same codes again to an order (platform-apis.md
    §3.2). Codes only: it has no ``certificate_type`` and no ``isv_ka_list``, so a card number
    + secret goes out again through ``ma.send`` instead."""

    METHOD: ClassVar[str] = "taobao.eticket.merchant.ma.resend"
    NEEDS_SESSION: ClassVar[bool] = True

    outer_id: NonBlank
    token: NonBlank = Field(repr=False)
    biz_type: int = 3001
    isv_ma_list: list[IsvMa] = Field(min_length=1, max_length=MAX_MA_LIST)

    def to_params(self) -> dict[str, str]:
        """The business parameters, the code list as a JSON string."""
        return {
            "outer_id": self.outer_id,
            "token": self.token,
            "biz_type": str(self.biz_type),
            "isv_ma_list": to_json(_dump_all(self.isv_ma_list)),
        }


def _dump_all(items: Iterable[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in items]


def _encode_ka_list(cards: list[IsvKa], shape: KaListShape) -> str:
    """The one place that knows the two candidate shapes of ``isv_ka_list``."""
    if shape == "array":
        return to_json(_dump_all(cards))
    if shape == "object":
        if len(cards) != 1:
            raise ValueError(f"isv_ka_list as an object carries one card, not {len(cards)}")
        return to_json(cards[0].model_dump(exclude_none=True))
    raise ValueError(f"unknown isv_ka_list shape {shape!r}")


class CardBindRequest(_Struct):
    """``tmall.purchase.card.bind``: bind card numbers to one Taobao user."""

    METHOD: ClassVar[str] = "tmall.purchase.card.bind"
    NEEDS_SESSION: ClassVar[bool] = False

    top_app_key: NonBlank
    out_biz_id: NonBlank
    card_no_s: list[str] = Field(min_length=1)
    card_bind_user_nick: str | None = None
    buyer_open_uid: str | None = None

    @field_validator("card_no_s")
    @classmethod
    def _joinable(cls, numbers: list[str]) -> list[str]:
        # They travel comma-joined: a comma or blank inside one would change the list.
        for number in numbers:
            if not number.strip() or "," in number:
                raise ValueError("card numbers must be non-blank and contain no comma")
        return numbers

    @model_validator(mode="after")
    def _one_user(self) -> CardBindRequest:
        given = [
            value for value in (self.card_bind_user_nick, self.buyer_open_uid) if value is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of card_bind_user_nick and buyer_open_uid")
        _not_blank(given[0])
        return self

    def to_params(self) -> dict[str, str]:
        """The one business parameter, ``card_bind_req_dto``, as a JSON string."""
        dto = self.model_dump(exclude_none=True)
        dto["card_no_s"] = ",".join(self.card_no_s)
        return {"card_bind_req_dto": to_json(dto)}


class MakeFinishRequest(_Struct):
    """``alibaba.fundplatform.cardorders.status.make.finish``: the cards of a card order
    (子制卡单) are made."""

    METHOD: ClassVar[str] = "alibaba.fundplatform.cardorders.status.make.finish"
    # Not documented either way (platform-apis.md §7.3): sent with a session only when one is
    # configured for the notices (NOTIFY_WITH_SESSION).
    NEEDS_SESSION: ClassVar[bool] = False

    card_order_id: int = Field(ge=1)

    def to_params(self) -> dict[str, str]:
        return {"card_order_id": str(self.card_order_id)}


class StatusSendedRequest(_Struct):
    """``alibaba.fundplatform.cardorders.status.sended``: the cards left with this waybill
    (``logistics_company`` is the carrier's name, free text: no code list is documented)."""

    METHOD: ClassVar[str] = "alibaba.fundplatform.cardorders.status.sended"
    NEEDS_SESSION: ClassVar[bool] = False  # as make.finish's

    card_order_id: int = Field(ge=1)
    logistics_order_id: NonBlank
    logistics_company: NonBlank

    def to_params(self) -> dict[str, str]:
        return {
            "card_order_id": str(self.card_order_id),
            "logistics_order_id": self.logistics_order_id,
            "logistics_company": self.logistics_company,
        }


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MaSendResult(_Result):
    """The business outcome of ``ma.send``."""

    ret_code: str | None = None
    ret_msg: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.ret_code == SUCCESS_ALL

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> MaSendResult:
        """Read the business part of an answer (wrapped or simplified alike)."""
        return cls(ret_code=_text(response.get("ret_code")), ret_msg=_text(response.get("ret_msg")))


class CardBindResult(_Result):
    """The business outcome of ``card.bind``: the cards not named in either list bound."""

    success: bool
    message: str | None = None
    out_biz_id: str | None = None
    invalid_card_no_s: list[str] = Field(default_factory=list)
    bind_fail_card_no_s: list[str] = Field(default_factory=list)

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> CardBindResult:
        """Read ``result`` (wrapped or simplified alike; lists wrapped, plain or missing)."""
        result = _mapping(response.get("result"))
        data = _mapping(result.get("data"))
        return cls(
            success=_truthy(result.get("success")),
            message=_text(result.get("message")),
            out_biz_id=_text(data.get("out_biz_id")),
            invalid_card_no_s=string_list(data.get("invalid_card_no_s")),
            bind_fail_card_no_s=string_list(data.get("bind_fail_card_no_s")),
        )

    def bound(self, requested: Iterable[str]) -> list[str]:
        """The requested cards that bound: none unless ``success``, else all not refused."""
        if not self.success:
            return []
        refused = {*self.invalid_card_no_s, *self.bind_fail_card_no_s}
        return [number for number in requested if number not in refused]


class CardOrderNoticeResult(_Result):
    """The answer to ``make.finish`` and ``status.sended`` (``CardMakingInformResponse``):
    ``result.success`` alone."""

    success: bool

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> CardOrderNoticeResult:
        """Read ``result.success`` (wrapped or simplified alike: the client has taken the root
        away); a ``success`` beside ``result`` is read too, should a gateway flatten it."""
        result = response.get("result")
        flag = _mapping(result).get("success") if isinstance(result, Mapping) else None
        if flag is None:
            flag = response.get("success")
        return cls(success=_truthy(flag))


def string_list(value: Any) -> list[str]:
    """A TOP list of strings in any of its shapes: ``{"string": [...]}`` (wrapped), a plain
    list, ``{}`` or absent (empty), or, defensively, one comma-joined string."""
    if isinstance(value, Mapping):
        return string_list(value.get("string"))
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item) for item in value if item is not None and str(item).strip()]
    return []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _truthy(value: Any) -> bool:
    # A JSON boolean normally; "true" if a gateway ever sends it as text.
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
