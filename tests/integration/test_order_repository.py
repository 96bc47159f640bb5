"""The orders repository against moto, and DynamoDB faults moto cannot produce (Stubber)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from cardmaker import (
    CardOrderMakeRequest,
    DynamoDBOrderRepository,
    Order,
    OrderConflict,
    OrderNotFound,
    OrderService,
    UnprocessedItemsError,
)
from cardmaker.retry import backoff_delay
from cardmaker.store import batch_put, schema
from cardmaker_cli.samples import sample_order

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)


def request(card_order_id=1, templates=None, name_length=0):
    order = sample_order(card_order_id, templates=templates)
    for info in order["card_product_infos"]:
        info["card_name"] += "卡" * name_length
    return CardOrderMakeRequest.model_validate(order)


def big_request(card_order_id=1, count=1):
    # 999 templates with 112-character names: about 0.5 MB of templates, several pages
    return request(
        card_order_id, [(f"T{i:03d}", count, "100") for i in range(999)], name_length=100
    )


@pytest.fixture
def repository(dynamodb, orders_table):
    return DynamoDBOrderRepository(orders_table, dynamodb, sleep=lambda _: None)


def sort_keys(table_items):
    return sorted(item["sk"]["S"] for item in table_items())


def test_small_order_is_one_item_with_inline_templates(repository, table_items):
    OrderService(repository, clock=lambda: NOW).receive(request(templates=[("T1", 5, "100")]))
    (header,) = table_items()
    assert header["templates"]["L"][0]["M"]["template_no"]["S"] == "T1"
    assert "template_pages" not in header


def test_large_order_is_paged_and_reads_back_whole(repository, table_items):
    incoming = big_request()
    OrderService(repository, clock=lambda: NOW).receive(incoming)
    keys = sort_keys(table_items)
    pages = [key for key in keys if key.startswith("TEMPLATES#")]
    assert len(pages) >= 2
    assert all(len(item_bytes) < 400_000 for item_bytes in map(str, table_items()))
    stored = repository.get(Order.receive(incoming, NOW).key)
    assert stored.order.templates == tuple(incoming.card_product_infos)
    assert stored.order.received_at == NOW


def test_crash_between_pages_and_header_is_finished_by_the_retry(
    dynamodb, orders_table, table_items
):
    incoming = big_request()
    service = OrderService(DynamoDBOrderRepository(orders_table, dynamodb), clock=lambda: NOW)

    failing = boto3.client("dynamodb", region_name="us-east-1")
    # the pages are written for real, then the header put dies
    failing.meta.events.register("before-call.dynamodb.PutItem", _raise_timeout)
    with pytest.raises(ClientError):
        OrderService(DynamoDBOrderRepository(orders_table, failing), clock=lambda: NOW).receive(
            incoming
        )
    assert "ORDER" not in sort_keys(table_items)  # not committed: invisible
    with pytest.raises(OrderNotFound):
        service.get(Order.receive(incoming, NOW).key)

    acceptance = service.receive(incoming)  # the platform's retry
    assert acceptance.replayed is False
    assert service.get(Order.receive(incoming, NOW).key).order.card_count == 999
    # the retry rewrote the very same pages: nothing extra
    assert len([key for key in sort_keys(table_items) if key.startswith("TEMPLATES#")]) == len(
        schema.template_page_items(Order.receive(incoming, NOW))
    )


def _raise_timeout(**_):
    raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "PutItem")


def test_conflicting_large_order_leaves_the_stored_one_intact(repository, table_items):
    service = OrderService(repository, clock=lambda: NOW)
    service.receive(big_request(count=1))
    before = table_items()
    with pytest.raises(OrderConflict):
        service.receive(big_request(count=2))
    assert sorted(map(str, table_items())) == sorted(map(str, before))


class HeaderCheckRacedPast:
    """A client whose header pre-check runs before a concurrent order commits."""

    def __init__(self, real):
        self._real = real

    def get_item(self, **_):
        return {}

    def __getattr__(self, name):
        return getattr(self._real, name)


def test_conflicting_large_order_that_lost_the_race_removes_its_pages(
    repository, dynamodb, orders_table, table_items
):
    OrderService(repository, clock=lambda: NOW).receive(big_request(count=1))
    before = table_items()
    raced = DynamoDBOrderRepository(orders_table, HeaderCheckRacedPast(dynamodb))
    with pytest.raises(OrderConflict):
        OrderService(raced, clock=lambda: NOW).receive(big_request(count=2))
    assert sorted(map(str, table_items())) == sorted(map(str, before))


def test_replay_of_a_large_order_is_recognised(repository, table_items):
    service = OrderService(repository, clock=lambda: NOW)
    first = service.receive(big_request())
    before = table_items()
    again = service.receive(big_request())
    assert (again.making_card_no, again.replayed) == (first.making_card_no, True)
    assert sorted(map(str, table_items())) == sorted(map(str, before))


# --- BatchWriteItem retries, with botocore's Stubber (moto never returns UnprocessedItems) ---


def put_request(n):
    return {"PutRequest": {"Item": {"pk": {"S": f"P{n}"}, "sk": {"S": "S"}}}}


def test_unprocessed_items_are_retried_with_growing_backoff():
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = [put_request(n)["PutRequest"]["Item"] for n in range(30)]
    sleeps: list[float] = []
    with Stubber(client) as stub:
        first, second = items[:25], items[25:]
        stub.add_response(
            "batch_write_item",
            {"UnprocessedItems": {"t": [{"PutRequest": {"Item": item}} for item in first[20:]]}},
            {"RequestItems": {"t": [{"PutRequest": {"Item": item}} for item in first]}},
        )
        stub.add_response(
            "batch_write_item",
            {"UnprocessedItems": {"t": [{"PutRequest": {"Item": first[24]}}]}},
            {"RequestItems": {"t": [{"PutRequest": {"Item": item}} for item in first[20:]]}},
        )
        stub.add_response(
            "batch_write_item",
            {"UnprocessedItems": {}},
            {"RequestItems": {"t": [{"PutRequest": {"Item": first[24]}}]}},
        )
        stub.add_response(
            "batch_write_item",
            {},
            {"RequestItems": {"t": [{"PutRequest": {"Item": item}} for item in second]}},
        )
        written = batch_put(client, "t", items, sleep=sleeps.append, base_delay=0.1, max_delay=10)
        stub.assert_no_pending_responses()
    assert written == 30
    assert len(sleeps) == 2  # one wait per round that left items behind


def test_unprocessed_items_that_never_clear_fail_loudly():
    client = boto3.client("dynamodb", region_name="us-east-1")
    item = put_request(1)
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response(
                "batch_write_item",
                {"UnprocessedItems": {"t": [item]}},
                {"RequestItems": {"t": [item]}},
            )
        with pytest.raises(UnprocessedItemsError):
            batch_put(
                client, "t", [item["PutRequest"]["Item"]], max_attempts=3, sleep=lambda _: None
            )


def test_backoff_is_jittered_and_capped():
    delays = [backoff_delay(attempt, 0.05, 1.0) for attempt in range(12) for _ in range(20)]
    assert all(0 <= delay <= 1.0 for delay in delays)
    assert len(set(delays)) > 100  # jittered, not a fixed schedule
    assert max(backoff_delay(1, 0.05, 1.0) for _ in range(200)) <= 0.1
