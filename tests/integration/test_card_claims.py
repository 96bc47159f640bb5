"""Handing out a template's cards by position ranges, against moto: the cards repository's
claims (a delivery's ``claim``, a print run's ``claim_rest``) through the template's cursor.

No item grows with the claims (a template may hold a million cards, handed out one or two
at a time), two claims never share a card whoever wins a race, and a claim asked again gets
its own range back, never a second one."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import boto3
import pytest

from cardmaker import PRINT_CLAIM, ClaimContended, DynamoDBCardRepository, OrderKey
from cardmaker.store import card_schema, from_item

REGION = "us-east-1"
ORDER = OrderKey("daily", 71_001)
# DynamoDB refuses items over 400 KB. A claim recorded on the cursor took some 30 bytes, a
# delivery id's (claim #13,002 was refused); claims under ids of 1,000 characters (as long as
# a sort key may be) get there in some 400 claims, which moto checks in seconds, not minutes.
MANY = 450
LONG = 1_000


def delivery_id(n: int) -> str:
    """A delivery id as deliveries make them (``ET-`` and 24 hex digits)."""
    return f"ET-{n:024x}"


@pytest.fixture
def table(stack) -> str:
    return stack.physical["CardsTable"]


def repository(table: str, *, backoff: bool = False) -> DynamoDBCardRepository:
    """A repository of its own (an execution environment's): its own client, nothing cached;
    with ``backoff``, it really waits before trying again."""
    return DynamoDBCardRepository(
        table,
        boto3.client("dynamodb", region_name=REGION),
        sleep=time.sleep if backoff else lambda _: None,
    )


def read_item(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The item at ``key``, low-level."""
    answer = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=table, Key=key, ConsistentRead=True
    )
    item: dict[str, Any] | None = answer.get("Item")
    return item


def cursor(table: str, template_no: str = "T1") -> dict[str, Any] | None:
    item = read_item(table, card_schema.cursor_key(ORDER, template_no))
    return None if item is None else from_item(item)


def claimed(table: str, claim_id: str, template_no: str = "T1") -> range | None:
    """The range a claim holds, as its item in the table says."""
    item = read_item(table, card_schema.claim_key(ORDER, template_no, claim_id))
    return None if item is None else card_schema.claimed_range(item)


class RoundTrips:
    """Counts a client's calls to DynamoDB, by operation; ``before`` runs before the first."""

    def __init__(self, client: Any, before: Any = None) -> None:
        self.calls: list[str] = []
        self._before = before
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
        if self._before is not None:
            before, self._before = self._before, None
            before()


def long_id(n: int) -> str:
    return f"ET-{n:0{LONG - 3}x}"


def test_a_template_takes_more_claims_than_one_item_could_record(table):
    cards = repository(table)
    # Given one claim of a template of MANY cards
    assert cards.claim(ORDER, "T1", long_id(0), 1, MANY) == 0
    after_one = cursor(table)
    assert after_one is not None
    # When every other card is claimed, each by a claim of its own under a long id (more
    # than 400 KB of ids in all)
    for n in range(1, MANY):
        assert cards.claim(ORDER, "T1", long_id(n), 1, MANY) == n
    # Then every claim went through, and the cursor is the same item, only counting them
    assert cursor(table) == {**after_one, "allocated": MANY}
    # and each claim is an item of its own, the same whichever it is
    first = read_item(table, card_schema.claim_key(ORDER, "T1", long_id(0)))
    last = read_item(table, card_schema.claim_key(ORDER, "T1", long_id(MANY - 1)))
    assert first is not None
    assert last is not None
    assert sorted(first) == sorted(last)
    assert claimed(table, long_id(0)) == range(0, 1)
    assert claimed(table, long_id(MANY - 1)) == range(MANY - 1, MANY)
    # the template is handed out: a late delivery finds no stock, a retry its own card
    assert cards.claim(ORDER, "T1", "ET-late", 1, MANY) is None
    assert cards.claim(ORDER, "T1", long_id(321), 1, MANY) == 321


