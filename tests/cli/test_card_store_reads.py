"""The cards repository's streaming read (what `cards export` stands on), against the local
stack's DynamoDB."""

from __future__ import annotations

from cardmaker import Card, DynamoDBCardRepository, OrderKey
from tests.cli.conftest import ORDER_ID, OWN_SIGN


def test_iter_cards_reads_a_template_in_position_order_across_partitions(local_stack):
    cards = DynamoDBCardRepository(
        local_stack.stack.physical["CardsTable"], local_stack.client("dynamodb")
    )
    key = OrderKey(OWN_SIGN, ORDER_ID)

    read = list(cards.iter_cards(key, "3010030E02", range(1203)))

    assert all(isinstance(card, Card) for card in read)
    assert [card.position for card in read] == list(range(1203))
    assert {(card.order, card.template_no, card.par_value) for card in read} == {
        (key, "3010030E02", "100")
    }
    assert len({card.card_no for card in read}) == 1203
    # each card as the delivery reads it (BatchGetItem of whole items)
    for position in (0, 999, 1000, 1202):
        assert cards.read_cards(key, "3010030E02", range(position, position + 1)) == [
            read[position]
        ]


def test_iter_cards_is_lazy_and_reads_only_what_a_card_holds(local_stack):
    # Given a client that counts the Queries it makes
    client = local_stack.client("dynamodb")
    queries = []

    class CountingClient:
        def query(self, **request):
            queries.append(request)
            return client.query(**request)

    cards = DynamoDBCardRepository(local_stack.stack.physical["CardsTable"], CountingClient())

    # When the read is set up, nothing is read; each Query happens as the cards are asked for
    read = cards.iter_cards(OrderKey(OWN_SIGN, ORDER_ID), "3010030E02", range(1203))
    assert queries == []
    assert next(read).position == 0
    assert len(queries) == 1  # one partition read, the next not yet
    assert sum(1 for _ in read) == 1202
    assert len(queries) == 2  # 1,203 cards: two 1,000-card partitions
    # and only the attributes a Card holds are asked for (not the item's bookkeeping; its
    # state, VOIDED after a refund, is what a print run leaves out)
    projected = {
        query["ExpressionAttributeNames"][name.strip()]
        for query in queries
        for name in query["ProjectionExpression"].split(",")
    }
    assert projected == {"position", "card_no", "chunk_id", "secret", "par_value", "card_state"}


def test_iter_cards_reads_exactly_a_range_across_a_partition_boundary(local_stack):
    cards = DynamoDBCardRepository(
        local_stack.stack.physical["CardsTable"], local_stack.client("dynamodb")
    )
    key = OrderKey(OWN_SIGN, ORDER_ID)

    # Given a range that starts in one 1,000-card partition and ends in the next
    read = cards.iter_cards(key, "3010030E02", range(997, 1002))

    # Then exactly its cards come back, and an empty range reads nothing
    assert [card.position for card in read] == [997, 998, 999, 1000, 1001]
    assert list(cards.iter_cards(key, "3010030E02", range(5, 5))) == []
