"""Every port of the package, once: what a service needs of storage, KMS or TOP, in the
business's words. The DynamoDB repositories in ``store/``, ``KmsDataKeys`` and ``TopClient``
implement them; tests may hand a service anything that has the same methods.

Each port is the least a service needs; a service that needs more asks for a wider one (an
``OrderStore`` is an ``OrderReader`` that can also insert).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
    from datetime import datetime

    from cardmaker.audit.trail import AuditEntry, AuditPage
    from cardmaker.cards.card import Card, CardBatch
    from cardmaker.cards.keys import DataKey
    from cardmaker.cards.print_release import PrintRelease
    from cardmaker.cards.state import CardRecord, Claim
    from cardmaker.deliveries.aftercare import (
        ChangeRecord,
        RefundRecord,
        ResendRecord,
        Validity,
    )
    from cardmaker.deliveries.delivery import CardResult, Delivery, Requester
    from cardmaker.deliveries.listing import DeliveryPage, DeliveryPosition
    from cardmaker.generation.plan import Chunk, ChunkProgress
    from cardmaker.orders.listing import ListPosition, OrderPage
    from cardmaker.orders.models import OwnSign, Waybill
    from cardmaker.orders.order import (
        Lifecycle,
        Notice,
        NoticeAttempt,
        NoticeRecord,
        NoticeState,
        Order,
        OrderKey,
        OrderStatus,
        PlatformNotice,
        StoredOrder,
    )
    from cardmaker.orders.templates import Announced, CardTemplate, CardTemplateAnnouncement
    from cardmaker.store.lifecycle import Transition


# Orders ------------------------------------------------------------------------------------


class OrderReader(Protocol):
    def get(self, key: OrderKey) -> StoredOrder | None:
        """The order with its generation progress; None if there is no such order."""
        ...


class OrderStore(OrderReader, Protocol):
    def insert(self, order: Order) -> None:
        """Store a new order; raise ``OrderExists`` if its key is taken."""
        ...


class OrderReopening(OrderReader, Protocol):
    def reopen(self, key: OrderKey) -> OrderStatus | None:
        """FAILED -> where generation resumes; the new status, or None if it was not FAILED."""
        ...


class LifecycleStore(OrderReader, Protocol):
    """An order's steps after GENERATED, each one conditional write (``store.lifecycle``)."""

    def mark_made(self, key: OrderKey, made_by: str, now: datetime) -> Transition: ...
    def ship(self, key: OrderKey, waybill: Waybill, now: datetime) -> Transition: ...
    def confirm(self, key: OrderKey, now: datetime) -> Transition: ...


class OrderIndex(Protocol):
    """An environment's orders, newest first, a page at a time (``store.order_list``)."""

    def page(
        self,
        own_sign: OwnSign,
        status: OrderStatus | None,
        limit: int,
        after: ListPosition | None,
    ) -> OrderPage: ...


class NoticeOutbox(LifecycleStore, Protocol):
    """The platform notifications an order's steps left PENDING, as the notifier moves them."""

    def lifecycle(self, key: OrderKey) -> Lifecycle | None: ...
    def lifecycles(self, keys: Iterable[OrderKey]) -> dict[OrderKey, Lifecycle]: ...
    def start_notice_attempts(
        self, attempts: Sequence[NoticeAttempt], now: datetime
    ) -> list[bool]: ...
    def record_notices(self, records: Sequence[NoticeRecord]) -> list[bool]: ...
    def start_notice_attempt(
        self, key: OrderKey, notice: PlatformNotice, seen_attempts: int, now: datetime
    ) -> bool: ...
    def record_notice(
        self,
        key: OrderKey,
        notice: PlatformNotice,
        recorded: Notice,
        *,
        expected: Collection[NoticeState],
    ) -> bool: ...


class TemplateRegistry(Protocol):
    """The card templates the platform announced, per environment, with their history."""

    def announce(self, announcement: CardTemplateAnnouncement, now: datetime) -> Announced: ...
    def get(self, own_sign: str, template_no: str) -> CardTemplate | None: ...
    def get_many(self, own_sign: str, template_nos: Iterable[str]) -> dict[str, CardTemplate]: ...
    def history(self, own_sign: str, template_no: str) -> list[CardTemplate]: ...


