"""The orders side of the HTTP API: what ``GET /orders/{card_order_id}`` answers (built by
``OrderView.of``, documented by the same model), what ``GET /orders`` and the lifecycle steps
(``POST /orders/{id}/made``, ``.../shipment``) answer, and the ``cardorder.make`` bodies the
SPI route takes, for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from cardmaker.api_models import ProblemAnswer, left_out
from cardmaker.orders.listing import ListedOrders, OrderSummary
from cardmaker.orders.models import (
    MAX_ORDER_ID,
    CardOrderMakeRequest,
    CardProductInfo,
    LogisticsInfo,
    OwnSign,
    ReceiptNotice,
    StatusQueryRequest,
)
from cardmaker.orders.order import Notice, NoticeState, OrderStatus, PlatformNotice, StoredOrder
from cardmaker.orders.templates import CardTemplate, CardTemplateAnnouncement

EXAMPLE_ORDER_ID = 16002  # the seed's example order, as in the README and cardmaker_cli.samples
EXAMPLE_OWN_SIGN: OwnSign = "daily"


class TemplateProgress(BaseModel):
    """One template of the order: what was asked for and how many cards exist so far."""

    model_config = ConfigDict(extra="forbid")

    template_no: str
    card_name: str
    par_value: str = Field(description="Face value in fen (分), digits only")
    picture_url: str | None = Field(description="As the platform sent it, or null")
    requested: int = Field(ge=1, description="Cards the platform ordered of this template")
    generated: int = Field(ge=0, description="Cards generated so far")
    registered: bool = Field(
        description="The platform announced this template (card.template.new) in the order's"
        " environment; false: never announced, the order was accepted all the same"
    )
    is_test: bool | SkipJsonSchema[None] = left_out(
        "A registered template's is_test (its current version): orders of test templates "
        "only need no physical cards; left out when not registered"
    )

    @classmethod
    def of(
        cls, template: CardProductInfo, generated: int, registered: CardTemplate | None
    ) -> TemplateProgress:
        return cls(
            template_no=template.template_no,
            card_name=template.card_name,
            par_value=template.par_value,
            picture_url=template.picture_url,
            requested=template.count,
            generated=generated,
            registered=registered is not None,
            is_test=registered.is_test if registered is not None else None,
        )


class NotificationView(BaseModel):
    """Where one platform notification stands (``make.finish`` on MADE, ``status.sended`` on
    SHIPPED)."""

    model_config = ConfigDict(extra="forbid")

    state: NoticeState = Field(description="PENDING, SENT, or FAILED (see code)")
    attempts: int = Field(ge=0, description="Calls made so far")
    updated_at: str | None = Field(description="ISO 8601, UTC")
    sent_at: str | SkipJsonSchema[None] = left_out("When the platform accepted it")
    code: str | SkipJsonSchema[None] = left_out("The platform's code of the last failure")
    message: str | SkipJsonSchema[None] = left_out("What the last failure means")

    @classmethod
    def of(cls, notice: Notice) -> NotificationView:
        return cls(
            state=notice.state,
            attempts=notice.attempts,
            updated_at=_iso(notice.updated_at),
            sent_at=_iso(notice.sent_at),
            code=notice.code,
            message=notice.message,
        )


class LifecycleView(BaseModel):
    """When the order moved on after its cards were generated."""

    model_config = ConfigDict(extra="forbid")

    generated_at: str | None = Field(description="ISO 8601, UTC; null until GENERATED")
    made_at: str | None = Field(description="ISO 8601, UTC; null until MADE")
    made_by: str | None = Field(
        description="Who marked it MADE (an operator's identity, or test-template)"
    )
    shipped_at: str | None = Field(description="ISO 8601, UTC; null until SHIPPED")
    confirmed_at: str | None = Field(description="ISO 8601, UTC; null until CONFIRMED")


class ShipmentView(BaseModel):
    """The waybill the cards were shipped with."""

    model_config = ConfigDict(extra="forbid")

    logistics_company: str
    logistics_order_id: str


class OrderView(BaseModel):
    """An order, its status and its generation progress. Never a card or a secret."""

    model_config = ConfigDict(extra="forbid")

    card_order_id: Annotated[int, Field(gt=0, le=MAX_ORDER_ID)]
    own_sign: OwnSign
    status: OrderStatus = Field(
        description="RECEIVED, GENERATING once planned, GENERATED (or FAILED), then MADE,"
        " SHIPPED and CONFIRMED"
    )
    making_card_no: str = Field(description="Our number for the order: CM-<own_sign>-<id>")
    received_at: str = Field(description="ISO 8601, UTC")
    updated_at: str = Field(description="ISO 8601, UTC")
    card_count: int = Field(ge=1, description="Cards ordered, all templates")
    cards_generated: int = Field(ge=0, description="Cards generated so far, all templates")
    chunks_total: int | None = Field(description="Chunks planned; null until generation starts")
    chunks_done: int = Field(ge=0)
    templates: list[TemplateProgress]
    logistics_info: LogisticsInfo | SkipJsonSchema[None] = left_out(
        "Where physical cards go, when the platform said"
    )
    failure_reason: str | SkipJsonSchema[None] = left_out("Why generation FAILED")
    lifecycle: LifecycleView
    shipment: ShipmentView | SkipJsonSchema[None] = left_out("The waybill, once SHIPPED")
    notifications: dict[PlatformNotice, NotificationView] = Field(
        description="The platform notifications the order owes or sent, by name"
        " (make_finish, status_sended)"
    )

    @classmethod
    def of(cls, stored: StoredOrder, registered: Mapping[str, CardTemplate]) -> OrderView:
        """What ``GET /orders/{card_order_id}`` answers for ``stored``, ``registered`` being
        the templates of its environment the platform announced, by number."""
        order, generation, lifecycle = stored.order, stored.generation, stored.lifecycle
        return cls(
            card_order_id=order.key.card_order_id,
            own_sign=order.key.own_sign,
            status=order.status,
            making_card_no=order.making_card_no,
            received_at=order.received_at.isoformat(),
            updated_at=stored.updated_at.isoformat(),
            card_count=order.card_count,
            cards_generated=sum(stored.cards_generated.values()),
            chunks_total=generation.chunks_total if generation else None,
            chunks_done=generation.chunks_done if generation else 0,
            templates=[
                TemplateProgress.of(
                    template,
                    stored.cards_generated.get(template.template_no, 0),
                    registered.get(template.template_no),
                )
                for template in order.templates
            ],
            logistics_info=order.logistics_info,
            failure_reason=(generation.failure_reason or None) if generation else None,
            lifecycle=LifecycleView(
                generated_at=_iso(lifecycle.generated_at),
                made_at=_iso(lifecycle.made_at),
                made_by=lifecycle.made_by,
                shipped_at=_iso(lifecycle.shipped_at),
                confirmed_at=_iso(lifecycle.confirmed_at),
            ),
            shipment=ShipmentView(
                logistics_company=lifecycle.waybill.logistics_company,
                logistics_order_id=lifecycle.waybill.logistics_order_id,
            )
            if lifecycle.waybill
            else None,
            notifications={
                name: NotificationView.of(notice) for name, notice in lifecycle.notices.items()
            },
        )


class OrderListItem(BaseModel):
    """One order of ``GET /orders``: what the environment index keeps of it."""

    model_config = ConfigDict(extra="forbid")

    card_order_id: Annotated[int, Field(gt=0, le=MAX_ORDER_ID)]
    own_sign: OwnSign
    making_card_no: str = Field(description="Our number for the order: CM-<own_sign>-<id>")
    status: OrderStatus
    card_count: int = Field(ge=1, description="Cards ordered, all templates")
    received_at: str = Field(description="ISO 8601, UTC")
    updated_at: str = Field(description="ISO 8601, UTC: when the order last changed")

    @classmethod
    def of(cls, summary: OrderSummary) -> OrderListItem:
        return cls(
            card_order_id=summary.key.card_order_id,
            own_sign=summary.key.own_sign,
            making_card_no=summary.making_card_no,
            status=summary.status,
            card_count=summary.card_count,
            received_at=summary.received_at.isoformat(),
            updated_at=summary.updated_at.isoformat(),
        )


class OrderList(BaseModel):
    """A page of an environment's orders, newest first (by ``received_at``)."""

    model_config = ConfigDict(extra="forbid")

    orders: list[OrderListItem]
    next: str | SkipJsonSchema[None] = left_out(
        "Pass it back as `next` (with the same own_sign and status) for the following page;"
        " left out on the last page. A page filtered by status may hold fewer orders than"
        " `limit`, even none, and still have a next"
    )

    @classmethod
    def of(cls, listed: ListedOrders) -> OrderList:
        return cls(orders=[OrderListItem.of(s) for s in listed.orders], next=listed.next_token)