def test_claims_keep_the_cursor_the_same_size_whatever_their_number(table):
    cards = repository(table)
    # Given a template's first claim, by a delivery (ids as deliveries make them)
    assert cards.claim(ORDER, "T1", delivery_id(0), 1, 1_000) == 0
    after_one = cursor(table)
    # When 199 more deliveries claim a card each and a print run claims the rest
    for n in range(1, 200):
        assert cards.claim(ORDER, "T1", delivery_id(n), 1, 1_000) == n
    assert cards.claim_rest(ORDER, "T1", PRINT_CLAIM, 1_000) == range(200, 1_000)
    # Then the cursor holds nothing but its count
    assert cursor(table) == {**after_one, "allocated": 1_000}  # type: ignore[dict-item]


def test_a_claim_on_a_quiet_cursor_is_one_round_trip(table):
    cards = repository(table)
    trips = RoundTrips(cards._client)
    # When an execution environment claims for three deliveries in a row, the first on a
    # template no one claimed from yet
    assert cards.claim(ORDER, "T1", "ET-a", 2, 10) == 0
    assert cards.claim(ORDER, "T1", "ET-b", 1, 10) == 2
    assert cards.claim(ORDER, "T1", "ET-c", 3, 10) == 3
    # Then each claim was one request to DynamoDB
    assert trips.calls == ["TransactWriteItems"] * 3
    assert cursor(table) == {**from_item(card_schema.cursor_key(ORDER, "T1")), "allocated": 6}


def test_a_claim_that_loses_a_race_takes_the_next_range(table):
    # Given a delivery about to claim 2 cards, and another one that claims 3 just before it
    other = repository(table)
    cards = repository(table)
    trips = RoundTrips(cards._client, before=lambda: other.claim(ORDER, "T1", "ET-b", 3, 10))
    # When the first one claims
    first = cards.claim(ORDER, "T1", "ET-a", 2, 10)
    # Then it lost the race, tried again with what the cursor said, and got the next cards
    assert first == 3
    assert trips.calls == ["TransactWriteItems", "TransactWriteItems"]
    assert (claimed(table, "ET-b"), claimed(table, "ET-a")) == (range(0, 3), range(3, 5))
    assert cursor(table)["allocated"] == 5  # type: ignore[index]
    # and an environment that saw the cursor before others moved it just tries once more
    assert other.claim(ORDER, "T1", "ET-c", 5, 10) == 5
    assert other.claim(ORDER, "T1", "ET-d", 1, 10) is None


def test_a_claim_whose_cards_are_taken_by_the_race_it_lost_finds_no_stock(table):
    other = repository(table)
    cards = repository(table)
    RoundTrips(cards._client, before=lambda: other.claim(ORDER, "T1", "ET-b", 9, 10))
    # When a claim of 2 of 10 cards loses to a claim of 9, then it is left without cards
    assert cards.claim(ORDER, "T1", "ET-a", 2, 10) is None
    assert claimed(table, "ET-a") is None
    assert cursor(table)["allocated"] == 9  # type: ignore[index]


def test_a_claim_asked_again_gets_its_own_range_back(table):
    cards = repository(table)
    assert cards.claim(ORDER, "T1", "ET-a", 2, 5) == 0
    assert cards.claim(ORDER, "T1", "ET-b", 3, 5) == 2  # the last cards
    # When each is asked again, by the same environment or by another one, even with the
    # template handed out (or with a quantity that would not fit any more)
    again = [
        cards.claim(ORDER, "T1", "ET-a", 2, 5),
        repository(table).claim(ORDER, "T1", "ET-a", 2, 5),
        cards.claim(ORDER, "T1", "ET-b", 3, 5),
        repository(table).claim(ORDER, "T1", "ET-b", 3, 5),
    ]
    # Then each gets its own range back, and nothing more is handed out
    assert again == [0, 0, 2, 2]
    assert cursor(table)["allocated"] == 5  # type: ignore[index]
    assert cards.claim(ORDER, "T1", "ET-c", 1, 5) is None
    assert claimed(table, "ET-c") is None


