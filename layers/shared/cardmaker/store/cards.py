"""The cards repository: cards, the chunks' wrapped data keys, the sequence counter."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from cardmaker.cards.state import PRINT_CLAIM
from cardmaker.errors import (
    CardVoided,
    ClaimContended,
    NumberingKeyChanged,
    SequenceExhausted,
)
from cardmaker.retry import with_backoff
from cardmaker.store import card_schema
from cardmaker.store.batch import BATCH_LIMIT, batch_put
from cardmaker.store.clients import dynamodb_client
from cardmaker.store.conditions import (
    CONDITION_FAILED_REASON,
    cancellation_reasons,
    condition_failed,
)
from cardmaker.store.keys import PK, SK
from cardmaker.store.pacing import KEY_WRITE_RATE, KeyPacer
from cardmaker.store.schema import now_iso

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from mypy_boto3_dynamodb import DynamoDBClient

    from cardmaker.cards.card import Card, CardBatch
    from cardmaker.cards.print_release import PrintRelease
    from cardmaker.cards.state import CardRecord, Claim
    from cardmaker.generation.plan import Chunk
    from cardmaker.orders.order import OrderKey

BATCH_GET_LIMIT = 100  # keys per BatchGetItem call
TRANSACTION_LIMIT = 100  # items per TransactWriteItems call
WRITERS = 8  # BatchWriteItem calls in flight while a chunk's cards are written
WRITER_PART = BATCH_LIMIT * 4  # items per writer task
# Items read ahead of the writers: a chunk of 5,000 (five buckets), so that the writers can
# take its keys in turn rather than wait on one key's pace.
READ_AHEAD = 5000
# Attempts of one BatchWriteItem of cards. The writers pace each bucket to its partition's
# limit, but buckets of other chunks may share its partition, and a new table's ceiling is
# low: the full-jitter backoff, not a failed chunk, must absorb that throttling
# (bench/million.py: with 8 attempts, chunks failed on every table). 16 attempts wait up to
# about 22 s, well inside the generator's 60 s timeout.
CARD_WRITE_ATTEMPTS = 16
# Attempts of one claim: each lost race means another claim went through meanwhile.
CLAIM_ATTEMPTS = 24
REMEMBERED_CURSORS = 1024  # cursors whose count an environment keeps; then it starts over
# An item's cancellation reason, when none came.
_UNKNOWN: dict[str, Any] = {"Code": CONDITION_FAILED_REASON}


class DynamoDBCardRepository:
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        writers: int = WRITERS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()
        self._writers = writers
        self._sleep = sleep
        self._clock = clock  # paces the card writes per partition key (``put_in_parallel``)
        # Each cursor's count as this environment last saw it (see ``_remember``).
        self._allocated: dict[str, int] = {}

    def reserve_sequence(
        self, scheme_name: str, count: int, capacity: int, key_fingerprint: str
    ) -> int:
        """Hand out ``count`` consecutive sequence numbers; returns the first. Atomic: two
        orders never get overlapping blocks. The counter keeps the fingerprint of the key it
        was started with and refuses any other (``NumberingKeyChanged``): the sequence means
        nothing under another key."""
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=card_schema.sequence_key(scheme_name),
                UpdateExpression="ADD next_sequence :count SET key_fingerprint = :key",
                ConditionExpression=(
                    "attribute_not_exists(key_fingerprint) OR key_fingerprint = :key"
                ),
                ExpressionAttributeValues={
                    ":count": {"N": str(count)},
                    ":key": {"S": key_fingerprint},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            raise _key_changed(scheme_name) from None
        end = int(answer["Attributes"]["next_sequence"]["N"])
        if end > capacity:
            raise SequenceExhausted(f"scheme {scheme_name} has no room for {count} more cards")
        return end - count

    def check_numbering_key(self, scheme_name: str, key_fingerprint: str) -> None:
        """Raise ``NumberingKeyChanged`` unless the scheme's counter counts for this key. A
        conditional update, not a read: the generator may write the cards table, never read
        it."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=card_schema.sequence_key(scheme_name),
                UpdateExpression="SET key_fingerprint = if_not_exists(key_fingerprint, :key)",
                ConditionExpression=(
                    "attribute_not_exists(key_fingerprint) OR key_fingerprint = :key"
                ),
                ExpressionAttributeValues={":key": {"S": key_fingerprint}},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            raise _key_changed(scheme_name) from None

    def claim_chunk_key(self, chunk: Chunk, wrapped: bytes) -> tuple[bytes, int]:
        """Store ``wrapped`` as the chunk's data key unless it has one already, and count an
        attempt. Returns the chunk's wrapped key and this attempt's number (1, 2, ...): every
        attempt of a chunk seals with the same key, so its cards always open."""
        answer = self._client.update_item(
            TableName=self._table,
            Key=card_schema.chunk_key_item_key(chunk),
            UpdateExpression="SET wrapped_key = if_not_exists(wrapped_key, :key) ADD attempts :one",
            ExpressionAttributeValues={":key": {"B": wrapped}, ":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
        attributes = answer["Attributes"]
        return attributes["wrapped_key"]["B"], int(attributes["attempts"]["N"])

    def claim(
        self, order: OrderKey, template_no: str, delivery_id: str, quantity: int, available: int
    ) -> int | None:
        """Hand ``quantity`` cards of a template to a delivery: returns the first position of
        its range, or None when fewer than ``quantity`` are left.

        Two deliveries never get the same cards, and a retry gets its own range back, never
        a second one (``_take``)."""
        positions = self._take(
            order,
            template_no,
            delivery_id,
            lambda allocated: quantity if allocated + quantity <= available else 0,
        )
        return None if positions is None else positions.start

    def claim_rest(
        self, order: OrderKey, template_no: str, claim_id: str, available: int
    ) -> range | None:
        """Hand every card of a template that no one holds yet to one claim (a print run):
        returns its positions, or None when nothing was left. Asked again, the same claim gets
        the same range back; deliveries after it find no stock."""
        return self._take(order, template_no, claim_id, lambda allocated: available - allocated)

    def _take(
        self, order: OrderKey, template_no: str, claim_id: str, size: Callable[[int], int]
    ) -> range | None:
        """Claim ``size(allocated)`` cards (none if that is not positive) right after the
        ``allocated`` cards handed out before: the claim's positions, the ones it was given
        before if it was, or None when it has none.

        One transaction puts the claim's item (unless it exists) and moves the cursor from
        the count this environment last saw (unless someone moved it since): both or
        neither. A claim that lost its race learns the cursor's count from the cancellation
        and tries again; one that finds its own item takes that item's range. So the common
        case is one round trip, and no item grows with the claims."""
        cursor = card_schema.cursor_key(order, template_no)
        claim = card_schema.claim_key(order, template_no, claim_id)
        name = cursor[PK]["S"]
        seen = self._allocated.get(name)  # None: no cursor yet, as far as we know
        for _ in with_backoff(CLAIM_ATTEMPTS, base=0.01, cap=0.2, sleep=self._sleep):
            quantity = size(seen or 0)
            if quantity <= 0:
                # Nothing left by the count we know. A print run's release moves the cursor
                # back, so a remembered count may be too high: the cursor itself decides.
                actual = self._cursor_count(cursor, None)
                if actual != seen:
                    seen = actual
                    self._remember(name, seen)
                    continue
                # Nothing left for it, unless this very claim took the last cards before.
                return self._claimed(claim)
            positions = range(seen or 0, (seen or 0) + quantity)
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": card_schema.claim_item(
                                    order, template_no, claim_id, positions, now_iso()
                                ),
                                "ConditionExpression": f"attribute_not_exists({PK})",
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            }
                        },
                        {"Update": self._cursor_move(cursor, seen, positions.stop)},
                    ]
                )
            except ClientError as error:
                reasons = cancellation_reasons(error)
                if reasons is None:
                    raise
                # Without the reasons (never seen), both items are looked at.
                mine, moved = reasons if len(reasons) == 2 else (_UNKNOWN, _UNKNOWN)
                if mine.get("Code") == CONDITION_FAILED_REASON:  # claimed before: its range
                    found = mine.get("Item")
                    held = card_schema.claimed_range(found) if found else self._claimed(claim)
                    if held is not None:
                        return held
                if moved.get("Code") == CONDITION_FAILED_REASON:  # lost the race: try again
                    seen = self._cursor_count(cursor, moved.get("Item"))
                    self._remember(name, seen)
                # Anything else (a conflict with a transaction in flight, throttling): the
                # same attempt again, after the backoff.
                continue
            self._remember(name, positions.stop)
            return positions
        raise ClaimContended(
            f"claim {claim_id} on template {template_no} lost {CLAIM_ATTEMPTS} races in a row"
        )

    def allocated(self, order: OrderKey, template_no: str) -> int:
        """How many of a template's cards claims hold (its cursor's count; 0 before the
        first claim): a look, which claims nothing."""
        return self._cursor_count(card_schema.cursor_key(order, template_no), None) or 0

    def claimed(self, order: OrderKey, template_no: str, claim_id: str) -> range | None:
        """The positions ``claim_id`` holds of a template (None: it holds none)."""
        return self._claimed(card_schema.claim_key(order, template_no, claim_id))

    def _cursor_move(self, cursor: dict[str, Any], seen: int | None, allocated: int) -> Any:
        """The cursor's half of a claim: ``allocated`` cards handed out, if the count is still
        ``seen`` (None: if there is no count yet, the template's first claim makes it)."""
        values: dict[str, Any] = {":allocated": {"N": str(allocated)}}
        if seen is None:
            condition = "attribute_not_exists(allocated)"
        else:
            condition = "allocated = :seen"
            values[":seen"] = {"N": str(seen)}
        return {
            "TableName": self._table,
            "Key": cursor,
            "UpdateExpression": "SET allocated = :allocated",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _cursor_count(self, cursor: dict[str, Any], item: dict[str, Any] | None) -> int | None:
        """The cursor's count, from the item a cancellation returned or else read."""
        if item is None:
            item = self._client.get_item(
                TableName=self._table, Key=cursor, ConsistentRead=True
            ).get("Item")
        if item is None or "allocated" not in item:
            return None
        return int(item["allocated"]["N"])

    def _claimed(self, claim: dict[str, Any]) -> range | None:
        """The range an existing claim holds (None if there is no such claim)."""
        item = self._client.get_item(TableName=self._table, Key=claim, ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else card_schema.claimed_range(item)

    def _remember(self, cursor_name: str, allocated: int | None) -> None:
        """Keep the cursor's count for this environment's next claim: a guess, checked by the
        transaction's condition (a stale one costs one more round trip, never a card)."""
        if allocated is None:
            self._allocated.pop(cursor_name, None)
            return
        if len(self._allocated) >= REMEMBERED_CURSORS and cursor_name not in self._allocated:
            self._allocated.clear()
        self._allocated[cursor_name] = allocated

    def card_record(self, order: OrderKey, template_no: str, position: int) -> CardRecord | None:
        """What a card's item says of it, never its secret (the read projects it away)."""
        names = {f"#a{i}": name for i, name in enumerate(card_schema.CARD_RECORD_ATTRIBUTES)}
        item = self._client.get_item(
            TableName=self._table,
            Key=card_schema.card_key(order, template_no, position),
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else card_schema.card_record_from_item(item)

    def covering_claim(self, order: OrderKey, template_no: str, position: int) -> Claim | None:
        """The claim holding ``position`` (None: below the cursor's count no claim is
        missing, so above it the card is nobody's). One read of the cursor, then the
        template's claims that start at or before it (one Query, filtered on the server)."""
        cursor = self._client.get_item(
            TableName=self._table,
            Key=card_schema.cursor_key(order, template_no),
            ConsistentRead=True,
        ).get("Item")
        if cursor is None or int(cursor["allocated"]["N"]) <= position:
            return None
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{PK} = :pk",
            "FilterExpression": "#first <= :position",
            "ExpressionAttributeNames": {"#first": "first"},
            "ExpressionAttributeValues": {
                ":pk": {"S": card_schema.claims_partition(order, template_no)},
                ":position": {"N": str(position)},
            },
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**query)
            for item in page.get("Items", []):
                if position in card_schema.claimed_range(item):
                    return card_schema.claim_from_item(item)
            if "LastEvaluatedKey" not in page:
                return None
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def print_claim(self, order: OrderKey, template_no: str) -> Claim | None:
        """The template's print run claim, if one holds cards."""
        item = self._client.get_item(
            TableName=self._table,
            Key=card_schema.claim_key(order, template_no, PRINT_CLAIM),
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else card_schema.claim_from_item(item)

    def record_printed(self, order: OrderKey, template_no: str, claim: Claim, now: str) -> bool:
        """Mark the print run's claim printed (the first time only), if it still holds
        ``claim.positions``: False when it does not (released, perhaps claimed again)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=card_schema.claim_key(order, template_no, claim.claim_id),
                UpdateExpression="SET printed_at = if_not_exists(printed_at, :now)",
                ConditionExpression=f"attribute_exists({PK}) AND #first = :first"
                " AND quantity = :quantity",
                ExpressionAttributeNames={"#first": "first"},
                ExpressionAttributeValues={
                    ":now": {"S": now},
                    ":first": {"N": str(claim.positions.start)},
                    ":quantity": {"N": str(len(claim.positions))},
                },
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return False
        return True

    def release_print_claim(self, order: OrderKey, release: PrintRelease) -> bool:
        """One transaction: the print run's claim deleted (if it is unprinted and holds
        ``release.positions``), the cursor moved back to their first position (if it stands
        at their end: a print run's claim is always the last), the release's record put. False
        when a condition failed: nothing was written."""
        positions = release.positions
        template_no = release.template_no
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": card_schema.claim_key(order, template_no, PRINT_CLAIM),
                            "ConditionExpression": "attribute_not_exists(printed_at)"
                            " AND #first = :first AND quantity = :quantity",
                            "ExpressionAttributeNames": {"#first": "first"},
                            "ExpressionAttributeValues": {
                                ":first": {"N": str(positions.start)},
                                ":quantity": {"N": str(len(positions))},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": card_schema.cursor_key(order, template_no),
                            "UpdateExpression": "SET allocated = :first",
                            "ConditionExpression": "allocated = :stop",
                            "ExpressionAttributeValues": {
                                ":first": {"N": str(positions.start)},
                                ":stop": {"N": str(positions.stop)},
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": card_schema.release_item(order, release),
                            "ConditionExpression": f"attribute_not_exists({PK})",
                        }
                    },
                ]
            )
        except ClientError as error:
            if cancellation_reasons(error) is None:
                raise
            return False
        # This environment's guess of the cursor is now wrong: forget it.
        self._allocated.pop(card_schema.cursor_key(order, template_no)[PK]["S"], None)
        return True

    def read_cards(self, order: OrderKey, template_no: str, positions: range) -> list[Card]:
        """The cards at ``positions`` (by key: no scan), in position order."""
        keys = [card_schema.card_key(order, template_no, position) for position in positions]
        found: dict[int, Card] = {}
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            pending: list[dict[str, Any]] = keys[start : start + BATCH_GET_LIMIT]
            for _ in with_backoff(8, base=0.05, cap=2.0, sleep=self._sleep):
                answer = self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": pending, "ConsistentRead": True}}
                )
                for raw in answer.get("Responses", {}).get(self._table, []):
                    card = card_schema.card_from_item(order, template_no, raw)
                    found[card.position] = card
                unprocessed = answer.get("UnprocessedKeys", {}).get(self._table)
                pending = unprocessed.get("Keys", []) if unprocessed else []
                if not pending:
                    break
            if pending:
                raise RuntimeError(f"{len(pending)} cards could not be read")
        missing = [position for position in positions if position not in found]
        if missing:
            raise LookupError(f"{len(missing)} allocated cards do not exist (first: {missing[0]})")
        # The one door every delivery's cards go out through: a card a refund voided is
        # refused here, whatever asked for it (a retry, a reopened delivery, a resend).
        voided = [position for position in positions if found[position].voided]
        if voided:
            raise CardVoided(template_no, voided)
        return [found[position] for position in positions]

    def void_cards(
        self, order: OrderKey, template_no: str, positions: Iterable[int], now: str
    ) -> int:
        """Mark cards ``VOIDED`` for good (an e-voucher refund); returns how many. Each part
        of up to 100 cards is one transaction, conditional on the cards existing (a void never
        creates a card); voiding a card again changes nothing but is not an error, so a
        retried refund completes."""
        keys = [card_schema.card_key(order, template_no, position) for position in positions]
        for start in range(0, len(keys), TRANSACTION_LIMIT):
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": key,
                            "UpdateExpression": "SET card_state = :voided,"
                            " voided_at = if_not_exists(voided_at, :now)",
                            "ConditionExpression": f"attribute_exists({PK})",
                            "ExpressionAttributeValues": {
                                ":voided": {"S": card_schema.VOIDED_STATE},
                                ":now": {"S": now},
                            },
                        }
                    }
                    for key in keys[start : start + TRANSACTION_LIMIT]
                ]
            )
        return len(keys)

    def iter_cards(self, order: OrderKey, template_no: str, positions: range) -> Iterator[Card]:
        """The cards of a template at ``positions`` (a range), in position order, bucket by
        bucket (one Query per 1,000-card partition, page by page): memory stays constant
        whatever the order's size. Only what a ``Card`` holds is read."""
        if not positions:
            return
        names = {f"#a{index}": name for index, name in enumerate(card_schema.CARD_ATTRIBUTES)}
        first_key = card_schema.card_key(order, template_no, positions.start)[SK]
        last_key = card_schema.card_key(order, template_no, positions.stop - 1)[SK]
        buckets = range(
            positions.start // card_schema.BUCKET_SIZE,
            (positions.stop - 1) // card_schema.BUCKET_SIZE + 1,
        )
        for bucket in buckets:
            first = bucket * card_schema.BUCKET_SIZE
            query: dict[str, Any] = {
                "TableName": self._table,
                # Positions sort as their sort keys: each bucket's cards within the range.
                "KeyConditionExpression": f"{PK} = :pk AND {SK} BETWEEN :first AND :last",
                "ExpressionAttributeValues": {
                    ":pk": card_schema.card_key(order, template_no, first)[PK],
                    ":first": first_key,
                    ":last": last_key,
                },
                "ProjectionExpression": ", ".join(names),
                "ExpressionAttributeNames": names,
                "ConsistentRead": True,
            }
            while True:
                page = self._client.query(**query)
                for item in page.get("Items", []):
                    yield card_schema.card_from_item(order, template_no, item)
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def wrapped_chunk_key(self, order: OrderKey, chunk_id: str) -> bytes:
        """The KMS-wrapped data key that sealed the chunk's secrets."""
        item = self._client.get_item(
            TableName=self._table,
            Key=card_schema.chunk_key_of(order, chunk_id),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            raise LookupError(f"chunk {chunk_id} has no data key")
        return item["wrapped_key"]["B"]

    def write_cards(self, batches: Iterable[CardBatch]) -> int:
        """Write cards batch by batch, up to ``writers`` BatchWriteItem calls in flight and
        each bucket paced to its partition's limit (``put_in_parallel``), while the caller
        produces the next batches: generation runs behind the I/O. Unconditional puts
        at fixed keys, so a retried chunk overwrites exactly its own cards (with the secrets
        they have: the generator derives them per chunk, not per attempt)."""
        return put_in_parallel(
            self._client,
            self._table,
            (card_schema.card_items(batch) for batch in batches),
            writers=self._writers,
            sleep=self._sleep,
            clock=self._clock,
        )


def put_in_parallel(
    client: DynamoDBClient,
    table_name: str,
    item_batches: Iterable[list[dict[str, Any]]],
    *,
    writers: int = WRITERS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    key_rate: float = KEY_WRITE_RATE,
) -> int:
    """Put low-level items with up to ``writers`` BatchWriteItem calls in flight while
    ``item_batches`` are still being produced (each part retried as ``batch_put`` does);
    returns how many were written. The card store's writer, shared with the benchmark of
    raw writes so that both measure the same thing.

    Consecutive cards share a partition key (a bucket), and a partition takes 1,000 writes a
    second: so each part holds one key's items, a key never has two parts in flight, the
    writers take the keys in turn (round robin), and each key's calls, retries included, are
    paced to at most ``key_rate`` items a second, slower while DynamoDB throttles them
    (``KeyPacer``, on ``clock`` and ``sleep``). Up to ``READ_AHEAD`` items are read
    ahead of the writers so that they have several keys to choose from."""
    pacer = KeyPacer(key_rate, clock=clock, sleep=sleep)
    queued: dict[str, deque[list[dict[str, Any]]]] = {}  # per key, in turn order
    in_flight: dict[Future[int], str] = {}
    batches = iter(item_batches)
    ahead = 0  # items queued
    more = True
    written = 0

    def write(key: str, part: list[dict[str, Any]]) -> int:
        paced = cast("DynamoDBClient", _PacedWrites(client, pacer, key))
        return batch_put(paced, table_name, part, sleep=sleep, max_attempts=CARD_WRITE_ATTEMPTS)

    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="cards") as pool:
        while True:
            for future in [future for future in in_flight if future.done()]:
                del in_flight[future]
                written += future.result()
            while more and ahead < READ_AHEAD:
                batch = next(batches, None)
                if batch is None:
                    more = False
                    break
                for key, part in _parts_by_key(batch):
                    queued.setdefault(key, deque()).append(part)
                    ahead += len(part)
            busy = set(in_flight.values())
            turn = next((ready for ready in queued if ready not in busy), None)
            if turn is not None and len(in_flight) < writers:
                parts = queued.pop(turn)
                part = parts.popleft()
                if parts:
                    queued[turn] = parts  # to the back of the turn
                ahead -= len(part)
                in_flight[pool.submit(write, turn, part)] = turn
                continue
            if not in_flight:
                if queued or more:  # cannot happen: a queued key is never busy here
                    raise RuntimeError("card writer stalled")
                return written
            wait(in_flight, return_when=FIRST_COMPLETED)


class _PacedWrites:
    """A client whose BatchWriteItem calls of one key, retries included, wait for the key's
    pace and tell the pacer how DynamoDB took them."""

    def __init__(self, client: DynamoDBClient, pacer: KeyPacer, key: str) -> None:
        self._client = client
        self._pacer = pacer
        self._key = key

    def batch_write_item(self, **call: Any) -> Any:
        sent = sum(len(requests) for requests in call["RequestItems"].values())
        self._pacer.wait(self._key, sent)
        answer = self._client.batch_write_item(**call)
        refused = sum(len(left) for left in answer.get("UnprocessedItems", {}).values())
        self._pacer.taken(self._key, sent, refused)
        return answer


def _parts_by_key(items: list[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The items in parts of at most ``WRITER_PART``, each of one partition key, in order."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_key.setdefault(item[PK]["S"], []).append(item)
    for key, own in by_key.items():
        for part in _split(own, WRITER_PART):
            yield key, part


def _key_changed(scheme_name: str) -> NumberingKeyChanged:
    return NumberingKeyChanged(
        f"the card-number key of scheme {scheme_name} is not the one its counter was started "
        "with: restore the original CARD_NUMBER_SECRET_ID value (docs/operator-manual.md)"
    )


def _split(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