class OrderStepAccepted(BaseModel):
    """202 of ``POST /orders/{id}/made`` and ``.../shipment``: where the order now stands
    (the same answer when the step was already taken)."""

    model_config = ConfigDict(extra="forbid")

    status: OrderStatus = Field(description="MADE, or SHIPPED")


class OrderStateConflictAnswer(ProblemAnswer):
    """409: the order cannot take the step from where it is, or took it with another waybill;
    nothing was changed. ``status`` is where the order is."""

    status: OrderStatus = Field(description="The order's current status")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# pydantic writes the bounds of a number behind a BeforeValidator (WholeNumber) under their
# Python names; JSON Schema spells them differently.
_BOUND_KEYWORDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum"}


def spi_body_schemas() -> dict[str, dict[str, Any]]:
    """The documented SPI request bodies, by media type: one alternative per method (which
    one the call is, its ``method`` query parameter says), and for ``cardorder.status.query``
    each shape its struct is taken in (``cardmaker.orders.platform_calls``).

    Self-contained (no references): the resolver documents this route without declaring its
    body, since the SPI verifies and parses the raw request itself.
    """
    make_json, make_form = _cardorder_make_bodies()
    template_json = _json_schema(CardTemplateAnnouncement)
    receipt_json = _json_schema(ReceiptNotice)
    query_struct = _json_schema(StatusQueryRequest)
    json_bodies = [
        _titled("cardorder.make", make_json),
        _titled("card.template.new", template_json),
        _titled("cardorder.receipt", receipt_json),
        _titled(
            "cardorder.status.query",
            {
                "type": "object",
                "properties": {"request": query_struct},
                "required": ["request"],
            },
        ),
        _titled("cardorder.status.query, the struct's fields as the body", query_struct),
    ]
    form_bodies = [
        _titled("cardorder.make", make_form),
        _titled(
            "card.template.new",
            _form_of(
                template_json,
                is_test={"type": "string", "enum": ["true", "false"]},
                par_value=template_json["properties"]["par_value"],
            ),
        ),
        _titled("cardorder.receipt", _form_of(receipt_json)),
        _titled(
            "cardorder.status.query",
            {
                "type": "object",
                "description": "Form fields; the struct as JSON text",
                "properties": {"request": _json_text(query_struct)},
                "required": ["request"],
            },
        ),
    ]
    xml_body = {
        "type": "string",
        "description": "Verified (signed as raw text) but refused: every method reads its "
        "parameters from a form or JSON body only (INVALID_PARAMETER)",
    }
    return {
        "application/json": {"schema": {"anyOf": json_bodies}},
        "application/x-www-form-urlencoded": {"schema": {"anyOf": form_bodies}},
        "application/xml": {"schema": xml_body},
    }


