"""The e-voucher table's item layout: notices and products, one table, one stream.

- ``NOTICE#<order_id>`` / ``<record id>``: one verified notice (``Notice.record_id``: ``SEND``
  once per Taobao order, ``<METHOD>#<digest>`` for the others), written once with a
  conditional put, then updated with its ``outcome`` and the ``delivery_id`` it concerns.
  Its INSERT on the stream is what the fulfilment function acts on.
- ``PRODUCT#<merchant_code>`` / ``PRODUCT``: a product's mapping to a stock of cards.
"""

from __future__ import annotations

from typing import Any

from cardmaker.eticket.notice import Notice, NoticeOutcome
from cardmaker.eticket.products import Product
from cardmaker.store.items import from_item, to_item
from cardmaker.store.keys import item_key

NOTICE_ENTITY = "NOTICE"
PRODUCT_ENTITY = "PRODUCT"
NOTICE_PREFIX = "NOTICE#"
PRODUCT_PREFIX = "PRODUCT#"


def notice_key(order_id: str, record_id: str) -> dict[str, Any]:
    return item_key(f"{NOTICE_PREFIX}{order_id}", record_id)


def notice_partition(order_id: str) -> str:
    """The partition that holds every notice of one Taobao order."""
    return f"{NOTICE_PREFIX}{order_id}"


def notice_item(notice: Notice) -> dict[str, Any]:
    return {
        **notice_key(notice.order_id, notice.record_id),
        **to_item(
            {
                "entity": NOTICE_ENTITY,
                "order_id": notice.order_id,
                "method": notice.method,
                "parameters": dict(notice.parameters),
                "digest": notice.digest,
                "received_at": notice.received_at,
                "outcome": NoticeOutcome.RECORDED.value,
            }
        ),
    }


def notice_from_item(raw: dict[str, Any]) -> Notice:
    item = from_item(raw)
    return Notice(
        method=item["method"],
        order_id=item["order_id"],
        received_at=item["received_at"],
        parameters={str(name): str(value) for name, value in item["parameters"].items()},
        digest=item["digest"],
    )


def product_key(merchant_code: str) -> dict[str, Any]:
    return item_key(f"{PRODUCT_PREFIX}{merchant_code}", "PRODUCT")


def product_item(product: Product) -> dict[str, Any]:
    return {
        **product_key(product.merchant_code),
        **to_item({"entity": PRODUCT_ENTITY, **product.model_dump()}),
    }


def product_from_item(raw: dict[str, Any]) -> Product:
    item = from_item(raw)
    return Product.model_validate(
        {name: item[name] for name in Product.model_fields if name in item}
    )
