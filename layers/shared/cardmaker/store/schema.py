"""The orders table's item layout: the one place that knows keys and attribute names.

One item collection per order (partition ``ORDER#<own_sign>#<card_order_id>``), read back with
a single Query:

* the header (sort key ``ORDER``): identity, status, content hash, and the card templates
  inline when they are small (up to ``INLINE_TEMPLATES_BYTES``: nearly every real order);
* otherwise template pages (``TEMPLATES#<content_hash>#<page>``), written before the header.
  They are named by content, so a conflicting order with the same id can never overwrite
  the templates of the stored one, and a retry rewrites identical pages.

The header is the commit point: an order exists once its header does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cardmaker.generation.plan import Chunk
from cardmaker.orders.models import CardProductInfo, LogisticsInfo, Waybill
from cardmaker.orders.order import (
    Generation,
    Lifecycle,
    Notice,
    NoticeState,
    Order,
    OrderKey,
    OrderStatus,
    PlatformNotice,
    StoredOrder,
)
from cardmaker.store.items import to_item
from cardmaker.store.keys import PK, SK, item_key

ORDER_ENTITY = "ORDER"
CHUNK_ENTITY = "CHUNK"
HEADER_SK = "ORDER"
CHUNK_SK = "CHUNK"
PAGE_SK_PREFIX = "TEMPLATES#"
# Headers stay small (every status change rewrites and streams the whole item); pages stay well
# inside DynamoDB's 400 KB item limit. Sizes are measured on the compact JSON of the templates.
INLINE_TEMPLATES_BYTES = 64 * 1024
PAGE_BYTES = 256 * 1024


def order_pk(key: OrderKey) -> str:
    return f"ORDER#{key.own_sign}#{key.card_order_id}"


def header_key(key: OrderKey) -> dict[str, Any]:
    return item_key(order_pk(key), HEADER_SK)


def header_item(order: Order) -> dict[str, Any]:
    now = _iso(order.received_at)
    templates = _template_dicts(order)
    inline = _json_size(templates) <= INLINE_TEMPLATES_BYTES
    return to_item(
        {
            PK: order_pk(order.key),
            SK: HEADER_SK,
            "entity": ORDER_ENTITY,
            "card_order_id": order.key.card_order_id,
            "own_sign": order.key.own_sign,
            "status": order.status.value,
            "content_hash": order.content_hash,
            "making_card_no": order.making_card_no,
            "template_count": len(order.templates),
            "card_count": order.card_count,
            "templates": templates if inline else None,
            "template_pages": None if inline else len(_pages(templates)),
            "logistics_info": order.logistics_info.model_dump() if order.logistics_info else None,
            "received_at": now,
            "updated_at": now,
        }
    )


def template_page_items(order: Order) -> list[dict[str, Any]]:
    """The page items of an order whose templates do not fit in its header (else none)."""
    templates = _template_dicts(order)
    if _json_size(templates) <= INLINE_TEMPLATES_BYTES:
        return []
    return [
        to_item(
            {
                PK: order_pk(order.key),
                SK: page_sk(order.content_hash, number),
                "entity": "TEMPLATES",
                "templates": page,
            }
        )
        for number, page in enumerate(_pages(templates))
    ]


def page_sk(content_hash: str, number: int) -> str:
    return f"{PAGE_SK_PREFIX}{content_hash}#{number:04d}"


def order_from_items(header: dict[str, Any], pages: list[dict[str, Any]]) -> StoredOrder:
    """Rebuild an order from its plain (deserialized) header and template pages."""
    if "templates" in header:
        templates = header["templates"]
    else:
        prefix = page_sk(header["content_hash"], 0)[:-4]
        own = sorted((page for page in pages if page[SK].startswith(prefix)), key=lambda p: p[SK])
        if len(own) != header["template_pages"]:
            raise ValueError("order is missing template pages")
        templates = [template for page in own for template in page["templates"]]
    logistics = header.get("logistics_info")
    order = Order(
        key=order_key_from_item(header),
        status=OrderStatus(header["status"]),
        content_hash=header["content_hash"],
        templates=tuple(CardProductInfo.model_validate(template) for template in templates),
        logistics_info=LogisticsInfo.model_validate(logistics) if logistics else None,
        received_at=datetime.fromisoformat(header["received_at"]),
    )
    generation = None
    if "first_sequence" in header:
        generation = Generation(
            first_sequence=header["first_sequence"],
            chunk_size=header["chunk_size"],
            chunks_total=header["chunks_total"],
            chunks_done=header.get("chunks_done", 0),
            failure_reason=header.get("failure_reason"),
        )
    return StoredOrder(
        order=order,
        updated_at=datetime.fromisoformat(header["updated_at"]),
        cards_generated=dict(header.get("generated", {})),
        generation=generation,
        lifecycle=lifecycle_from_item(header),
    )


# The header's lifecycle attributes (written by ``store.lifecycle``): times as ISO 8601,
# the waybill as two strings, each notification a map under ``notifications``.
NOTIFICATIONS = "notifications"


def lifecycle_from_item(header: dict[str, Any]) -> Lifecycle:
    """The lifecycle of a plain header (or stream image)."""
    company, waybill_no = header.get("logistics_company"), header.get("logistics_order_id")
    notices = {
        PlatformNotice(name): notice_from_map(value)
        for name, value in (header.get(NOTIFICATIONS) or {}).items()
        if name in PlatformNotice._value2member_map_
    }
    return Lifecycle(
        generated_at=_moment(header.get("generated_at")),
        made_at=_moment(header.get("made_at")),
        made_by=header.get("made_by"),
        shipped_at=_moment(header.get("shipped_at")),
        confirmed_at=_moment(header.get("confirmed_at")),
        waybill=Waybill(company, waybill_no) if company and waybill_no else None,
        notices=notices,
    )


def notice_map(notice: Notice) -> dict[str, Any]:
    """A notification as the header keeps it (None members left out)."""
    return {
        name: value
        for name, value in {
            "state": notice.state.value,
            "attempts": notice.attempts,
            "updated_at": _iso(notice.updated_at) if notice.updated_at else None,
            "sent_at": _iso(notice.sent_at) if notice.sent_at else None,
            "code": notice.code,
            "message": notice.message,
        }.items()
        if value is not None
    }


def notice_from_map(value: dict[str, Any]) -> Notice:
    return Notice(
        state=NoticeState(value["state"]),
        attempts=int(value.get("attempts", 0)),
        updated_at=_moment(value.get("updated_at")),
        sent_at=_moment(value.get("sent_at")),
        code=value.get("code"),
        message=value.get("message"),
    )


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def chunk_key(chunk: Chunk) -> dict[str, Any]:
    """Every chunk has a partition of its own: stream records of one partition key are
    delivered in order, distinct keys let the chunks of an order run side by side."""
    order = chunk.order
    return item_key(f"CHUNK#{order.own_sign}#{order.card_order_id}#{chunk.chunk_id}", CHUNK_SK)


def chunk_item(chunk: Chunk) -> dict[str, Any]:
    return {
        **chunk_key(chunk),
        **to_item(
            {
                "entity": CHUNK_ENTITY,
                "card_order_id": chunk.order.card_order_id,
                "own_sign": chunk.order.own_sign,
                "template_index": chunk.template_index,
                "template_no": chunk.template_no,
                "par_value": chunk.par_value,
                "number": chunk.number,
                "first_position": chunk.first_position,
                "count": chunk.count,
                "first_sequence": chunk.first_sequence,
            }
        ),
    }


def order_key_from_item(item: dict[str, Any]) -> OrderKey:
    """The key of the order a plain item (or stream image) of the orders table belongs to."""
    return OrderKey(item["own_sign"], int(item["card_order_id"]))


def chunk_from_item(item: dict[str, Any]) -> Chunk:
    """A chunk from its plain item or stream image (numbers as ``int`` or ``Decimal``)."""
    return Chunk(
        order=order_key_from_item(item),
        template_index=int(item["template_index"]),
        template_no=item["template_no"],
        par_value=item["par_value"],
        number=int(item["number"]),
        first_position=int(item["first_position"]),
        count=int(item["count"]),
        first_sequence=int(item["first_sequence"]),
    )


def _template_dicts(order: Order) -> list[dict[str, Any]]:
    return [template.model_dump(exclude_none=True) for template in order.templates]


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _pages(templates: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for template in templates:
        template_size = _json_size(template)
        if pages[-1] and size + template_size > PAGE_BYTES:
            pages.append([])
            size = 0
        pages[-1].append(template)
        size += template_size
    return pages


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def now_iso() -> str:
    return _iso(datetime.now(UTC))