def _cardorder_make_bodies() -> tuple[dict[str, Any], dict[str, Any]]:
    """``cardorder.make``'s JSON body and its form body (structs as JSON text)."""
    json_body = _json_schema(CardOrderMakeRequest)
    templates = json_body["properties"]["card_product_infos"]
    logistics = json_body["properties"]["logistics_info"]
    form_body = {
        "type": "object",
        "description": "Form fields; structs as JSON text",
        "properties": {
            "card_order_id": _ORDER_ID_TEXT,
            "own_sign": json_body["properties"]["own_sign"],
            "card_product_infos": _json_text(templates),
            "logistics_info": _json_text(logistics),
        },
        "required": ["card_order_id", "own_sign", "card_product_infos"],
    }
    return json_body, form_body


_ORDER_ID_TEXT: dict[str, Any] = {"type": "string", "pattern": "^[0-9]{1,19}$"}


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    definitions = schema.pop("$defs", {})
    plain: dict[str, Any] = _plain(schema, definitions)
    return plain


def _titled(title: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "title": title}


def _form_of(json_body: dict[str, Any], **fields: dict[str, Any]) -> dict[str, Any]:
    """A flat JSON body's fields as form fields: text, numbers as digits."""
    properties = {
        name: _ORDER_ID_TEXT if name == "card_order_id" else fields.get(name, schema)
        for name, schema in json_body["properties"].items()
    }
    return {
        "type": "object",
        "description": "Form fields",
        "properties": properties,
        "required": json_body.get("required", []),
    }


def _bound_keyword(key: str, value: Any) -> str:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return _BOUND_KEYWORDS.get(key, key) if is_number else key


def _json_text(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "string", "contentMediaType": "application/json", "contentSchema": schema}


def _plain(value: Any, definitions: dict[str, Any]) -> Any:
    """``value`` with its ``$ref``s replaced by their definitions and bounds spelled as JSON
    Schema spells them."""
    if isinstance(value, dict):
        if "$ref" in value:
            return _plain(definitions[value["$ref"].rsplit("/", 1)[-1]], definitions)
        return {_bound_keyword(key, item): _plain(item, definitions) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, definitions) for item in value]
    return value
