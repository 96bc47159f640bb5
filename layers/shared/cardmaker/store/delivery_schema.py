"""The deliveries table's item layout: ``DELIVERY#<delivery_id>`` / ``DELIVERY``, with
``order_key`` (``<own_sign>#<card_order_id>``) for the ``ByOrder`` index."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from cardmaker.deliveries.delivery import (
    CardOutcome,
    CardResult,
    Delivery,
    DeliveryStatus,
    Failsend,
    FailsendState,
    Requester,
)
from cardmaker.deliveries.listing import DeliveryPosition, DeliverySummary
from cardmaker.deliveries.models import StoredDeliveryRequest
from cardmaker.orders.order import OrderKey
from cardmaker.store import aftercare_schema
from cardmaker.store.items import from_item, to_item
from cardmaker.store.keys import PK, item_key

DELIVERY_ENTITY = "DELIVERY"
PK_PREFIX = "DELIVERY#"
BY_ORDER = "ByOrder"
# An order's deliveries by ``created_at``, newest first (``GET /deliveries?order=``); it
# keeps what the list shows (``LISTED_ATTRIBUTES``, template.yaml's projection says the same).
BY_ORDER_NEWEST = "ByOrderNewest"
LISTED_ATTRIBUTES = ("delivery_id", "status", "request", "attempts", "updated_at", "requested_by")
# Sparse: notice deliveries waiting for stock, by ``stock_key`` and ``stock_deadline``.
WAITING_STOCK = "WaitingStock"
FAILSEND = "failsend"
_REQUEST = TypeAdapter(StoredDeliveryRequest)


def delivery_key(delivery_id: str) -> dict[str, Any]:
    return item_key(f"{PK_PREFIX}{delivery_id}", "DELIVERY")


def delivery_id_of(item: dict[str, Any]) -> str:
    """The delivery id of a low-level delivery item (or of its key)."""
    return str(item[PK]["S"]).removeprefix(PK_PREFIX)


def order_key(key: OrderKey) -> str:
    return f"{key.own_sign}#{key.card_order_id}"


def delivery_item(delivery: Delivery, fingerprint: str) -> dict[str, Any]:
    request = delivery.request
    source = delivery.order_key
    return {
        **delivery_key(delivery.delivery_id),
        **to_item(
            {
                "entity": DELIVERY_ENTITY,
                "delivery_id": delivery.delivery_id,
                # A notice delivery joins its order's ByOrder entries once it claims cards.
                **({} if source is None else {"order_key": order_key(source)}),
                "request": request.model_dump(exclude_none=True),
                "fingerprint": fingerprint,
                "status": delivery.status.value,
                "attempts": delivery.attempts,
                "cards": [],
                "created_at": delivery.created_at,
                "updated_at": delivery.updated_at,
                "stock_deadline": delivery.stock_deadline,
                **_requested_by(delivery.requested_by),
            }
        ),
    }


def _requested_by(requester: Requester | None) -> dict[str, Any]:
    if requester is None:
        return {}
    return {"requested_by": requester_value(requester)}


def requester_value(requester: Requester) -> dict[str, str]:
    """A principal as stored (``requested_by``, ``cancelled_by``): its non-empty parts."""
    fields = {
        "user_arn": requester.user_arn,
        "caller_id": requester.caller_id,
        "account_id": requester.account_id,
        "principal_org_id": requester.principal_org_id,
    }
    return {name: value for name, value in fields.items() if value}


def _requester(value: Any) -> Requester | None:
    if not isinstance(value, dict) or not value.get("user_arn"):
        return None
    return Requester(
        user_arn=value["user_arn"],
        caller_id=value.get("caller_id", ""),
        account_id=value.get("account_id", ""),
        principal_org_id=value.get("principal_org_id", ""),
    )


def cards_value(cards: tuple[CardResult, ...]) -> dict[str, Any]:
    value: dict[str, Any] = to_item(
        {
            "cards": [
                {
                    "card_no": card.card_no,
                    "position": card.position,
                    "outcome": card.outcome.value,
                    "code": card.code,
                    "message": card.message,
                }
                for card in cards
            ]
        }
    )["cards"]
    return value


def delivery_from_item(raw: dict[str, Any]) -> tuple[Delivery, str]:
    """The delivery and the fingerprint of the request that created it."""
    item = from_item(raw)
    cards = tuple(
        CardResult(
            card_no=card["card_no"],
            position=card["position"],
            outcome=CardOutcome(card["outcome"]),
            code=card.get("code"),
            message=card.get("message"),
        )
        for card in item.get("cards", [])
    )
    delivery = Delivery(
        delivery_id=item["delivery_id"],
        request=_REQUEST.validate_python(item["request"]),
        status=DeliveryStatus(item["status"]),
        first_position=item.get("first_position"),
        attempts=item.get("attempts", 0),
        cards=cards,
        failure_reason=item.get("failure_reason"),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        requested_by=_requester(item.get("requested_by")),
        card_order_id=item.get("card_order_id"),
        aftercare=aftercare_schema.aftercare_of(item),
        stock_deadline=item.get("stock_deadline"),
        failsend=_failsend(item.get(FAILSEND)),
        cancelled_by=_requester(item.get("cancelled_by")),
    )
    return delivery, item["fingerprint"]


def _failsend(value: Any) -> Failsend | None:
    if not isinstance(value, dict) or "state" not in value:
        return None
    return Failsend(
        state=FailsendState(value["state"]),
        sub_err_code=str(value.get("sub_err_code", "")),
        attempts=int(value.get("attempts", 0)),
        code=value.get("code"),
        updated_at=str(value.get("updated_at", "")),
    )


def listing_start_key(order: OrderKey, after: DeliveryPosition) -> dict[str, Any]:
    """The ``ByOrderNewest`` position of the delivery ``after`` names (the table's keys and
    the index's)."""
    return {
        **delivery_key(after.delivery_id),
        "order_key": {"S": order_key(order)},
        "created_at": {"S": after.created_at},
    }


def summary_from_item(raw: dict[str, Any]) -> DeliverySummary:
    """A line of an order's deliveries from a ``ByOrderNewest`` item (never the token)."""
    item = from_item(raw)
    request = item["request"]
    requester = _requester(item.get("requested_by"))
    return DeliverySummary(
        delivery_id=item["delivery_id"],
        type=str(request["type"]),
        status=DeliveryStatus(item["status"]),
        template_no=request.get("template_no"),
        quantity=int(request["quantity"]),
        attempts=int(item.get("attempts", 0)),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        requested_by=None if requester is None else requester.user_arn,
    )
