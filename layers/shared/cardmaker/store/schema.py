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
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from cardmaker.generation.plan import Chunk
from cardmaker.orders.models import CardProductInfo, LogisticsInfo
from cardmaker.orders.order import Generation, Order, OrderKey, OrderStatus, StoredOrder

PK = "pk"
SK = "sk"
HEADER_SK = "ORDER"
CHUNK_SK = "CHUNK"
PAGE_SK_PREFIX = "TEMPLATES#"
# Headers stay small (every status change rewrites and streams the whole item); pages stay well
# inside DynamoDB's 400 KB item limit. Sizes are measured on the compact JSON of the templates.
INLINE_TEMPLATES_BYTES = 64 * 1024
PAGE_BYTES = 256 * 1024


class _Deserializer(TypeDeserializer):
    """Numbers come back as ``int`` when whole (every number we store is a count or an id)."""

    def _deserialize_n(self, value: str) -> int | Decimal:
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else number


_serializer = TypeSerializer()
_deserializer = _Deserializer()


def order_pk(key: OrderKey) -> str:
    return f"ORDER#{key.own_sign}#{key.card_order_id}"


def header_key(key: OrderKey) -> dict[str, Any]:
    return {PK: {"S": order_pk(key)}, SK: {"S": HEADER_SK}}


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> a low-level DynamoDB item (None members dropped)."""
    return {
        name: _serializer.serialize(value) for name, value in values.items() if value is not None
    }


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def header_item(order: Order) -> dict[str, Any]:
    now = _iso(order.received_at)
    templates = _template_dicts(order)
    inline = _json_size(templates) <= INLINE_TEMPLATES_BYTES
    return to_item(
        {
            PK: order_pk(order.key),
            SK: HEADER_SK,
            "entity": "ORDER",
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
        key=OrderKey(header["own_sign"], int(header["card_order_id"])),
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
    )


def chunk_key(chunk: Chunk) -> dict[str, Any]:
    """Every chunk has a partition of its own: stream records of one partition key are
    delivered in order, distinct keys let the chunks of an order run side by side."""
    return {
        PK: {"S": f"CHUNK#{chunk.order.own_sign}#{chunk.order.card_order_id}#{chunk.chunk_id}"},
        SK: {"S": CHUNK_SK},
    }


def chunk_item(chunk: Chunk) -> dict[str, Any]:
    return {
        **chunk_key(chunk),
        **to_item(
            {
                "entity": "CHUNK",
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


def chunk_from_item(item: dict[str, Any]) -> Chunk:
    """A chunk from its plain (deserialized) item or stream image."""
    return Chunk(
        order=OrderKey(item["own_sign"], item["card_order_id"]),
        template_index=item["template_index"],
        template_no=item["template_no"],
        par_value=item["par_value"],
        number=item["number"],
        first_position=item["first_position"],
        count=item["count"],
        first_sequence=item["first_sequence"],
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


def generation_task(event_name: str, new_image: dict[str, Any]) -> OrderKey | Chunk | None:
    """What a stream record of the orders table asks of the generator: plan a newly received
    order, generate a newly written chunk, or nothing (the event source filters the same way;
    this is the check in code)."""
    item = from_item(new_image)
    entity = item.get("entity")
    if entity == "ORDER" and item.get("status") == OrderStatus.RECEIVED.value:
        return OrderKey(item["own_sign"], item["card_order_id"])
    if entity == "CHUNK" and event_name == "INSERT":
        return chunk_from_item(item)
    return None
