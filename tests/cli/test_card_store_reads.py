"""The cards repository's streaming read (what `cards export` stands on), against the local
stack's DynamoDB."""

from __future__ import annotations

from cardmaker.orders import OrderKey
from cardmaker.store.cards import DynamoDBCardRepository
from tests.cli.conftest import ORDER_ID, OWN_SIGN


def test_iter_cards_reads_a_template_in_position_order_across_partitions(local_stack):
    cards = DynamoDBCardRepository(
        local_stack.stack.physical["CardsTable"], local_stack.client("dynamodb")
    )

    read = cards.iter_cards(
        OrderKey(OWN_SIGN, ORDER_ID), "3010030E02", 1203, ("position", "card_no")
    )

    items = list(read)
    assert [int(item["position"]["N"]) for item in items] == list(range(1203))
    assert {frozenset(item) for item in items} == {frozenset({"position", "card_no"})}


def test_iter_cards_is_lazy(local_stack):
    cards = DynamoDBCardRepository(
        local_stack.stack.physical["CardsTable"], local_stack.client("dynamodb")
    )

    read = cards.iter_cards(OrderKey(OWN_SIGN, ORDER_ID), "3010030E05", 7, ("position",))

    assert int(next(read)["position"]["N"]) == 0  # a generator: nothing read before asked
    assert len(list(read)) == 6
