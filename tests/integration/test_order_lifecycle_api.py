"""The operators' side of the lifecycle through the handler, with API Gateway events on moto:
``POST /orders/{id}/made``, ``POST /orders/{id}/shipment`` and ``GET /orders``.

Every refusal is checked with the table as it was before (nothing written), every step again
answers as the first time, and the list is read across pages.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from cardmaker import (
    CardOrderMakeRequest,
    DynamoDBGenerationRepository,
    DynamoDBLifecycleRepository,
    DynamoDBOrderRepository,
    Order,
    OrderKey,
    OrderStatus,
    Waybill,
)
from cardmaker.store import order_list
from cardmaker_cli.samples import sample_order
from local.apigw import http_api_event
from local.template import functions
from tests.conftest import OPERATOR

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KEY = OrderKey("daily", 16002)
SF = {"logistics_company": "顺丰速运", "logistics_order_id": "SF1234567890"}


# --- orders moved the way the pipeline moves them -----------------------------------------


def store_order(
    dynamodb: Any,
    table: str,
    status: OrderStatus = OrderStatus.GENERATED,
    key: OrderKey = KEY,
    received_at: datetime = NOW,
) -> None:
    request = CardOrderMakeRequest.model_validate(
        sample_order(key.card_order_id, key.own_sign, [("T1", 2, "100"), ("T2", 1, "500")])
    )
    order = Order.receive(request, received_at)
    DynamoDBOrderRepository(table, dynamodb).insert(order)
    if status is OrderStatus.RECEIVED:
        return
    generation = DynamoDBGenerationRepository(table, dynamodb)
    generation.start(order, 0, 10, 0)
    if status is OrderStatus.GENERATING:
        return
    if status is OrderStatus.FAILED:
        assert generation.fail(key, "test")
        return
    assert generation.finish(key)
    lifecycle = DynamoDBLifecycleRepository(table, dynamodb)
    steps = [OrderStatus.MADE, OrderStatus.SHIPPED, OrderStatus.CONFIRMED]
    for step in steps[: steps.index(status) + 1] if status in steps else []:
        if step is OrderStatus.MADE:
            lifecycle.mark_made(key, "arn:aws:iam::1:user/earlier", NOW)
        elif step is OrderStatus.SHIPPED:
            lifecycle.ship(key, Waybill("中通快递", "ZT0001"), NOW)
        else:
            lifecycle.confirm(key, NOW)


# --- the requests ---------------------------------------------------------------------------


def _query(own_sign: str | None) -> str:
    return urlencode({"own_sign": own_sign}) if own_sign else ""


def made_event(
    card_order_id: int | str = 16002,
    own_sign: str | None = "daily",
    iam: dict[str, Any] | None = OPERATOR,
) -> dict[str, Any]:
    return http_api_event(
        "POST",
        f"/orders/{card_order_id}/made",
        raw_query=_query(own_sign),
        route_key="POST /orders/{card_order_id}/made",
        path_parameters={"card_order_id": str(card_order_id)},
        iam=iam,
    )


def shipment_event(
    body: Any = SF,
    card_order_id: int | str = 16002,
    own_sign: str | None = "daily",
    iam: dict[str, Any] | None = OPERATOR,
    content_type: str = "application/json",
) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return http_api_event(
        "POST",
        f"/orders/{card_order_id}/shipment",
        raw_query=_query(own_sign),
        headers=[("content-type", content_type)],
        body=raw,
        route_key="POST /orders/{card_order_id}/shipment",
        path_parameters={"card_order_id": str(card_order_id)},
        iam=iam,
    )


def list_event(**params: Any) -> dict[str, Any]:
    return http_api_event(
        "GET",
        "/orders",
        raw_query=urlencode({k: v for k, v in params.items() if v is not None}),
        route_key="GET /orders",
        iam=OPERATOR,
    )


def view_event(key: OrderKey = KEY) -> dict[str, Any]:
    return http_api_event(
        "GET",
        f"/orders/{key.card_order_id}",
        raw_query=_query(key.own_sign),
        route_key="GET /orders/{card_order_id}",
        path_parameters={"card_order_id": str(key.card_order_id)},
        iam=OPERATOR,
    )


def answer_of(invoke: Any, event: dict[str, Any]) -> tuple[int, Any]:
    answer = invoke(event)
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def items(table_items):
    """The orders table, sorted: compared before and after a refusal."""

    def snapshot() -> list[dict[str, Any]]:
        return sorted(table_items(), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))

    return snapshot


# --- routes -----------------------------------------------------------------------------------


def test_the_list_and_the_order_routes_are_told_apart(stack):
    routes = functions(stack)["OperatorApiFunction"].routes
    matched = {
        f"{method} {path}": [r.route_key for r in routes if r.match(method, path) is not None]
        for method, path in [
            ("GET", "/orders"),
            ("GET", "/orders/16002"),
            ("POST", "/orders/16002/made"),
            ("POST", "/orders/16002/shipment"),
            ("GET", "/orders/16002/made"),
            ("POST", "/orders"),
            ("GET", "/orders/"),
        ]
    }
    assert matched == {
        "GET /orders": ["GET /orders"],
        "GET /orders/16002": ["GET /orders/{card_order_id}"],
        "POST /orders/16002/made": ["POST /orders/{card_order_id}/made"],
        "POST /orders/16002/shipment": ["POST /orders/{card_order_id}/shipment"],
        "GET /orders/16002/made": [],
        "POST /orders": [],
        "GET /orders/": [],
    }


# --- made ---------------------------------------------------------------------------------------


def test_made_moves_a_generated_order_and_records_who(invoke, dynamodb, orders_table):
    store_order(dynamodb, orders_table)
    assert answer_of(invoke, made_event()) == (202, {"status": "MADE"})
    _, view = answer_of(invoke, view_event())
    assert view["status"] == "MADE"
    assert view["lifecycle"]["made_by"] == OPERATOR["userArn"]
    assert view["lifecycle"]["made_at"] is not None
    assert view["notifications"]["make_finish"]["state"] == "PENDING"


def test_made_again_is_the_same_answer_and_changes_nothing(invoke, dynamodb, orders_table, items):
    store_order(dynamodb, orders_table)
    first = answer_of(invoke, made_event())
    before = items()
    assert answer_of(invoke, made_event()) == first == (202, {"status": "MADE"})
    assert items() == before


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.RECEIVED,
        OrderStatus.GENERATING,
        OrderStatus.FAILED,
        OrderStatus.SHIPPED,
        OrderStatus.CONFIRMED,
    ],
)
def test_made_from_another_status_is_409_naming_it(invoke, dynamodb, orders_table, items, status):
    store_order(dynamodb, orders_table, status)
    before = items()
    code, body = answer_of(invoke, made_event())
    assert code == 409
    assert body["status"] == status.value
    assert body["statusCode"] == 409
    assert body["detail"][0]["loc"] == ["path", "card_order_id"]
    assert status.value in body["detail"][0]["msg"]
    assert items() == before


def test_made_of_no_order_is_404_and_writes_nothing(invoke, dynamodb, orders_table, items):
    store_order(dynamodb, orders_table)
    before = items()
    assert answer_of(invoke, made_event(99999))[0] == 404
    assert answer_of(invoke, made_event(16002, "pre"))[0] == 404  # another environment
    assert items() == before


def test_made_without_an_iam_identity_is_403_and_writes_nothing(
    invoke, dynamodb, orders_table, items
):
    store_order(dynamodb, orders_table)
    before = items()
    code, body = answer_of(invoke, made_event(iam=None))
    assert code == 403
    assert body["detail"][0]["type"] == "no_iam_identity"
    assert items() == before


@pytest.mark.parametrize(
    ("card_order_id", "own_sign", "field"),
    [("abc", "daily", "card_order_id"), ("0", "daily", "card_order_id"), (1, "prod", "own_sign")],
)
def test_made_with_a_bad_id_or_environment_is_422(
    invoke, dynamodb, orders_table, items, card_order_id, own_sign, field
):
    store_order(dynamodb, orders_table)
    before = items()
    code, body = answer_of(invoke, made_event(card_order_id, own_sign))
    assert code == 422
    assert [problem["loc"][-1] for problem in body["detail"]] == [field]
    assert items() == before


def test_made_defaults_to_the_online_environment_like_the_order_view(
    invoke, dynamodb, orders_table
):
    store_order(dynamodb, orders_table, key=OrderKey("online", 5))
    assert answer_of(invoke, made_event(5, None)) == (202, {"status": "MADE"})


# --- shipment -----------------------------------------------------------------------------------


def test_shipment_moves_a_made_order_with_its_waybill(invoke, dynamodb, orders_table):
    store_order(dynamodb, orders_table, OrderStatus.MADE)
    assert answer_of(invoke, shipment_event()) == (202, {"status": "SHIPPED"})
    _, view = answer_of(invoke, view_event())
    assert view["status"] == "SHIPPED"
    assert view["shipment"] == SF
    assert view["lifecycle"]["shipped_at"] is not None
    assert view["notifications"]["status_sended"]["state"] == "PENDING"


def test_the_same_waybill_again_is_the_same_answer_another_is_409(
    invoke, dynamodb, orders_table, items
):
    store_order(dynamodb, orders_table, OrderStatus.MADE)
    answer_of(invoke, shipment_event())
    before = items()
    assert answer_of(invoke, shipment_event()) == (202, {"status": "SHIPPED"})
    code, body = answer_of(invoke, shipment_event({**SF, "logistics_order_id": "SF999"}))
    assert (code, body["status"]) == (409, "SHIPPED")
    assert "another waybill" in body["detail"][0]["msg"]
    assert items() == before


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.RECEIVED,
        OrderStatus.GENERATING,
        OrderStatus.GENERATED,
        OrderStatus.FAILED,
        OrderStatus.CONFIRMED,
    ],
)
def test_shipment_from_another_status_is_409_naming_it(
    invoke, dynamodb, orders_table, items, status
):
    store_order(dynamodb, orders_table, status)
    before = items()
    code, body = answer_of(invoke, shipment_event())
    assert (code, body["status"]) == (409, status.value)
    assert items() == before


def test_shipment_of_no_order_is_404_and_without_identity_403(
    invoke, dynamodb, orders_table, items
):
    store_order(dynamodb, orders_table, OrderStatus.MADE)
    before = items()
    assert answer_of(invoke, shipment_event(card_order_id=99999))[0] == 404
    assert answer_of(invoke, shipment_event(iam=None))[0] == 403
    assert items() == before


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"logistics_company", "logistics_order_id"}),
        ({**SF, "logistics_company": "   "}, {"logistics_company"}),
        ({**SF, "logistics_company": "x" * 65}, {"logistics_company"}),
        ({**SF, "logistics_order_id": "SF 123"}, {"logistics_order_id"}),
        ({**SF, "logistics_order_id": "-SF1"}, {"logistics_order_id"}),
        ({**SF, "logistics_order_id": "S" * 65}, {"logistics_order_id"}),
        ({**SF, "logistics_order_id": 1234567890}, {"logistics_order_id"}),
        ({**SF, "shipped_by": "me"}, {"shipped_by"}),
        (["SF1234567890"], {"body"}),
    ],
)
def test_an_invalid_waybill_is_422_with_the_failing_fields(
    invoke, dynamodb, orders_table, items, body, fields
):
    store_order(dynamodb, orders_table, OrderStatus.MADE)
    before = items()
    code, answer = answer_of(invoke, shipment_event(body))
    assert code == 422
    assert {str(problem["loc"][-1]) for problem in answer["detail"]} == fields
    assert items() == before


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        (b"{not json", "application/json", 422),
        (b"\xff\xfe{}", "application/json", 422),
        (b"", "application/json", 422),
        (b"logistics_company=x", "application/x-www-form-urlencoded", 422),
        (b"<waybill/>", "application/xml", 415),
    ],
)
def test_a_body_that_is_not_a_json_waybill_is_refused(
    invoke, dynamodb, orders_table, items, raw, content_type, expected
):
    store_order(dynamodb, orders_table, OrderStatus.MADE)
    before = items()
    assert answer_of(invoke, shipment_event(raw, content_type=content_type))[0] == expected
    assert items() == before


# --- the list -----------------------------------------------------------------------------------


def orders_of(pages: list[dict[str, Any]]) -> list[int]:
    return [order["card_order_id"] for page in pages for order in page["orders"]]


def all_pages(invoke: Any, **params: Any) -> list[dict[str, Any]]:
    pages = []
    token = None
    while True:
        code, page = answer_of(invoke, list_event(**params, next=token))
        assert code == 200, page
        pages.append(page)
        token = page.get("next")
        if token is None:
            return pages
        assert len(pages) < 50, "the pages never end"


@pytest.fixture
def many_orders(dynamodb, orders_table):
    """Seven daily orders received a minute apart (id 1 oldest), of several statuses, and
    orders of other environments; their chunks and template pages are in the table too."""
    statuses = [
        OrderStatus.GENERATED,
        OrderStatus.MADE,
        OrderStatus.RECEIVED,
        OrderStatus.MADE,
        OrderStatus.SHIPPED,
        OrderStatus.MADE,
        OrderStatus.GENERATED,
    ]
    for number, status in enumerate(statuses, start=1):
        at = NOW + timedelta(minutes=number)
        store_order(dynamodb, orders_table, status, OrderKey("daily", number), at)
    store_order(dynamodb, orders_table, OrderStatus.MADE, OrderKey("pre", 100), NOW)
    store_order(dynamodb, orders_table, OrderStatus.MADE, OrderKey("online", 200), NOW)
    return dict(enumerate(statuses, start=1))


def test_the_list_is_newest_first_across_pages(invoke, many_orders):
    pages = all_pages(invoke, own_sign="daily", limit=3)
    assert [len(page["orders"]) for page in pages] == [3, 3, 1]
    assert orders_of(pages) == [7, 6, 5, 4, 3, 2, 1]
    first = pages[0]["orders"][0]
    assert first == {
        "card_order_id": 7,
        "own_sign": "daily",
        "making_card_no": "CM-daily-7",
        "status": "GENERATED",
        "card_count": 3,
        "received_at": (NOW + timedelta(minutes=7)).isoformat(),
        "updated_at": first["updated_at"],
    }
    assert "next" not in pages[-1]


def test_a_page_that_ends_the_list_has_no_next(invoke, many_orders):
    _, page = answer_of(invoke, list_event(own_sign="daily", limit=7))
    assert (len(page["orders"]), "next" in page) == (7, False)
    _, page = answer_of(invoke, list_event(own_sign="daily"))  # the default page size
    assert (len(page["orders"]), "next" in page) == (7, False)


def test_the_list_holds_one_environment_and_defaults_to_online(invoke, many_orders):
    assert orders_of(all_pages(invoke, own_sign="pre")) == [100]
    assert orders_of(all_pages(invoke)) == [200]
    _, empty = answer_of(invoke, list_event(own_sign="daily", status="CONFIRMED"))
    assert empty == {"orders": []}


def test_the_status_filter_lists_only_that_status_across_pages(invoke, many_orders):
    pages = all_pages(invoke, own_sign="daily", status="MADE", limit=2)
    assert orders_of(pages) == [6, 4, 2]
    assert {order["status"] for page in pages for order in page["orders"]} == {"MADE"}
    assert all(len(page["orders"]) <= 2 for page in pages)


def test_a_filtered_request_reads_a_bounded_number_of_items(invoke, many_orders, monkeypatch):
    # Given a read bound of three index items per request
    monkeypatch.setattr(order_list, "MAX_EVALUATED", 3)
    # When the daily SHIPPED orders (one: 5, the third newest of seven) are listed
    pages = all_pages(invoke, own_sign="daily", status="SHIPPED", limit=10)
    # Then each request stops at the bound, with a next, and the listing still finds it all
    assert orders_of(pages) == [5]
    assert [len(page["orders"]) for page in pages] == [1, 0, 0]


def good_token(invoke: Any, **params: Any) -> str:
    _, page = answer_of(invoke, list_event(**params))
    return str(page["next"])


def _flip(token: str, at: int) -> str:
    replacement = "A" if token[at] != "A" else "B"
    return token[:at] + replacement + token[at + 1 :]


def _forged(content: dict[str, Any]) -> str:
    raw = b"\0" * 8 + json.dumps(content).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_damaged_or_foreign_next_token_is_422(invoke, many_orders, items):
    token = good_token(invoke, own_sign="daily", limit=2)
    filtered = good_token(invoke, own_sign="daily", limit=1, status="MADE")
    before = items()
    damaged = {
        "edited in its content": _flip(token, len(token) // 2),
        "edited in its checksum": _flip(token, 1),
        "cut short": token[:-5],
        "made up": _forged(
            {"v": 1, "own_sign": "daily", "status": None, "received_at": "x", "card_order_id": 1}
        ),
        "not base64": "%%%",
        "empty padding": "=",
        "too long": "A" * 600,
        "of another environment": token,
        "of no filter, on a filtered listing": token,
        "of a filter, on an unfiltered listing": filtered,
    }
    for what, bad in damaged.items():
        params: dict[str, Any] = {"own_sign": "daily", "next": bad}
        if what == "of another environment":
            params["own_sign"] = "pre"
        if what == "of no filter, on a filtered listing":
            params["status"] = "MADE"
        code, body = answer_of(invoke, list_event(**params))
        assert code == 422, (what, body)
        assert [problem["loc"] for problem in body["detail"]] == [["query", "next"]], what
        assert bad not in json.dumps(body) or len(bad) < 4, "the token is not echoed"
    assert items() == before


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"status": "LOST"}, "status"),
        ({"own_sign": "prod"}, "own_sign"),
    ],
)
def test_bad_list_parameters_are_422_naming_them(invoke, many_orders, params, field):
    code, body = answer_of(invoke, list_event(**{"own_sign": "daily", **params}))
    assert code == 422
    assert [problem["loc"][-1] for problem in body["detail"]] == [field]