class GenerationStore(OrderReader, Protocol):
    """An order's generation: its chunks and its progress."""

    def start(
        self, order: Order, first_sequence: int, chunk_size: int, chunks_total: int
    ) -> bool: ...
    def write_chunks(self, chunks: list[Chunk]) -> None: ...
    def progress(self, key: OrderKey) -> ChunkProgress: ...
    def count_chunk(self, chunk: Chunk) -> int | None: ...
    def finish(self, key: OrderKey) -> bool: ...
    def fail(self, key: OrderKey, reason: str) -> bool: ...


# Cards and their keys ----------------------------------------------------------------------


class CardStore(Protocol):
    """Where the generator puts cards: sequence numbers, each chunk's data key, the cards."""

    def reserve_sequence(
        self, scheme_name: str, count: int, capacity: int, key_fingerprint: str
    ) -> int: ...
    def check_numbering_key(self, scheme_name: str, key_fingerprint: str) -> None: ...
    def claim_chunk_key(self, chunk: Chunk, wrapped: bytes) -> tuple[bytes, int]: ...
    def write_cards(self, batches: Iterable[CardBatch]) -> int: ...


class CardStock(Protocol):
    """Where deliveries take cards from: a template's cards, handed out by position ranges."""

    def claim(
        self, order: OrderKey, template_no: str, delivery_id: str, quantity: int, available: int
    ) -> int | None: ...
    def read_cards(self, order: OrderKey, template_no: str, positions: range) -> list[Card]: ...


class PrintStock(Protocol):
    """Where a print run takes cards from: every card of a template that no delivery holds,
    claimed at once through the same cursor as deliveries, read back however many they are."""

    def claim_rest(
        self, order: OrderKey, template_no: str, claim_id: str, available: int
    ) -> range | None:
        """The positions of ``available`` that no claim held before ``claim_id``'s (the same
        range when asked again); None when none was left."""
        ...

    def allocated(self, order: OrderKey, template_no: str) -> int:
        """How many of the template's cards claims hold (positions ``0 .. n - 1``)."""
        ...

    def claimed(self, order: OrderKey, template_no: str, claim_id: str) -> range | None:
        """The positions ``claim_id`` holds (None: none), without claiming anything."""
        ...

    def iter_cards(self, order: OrderKey, template_no: str, positions: range) -> Iterator[Card]:
        """The cards at ``positions`` in position order, lazily (a gap is not an error
        here: a missing card is simply not yielded; a voided one is, marked ``voided``)."""
        ...


class PrintClaims(PrintStock, Protocol):
    """A print run's claim as an export confirms it and an operator releases it."""

    def record_printed(self, order: OrderKey, template_no: str, claim: Claim, now: str) -> bool:
        """Mark the claim printed, if it still holds exactly ``claim.positions``; False
        when it does not (released meanwhile)."""
        ...

    def print_claim(self, order: OrderKey, template_no: str) -> Claim | None: ...

    def release_print_claim(self, order: OrderKey, release: PrintRelease) -> bool:
        """Give the claim's cards back (the cursor moves back to its first position) and
        store the release's record, in one transaction: False when the claim is not as
        ``release`` saw it any more (printed or released meanwhile)."""
        ...


class CardLedger(Protocol):
    """What a card's state is read from: its own item (never its secret), the template's
    claim covering its position."""

    def card_record(
        self, order: OrderKey, template_no: str, position: int
    ) -> CardRecord | None: ...
    def covering_claim(self, order: OrderKey, template_no: str, position: int) -> Claim | None: ...


class SequenceIndex(Protocol):
    def order_holding(self, sequence: int) -> OrderKey | None:
        """The order whose block of sequence numbers holds ``sequence`` (None: no order
        reserved it, or not yet)."""
        ...


class StockCount(Protocol):
    """How many of a template's cards claims hold: what a waiting delivery waits against."""

    def allocated(self, order: OrderKey, template_no: str) -> int: ...


class VoidableStock(Protocol):
    """What an e-voucher refund and resend need of the cards: a delivery's cards read
    (``read_cards`` refuses voided ones), every card of a range as it is (voided or not),
    and cards voided for good."""

    def read_cards(self, order: OrderKey, template_no: str, positions: range) -> list[Card]: ...
    def iter_cards(self, order: OrderKey, template_no: str, positions: range) -> Iterator[Card]: ...
    def void_cards(
        self, order: OrderKey, template_no: str, positions: Iterable[int], now: str
    ) -> int: ...


