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
        OrderKey(OWN_SIGN, ORDER_ID), "3010030E02", range(1203), ("position", "card_no")
    )

    items = list(read)
    assert [int(item["position"]["N"]) for item in items] == list(range(1203))
    assert {frozenset(item) for item in items} == {frozenset({"position", "card_no"})}


def test_iter_cards_is_lazy(local_stack):
    # Given a client that counts the Queries it makes
    client = local_stack.client("dynamodb")
    queries = []

    class CountingClient:
        def query(self, **request):
            queries.append(request)
            return client.query(**request)

    cards = DynamoDBCardRepository(local_stack.stack.physical["CardsTable"], CountingClient())

    # When the read is set up, nothing is read; each Query happens as the cards are asked for
    read = cards.iter_cards(OrderKey(OWN_SIGN, ORDER_ID), "3010030E02", range(1203), ("position",))
    assert queries == []
    assert int(next(read)["position"]["N"]) == 0
    assert len(queries) == 1  # one partition read, the next not yet
    assert sum(1 for _ in read) == 1202
    assert len(queries) == 2  # 1,203 cards: two 1,000-card partitions


def test_iter_cards_reads_exactly_a_range_across_a_partition_boundary(local_stack):
    cards = DynamoDBCardRepository(
        local_stack.stack.physical["CardsTable"], local_stack.client("dynamodb")
    )
    key = OrderKey(OWN_SIGN, ORDER_ID)

    # Given a range that starts in one 1,000-card partition and ends in the next
    read = cards.iter_cards(key, "3010030E02", range(997, 1002), ("position",))

    # Then exactly its cards come back, and an empty range reads nothing
    assert [int(item["position"]["N"]) for item in read] == [997, 998, 999, 1000, 1001]
    assert list(cards.iter_cards(key, "3010030E02", range(5, 5), ("position",))) == []