def test_a_print_run_claims_the_rest_once_and_deliveries_after_it_find_no_stock(table):
    cards = repository(table)
    assert cards.claim(ORDER, "T1", "ET-a", 2, 30) == 0
    # When a print run claims the rest, then asks again (from another environment too)
    runs = [
        cards.claim_rest(ORDER, "T1", PRINT_CLAIM, 30),
        cards.claim_rest(ORDER, "T1", PRINT_CLAIM, 30),
        repository(table).claim_rest(ORDER, "T1", PRINT_CLAIM, 30),
    ]
    # Then it holds every card no delivery held, the same ones each time
    assert runs == [range(2, 30)] * 3
    assert claimed(table, PRINT_CLAIM) == range(2, 30)
    # and deliveries after it find no stock; the one before keeps its cards
    assert cards.claim(ORDER, "T1", "ET-b", 1, 30) is None
    assert repository(table).claim(ORDER, "T1", "ET-a", 2, 30) == 0
    # A template another claim emptied has nothing left to print, and nothing is recorded
    assert cards.claim(ORDER, "T2", "ET-all", 4, 4) == 0
    assert cards.claim_rest(ORDER, "T2", PRINT_CLAIM, 4) is None
    assert claimed(table, PRINT_CLAIM, "T2") is None


def test_many_environments_racing_on_one_cursor_never_share_a_card(table):
    # Given 8 execution environments, each claiming for 12 deliveries of 1 to 3 cards, all at
    # once on one template of 150 cards (fewer than they ask for)
    environments, deliveries, available = 8, 12, 150
    results: dict[str, range | None] = {}
    contended: list[str] = []
    start = threading.Barrier(environments)

    def environment(index: int) -> None:
        cards = repository(table, backoff=True)
        start.wait()
        for n in range(deliveries):
            quantity = 1 + (index + n) % 3
            claim_id = f"ET-{index:02d}{n:02d}"
            try:
                first = cards.claim(ORDER, "T1", claim_id, quantity, available)
            except ClaimContended:  # lost every race: it holds nothing (checked below)
                contended.append(claim_id)
                continue
            results[claim_id] = None if first is None else range(first, first + quantity)

    threads = [threading.Thread(target=environment, args=(i,)) for i in range(environments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    # Then no card is in two claims, the cursor counts exactly what they hold, and every
    # claim's item records the range it was given (no item for a claim that got none)
    held = sorted((r for r in results.values() if r is not None), key=lambda r: r.start)
    assert len(results) + len(contended) == environments * deliveries
    assert all(a.stop <= b.start for a, b in itertools.pairwise(held))
    total = sum(len(r) for r in held)
    assert cursor(table)["allocated"] == total  # type: ignore[index]
    assert {claim_id: claimed(table, claim_id) for claim_id in results} == results
    assert [claimed(table, claim_id) for claim_id in contended] == [None] * len(contended)
    # (a claim may lose every race when environments claim back to back without a pause,
    # and then holds nothing; most go through)
    assert total > available // 2


def test_a_claim_that_keeps_losing_races_gives_up_with_nothing_claimed(table):
    # Given a claim that loses every race (another claim goes through before each attempt)
    cards = repository(table)
    rivals = iter(range(1_000))

    def rival() -> None:
        n = next(rivals)
        repository(table).claim(ORDER, "T1", f"ET-rival{n}", 1, 1_000)
        trips._before = rival  # and again before the next attempt

    trips = RoundTrips(cards._client, before=rival)
    # When it claims, then it gives up after a bounded number of attempts, claiming nothing
    with pytest.raises(ClaimContended):
        cards.claim(ORDER, "T1", "ET-unlucky", 1, 1_000)
    assert claimed(table, "ET-unlucky") is None
    assert 2 < len(trips.calls) <= 32  # bounded
    assert cursor(table)["allocated"] == len(trips.calls)  # type: ignore[index]