class HandedOut(Protocol):
    """How many of each template's cards claims hold (deliveries and print runs alike): the
    allocation cursors, read without a claim."""

    def handed_out(self, order: OrderKey, template_nos: Sequence[str]) -> dict[str, int]:
        """Each template's count (0 where nothing was claimed yet)."""
        ...


class ChunkKeys(Protocol):
    def wrapped_chunk_key(self, order: OrderKey, chunk_id: str) -> bytes:
        """The KMS-wrapped data key that sealed the chunk's secrets."""
        ...


class KeyUnwrapper(Protocol):
    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> DataKey: ...


class DataKeys(KeyUnwrapper, Protocol):
    def new(self, context: Mapping[str, str]) -> DataKey: ...


# Deliveries --------------------------------------------------------------------------------


class DeliveryReader(Protocol):
    def get(self, delivery_id: str) -> Delivery | None: ...


class DeliveryStore(DeliveryReader, Protocol):
    def create(self, delivery: Delivery, fingerprint: str) -> None:
        """Store a new delivery; raise ``DeliveryExists`` if its id is taken."""
        ...

    def cancel_waiting(self, delivery_id: str, cancelled_by: Requester) -> bool:
        """An operator's delivery waiting for stock, holding no cards -> CANCELLED; False
        (nothing changed) if it is not one."""
        ...

    def page_for_order(
        self, order: OrderKey, limit: int, after: DeliveryPosition | None
    ) -> DeliveryPage:
        """Up to ``limit`` of the order's deliveries after ``after``, newest first."""
        ...


class DeliveryProgress(DeliveryReader, Protocol):
    """A delivery's way through its states, each step taken once whatever the retries."""

    def wait_for_stock(self, delivery_id: str) -> bool: ...
    def wake(self, delivery_id: str) -> bool: ...
    def waiting_for_stock(self, order: OrderKey) -> list[str]: ...
    def start_sending(self, delivery_id: str, first_position: int) -> Delivery | None: ...
    def finish(self, delivery: Delivery) -> bool: ...
    def fail(self, delivery_id: str, reason: str) -> bool: ...


class StockWaiters(Protocol):
    """An order's deliveries waiting for stock, and waking one."""

    def waiting_for_stock(self, order: OrderKey) -> list[str]: ...
    def wake(self, delivery_id: str) -> bool: ...


class DeliveryReopening(DeliveryReader, Protocol):
    def reopen(self, delivery_id: str) -> bool:
        """A delivery that gave up -> SENDING; False if it is not one."""
        ...


class AftercareStore(DeliveryReader, Protocol):
    """What the platform's later notices write on notice deliveries (``store.aftercare``),
    each one conditional write: False when the delivery was not as expected."""

    def create_cancelled(self, delivery: Delivery, fingerprint: str) -> bool: ...
    def cancel_unsent(self, delivery_id: str) -> bool: ...
    def record_refund(
        self, delivery: Delivery, cards: tuple[CardResult, ...], refund: RefundRecord
    ) -> bool: ...
    def record_resend(
        self, delivery_id: str, record: ResendRecord, previous: str | None
    ) -> bool: ...
    def record_change(self, delivery_id: str, change: ChangeRecord) -> bool: ...
    def record_validity(self, delivery_id: str, validity: Validity) -> bool: ...


# The audit trail ---------------------------------------------------------------------------


class AuditLog(Protocol):
    """Where operator actions are kept: appended, never changed."""

    def append(self, entry: AuditEntry) -> None:
        """Add ``entry``; never overwrites one already there."""
        ...

    def page(self, making_card_no: str | None, limit: int, after: str | None) -> AuditPage:
        """Up to ``limit`` entries (of that order only, if given) after position ``after``,
        newest first."""
        ...


# The TOP gateway ---------------------------------------------------------------------------


class TopCaller(Protocol):
    def call(
        self, method: str, params: dict[str, str], *, with_session: bool = False
    ) -> dict[str, Any]: ...
    def has_session(self) -> bool:
        """Can calls that need a session (``ma.send``) be made at all?"""
        ...


# Operations --------------------------------------------------------------------------------


class QueueDepths(Protocol):
    def depth(self, queue_url: str) -> tuple[int, int]:
        """(messages waiting, messages being read) in an SQS queue."""
        ...
