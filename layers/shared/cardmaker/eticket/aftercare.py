"""The platform's notices after ``send``: ``resend``, ``cancel`` (a refund), ``modified`` and
``order_modify``, each acted on against the order's notice delivery.

A Taobao order has one notice delivery, whose id depends on the order id alone
(``notice_delivery_id``): every later notice finds it without an index.

- ``resend``: the same cards again, never others. Codes (certificate_type 0) go through
  ``ma.resend``; card number + secret (certificate_type 1) through ``ma.send`` again with the
  same cards, because ``ma.resend`` has no ``isv_ka_list`` (platform-apis.md §3.2). Cards a
  refund voided are not resent. Before the cards went out there is nothing to resend: the
  send carries them (IGNORED).
- ``cancel``: the refunded cards become VOIDED for good, in the cards table (so no delivery
  or print run hands them out again) and on the delivery. Before any card went out the
  delivery is CANCELLED; before the send notice was even acted on, the delivery is created
  CANCELLED, so that the send, when it comes, changes nothing.
- ``modified`` / ``order_modify``: recorded on the delivery (new validity dates shown).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from cardmaker.deliveries.aftercare import (
    ChangeRecord,
    RefundRecord,
    ResendOutcome,
    ResendRecord,
    Validity,
)
from cardmaker.deliveries.delivery import (
    CardOutcome,
    CardResult,
    Delivery,
    DeliveryStatus,
    Requester,
    notice_delivery_id,
    request_fingerprint,
)
from cardmaker.deliveries.models import NoticeDeliveryRequest
from cardmaker.deliveries.platform_codes import recorded_code
from cardmaker.errors import AftercareDeferred, TopError
from cardmaker.eticket.notice import Notice, NoticeMethod, NoticeOutcome
from cardmaker.top.calls import IsvKa, IsvMa, MaResendRequest, MaSendRequest, MaSendResult
from cardmaker.top.client import retryable_top_error

if TYPE_CHECKING:
    from cardmaker.cards.card import Card
    from cardmaker.cards.opening import SecretOpener
    from cardmaker.ports import AftercareStore, TopCaller, VoidableStock
    from cardmaker.top.calls import KaListShape

# Who a delivery a refund created before its send is recorded as requested by.
PLATFORM_NOTICE = Requester(user_arn="taobao:eticket-notice")
# How many times a refund re-reads a delivery that changed under it before giving up (the
# stream then retries the notice).
_REFUND_ROUNDS = 4
# What a voided card's record says (its code names the refund notice, for replays).
VOIDED_BY_REFUND = "voided by a refund (cancel notice): never handed out again"
_REFUND_CODE = "refund:"


class NoticeAftercare:
    """Acts on ``resend``, ``cancel``, ``modified`` and ``order_modify`` notices."""

    def __init__(
        self,
        deliveries: AftercareStore,
        cards: VoidableStock,
        secrets: SecretOpener,
        top: TopCaller,
        *,
        ka_list_shape: KaListShape = "array",
        now: Callable[[], str],
    ) -> None:
        self._deliveries = deliveries
        self._cards = cards
        self._secrets = secrets
        self._top = top
        self._ka_list_shape = ka_list_shape
        self._now = now

    def handle(self, notice: Notice) -> NoticeOutcome:
        """Act on one notice; what became of it. Raises (so that the stream retries it) on
        trouble worth another try: the platform unavailable, a delivery still sending."""
        kind = notice.kind
        if kind is NoticeMethod.RESEND:
            return self._resend(notice)
        if kind is NoticeMethod.CANCEL:
            return self._cancel(notice)
        if kind in {NoticeMethod.MODIFIED, NoticeMethod.ORDER_MODIFY}:
            return self._change(notice)
        return NoticeOutcome.IGNORED

    # --- resend -----------------------------------------------------------------------------

    def _resend(self, notice: Notice) -> NoticeOutcome:
        delivery = self._deliveries.get(notice_delivery_id(notice.order_id))
        if delivery is None or delivery.status not in {
            DeliveryStatus.DELIVERED,
            DeliveryStatus.PARTIAL,
        }:
            return NoticeOutcome.IGNORED  # not out yet (the send carries them), or never
        issued = [card for card in delivery.cards if card.outcome is CardOutcome.ISSUED]
        request = delivery.request
        order = delivery.order_key
        if not issued or order is None or not isinstance(request, NoticeDeliveryRequest):
            return NoticeOutcome.IGNORED
        last = delivery.aftercare.resend
        tag = notice.digest[:32]
        if last is not None and last.notice == tag:  # a replay of the resend acted on
            return _resend_outcome(last.outcome)
        cards = self._read(delivery, [card.position for card in issued])
        secrets = self._secrets.open(cards)  # in clear only here, on their way to TOP
        try:
            if request.certificate_type == 0:
                method, params = self._ma_resend(request, secrets)
            else:
                method, params = self._ma_send_again(request, cards, secrets)
            result = MaSendResult.from_response(self._top.call(method, params, with_session=True))
        except TopError as error:
            if retryable_top_error(error):
                raise  # the platform's trouble: the stream tries the notice again
            # Refused (no-can-resend-code ends it, §4.5; any other refusal would be refused
            # again): recorded, never retried.
            code = recorded_code(error.sub_code or str(error.top_code), [request.token, *secrets])
            return self._record_resend(delivery, tag, ResendOutcome.REFUSED, code)
        if not result.succeeded:
            code = recorded_code(result.ret_code, [request.token, *secrets])
            return self._record_resend(delivery, tag, ResendOutcome.REFUSED, code)
        return self._record_resend(delivery, tag, ResendOutcome.RESENT, None)

    def _ma_resend(
        self, request: NoticeDeliveryRequest, secrets: list[str]
    ) -> tuple[str, dict[str, str]]:
        call = MaResendRequest(
            outer_id=request.outer_id,
            token=request.token,
            biz_type=request.biz_type,
            isv_ma_list=[IsvMa(code=secret) for secret in secrets],
        )
        return MaResendRequest.METHOD, call.to_params()

    def _ma_send_again(
        self, request: NoticeDeliveryRequest, cards: list[Card], secrets: list[str]
    ) -> tuple[str, dict[str, str]]:
        call = MaSendRequest(
            outer_id=request.outer_id,
            token=request.token,
            biz_type=request.biz_type,
            certificate_type=1,
            isv_ka_list=[
                IsvKa(ka_no=card.card_no, ka_mi=secret)
                for card, secret in zip(cards, secrets, strict=True)
            ],
        )
        return MaSendRequest.METHOD, call.to_params(self._ka_list_shape)

    def _record_resend(
        self, delivery: Delivery, tag: str, outcome: ResendOutcome, code: str | None
    ) -> NoticeOutcome:
        last = delivery.aftercare.resend
        count = (last.count if last is not None else 0) + (outcome is ResendOutcome.RESENT)
        record = ResendRecord(count, self._now(), tag, outcome, code)
        # A lost race means another resend was recorded meanwhile: its record stands.
        self._deliveries.record_resend(
            delivery.delivery_id, record, None if last is None else last.notice
        )
        return _resend_outcome(outcome)

    # --- cancel (refund) ----------------------------------------------------------------

    def _cancel(self, notice: Notice) -> NoticeOutcome:
        for _ in range(_REFUND_ROUNDS):
            outcome = self._cancel_once(notice)
            if outcome is not None:
                return outcome
        raise AftercareDeferred(
            f"the delivery of order {notice.order_id[:64]} kept changing during its refund"
        )

    def _cancel_once(self, notice: Notice) -> NoticeOutcome | None:
        """One look at the delivery and one conditional write; None if the delivery changed
        meanwhile (look again)."""
        delivery_key = notice_delivery_id(notice.order_id)
        delivery = self._deliveries.get(delivery_key)
        if delivery is None:
            # The refund came before its send was acted on: the delivery is made CANCELLED,
            # so that the send, when it comes, finds it and changes nothing.
            cancelled = _cancelled_delivery(notice, self._now())
            if cancelled is None:
                return NoticeOutcome.IGNORED  # not even a valid order id: nothing to stop
            created = self._deliveries.create_cancelled(
                cancelled, request_fingerprint(cancelled.request)
            )
            return NoticeOutcome.VOIDED if created else None
        status = delivery.status
        if status is DeliveryStatus.CANCELLED:
            return NoticeOutcome.VOIDED
        if status in {DeliveryStatus.PENDING, DeliveryStatus.WAITING_STOCK}:
            # Nothing went out: no card to void, no failsend to send.
            return NoticeOutcome.VOIDED if self._deliveries.cancel_unsent(delivery_key) else None
        if status is DeliveryStatus.SENDING:
            # ma.send may be in flight: its outcome decides which cards went out. When the
            # whole order is refunded, its cards are voided in the cards table now (a sender
            # that has not read them yet is refused them and sends nothing); the delivery's
            # record waits until it settles (the stream retries this notice).
            if _refunded_units(notice, delivery) >= delivery.request.quantity:
                self._void_in_stock(delivery, list(delivery.positions))
            raise AftercareDeferred(
                f"delivery {delivery_key} is sending: its refund is acted on once it settles"
            )
        return self._void_sent(notice, delivery)

    def _void_sent(self, notice: Notice, delivery: Delivery) -> NoticeOutcome | None:
        """A final delivery (DELIVERED, PARTIAL, FAILED): void the refunded cards."""
        if delivery.first_position is None:
            return NoticeOutcome.IGNORED  # it never held cards (no stock, no mapping)
        tag = _REFUND_CODE + notice.digest[:16]
        results = list(delivery.cards) or self._unknown_results(delivery)
        already = sum(card.code == tag for card in results)
        # Cards the buyer got first (a refund takes back units the buyer holds), the last
        # ones first: a partial refund leaves the buyer the first ones.
        open_cards = sorted(
            (card for card in results if card.outcome is not CardOutcome.VOIDED),
            key=lambda card: (card.outcome is CardOutcome.ISSUED, card.position),
            reverse=True,
        )
        wanted = _refunded_units(notice, delivery) if delivery.cards else len(results)
        voiding = open_cards[: max(0, wanted - already)]
        if not voiding:
            return NoticeOutcome.VOIDED  # a replay of a refund acted on, or nothing left
        self._void_in_stock(delivery, [card.position for card in voiding])
        chosen = {card.position for card in voiding}
        cards = tuple(
            replace(card, outcome=CardOutcome.VOIDED, code=tag, message=VOIDED_BY_REFUND)
            if card.position in chosen
            else card
            for card in results
        )
        refund = RefundRecord(
            voided=sum(card.outcome is CardOutcome.VOIDED for card in cards),
            last_at=self._now(),
        )
        recorded = self._deliveries.record_refund(delivery, cards, refund)
        return NoticeOutcome.VOIDED if recorded else None

    def _unknown_results(self, delivery: Delivery) -> list[CardResult]:
        """A delivery that gave up without its cards' outcomes (they may have gone out):
        its claimed cards, all of which a refund voids."""
        order, template_no = delivery.order_key, delivery.template_no
        if order is None or template_no is None:
            return []
        return [
            CardResult(card.card_no, card.position, CardOutcome.FAILED)
            for card in self._cards.iter_cards(order, template_no, delivery.positions)
        ]

    def _void_in_stock(self, delivery: Delivery, positions: list[int]) -> None:
        order, template_no = delivery.order_key, delivery.template_no
        if order is not None and template_no is not None and positions:
            self._cards.void_cards(order, template_no, positions, self._now())

    def _read(self, delivery: Delivery, positions: list[int]) -> list[Card]:
        """The delivery's cards at ``positions`` (ascending), a run of neighbours per read;
        ``read_cards`` refuses a voided one."""
        order, template_no = delivery.order_key, delivery.template_no
        if order is None or template_no is None:
            return []
        cards: list[Card] = []
        for run in _runs(sorted(positions)):
            cards += self._cards.read_cards(order, template_no, run)
        return cards

    # --- modified / order_modify --------------------------------------------------------

    def _change(self, notice: Notice) -> NoticeOutcome:
        delivery_key = notice_delivery_id(notice.order_id)
        if self._deliveries.get(delivery_key) is None:
            return NoticeOutcome.IGNORED  # no delivery to record it on
        parameters = notice.parameters
        notice_time = parameters.get("timestamp", "")
        sub_method = parameters.get("sub_method") or None
        data = parameters.get("data") or None
        left_num = parameters.get("left_num", "")
        change = ChangeRecord(
            method=notice.method,
            notice_time=notice_time,
            received_at=notice.received_at,
            sub_method=sub_method if notice.kind is NoticeMethod.ORDER_MODIFY else None,
            data=data if notice.kind is NoticeMethod.ORDER_MODIFY else None,
            left_num=int(left_num) if left_num.isascii() and left_num.isdigit() else None,
        )
        self._deliveries.record_change(delivery_key, change)
        dates = _validity_dates(notice)
        if dates is not None:
            self._deliveries.record_validity(
                delivery_key,
                Validity(
                    *dates, method=notice.method, notice_time=notice_time, changed_at=self._now()
                ),
            )
        return NoticeOutcome.CHANGED


def _resend_outcome(outcome: ResendOutcome) -> NoticeOutcome:
    """The notice's outcome: RESENT when the platform took the cards again, else IGNORED
    (the delivery's resend record says why)."""
    return NoticeOutcome.RESENT if outcome is ResendOutcome.RESENT else NoticeOutcome.IGNORED


def _refunded_units(notice: Notice, delivery: Delivery) -> int:
    """How many cards a refund voids: ``cancel_num`` (the units this refund cancels) when it
    is given and smaller than the order, else all of them."""
    quantity = delivery.request.quantity
    value = notice.parameters.get("cancel_num", "")
    if value.isascii() and value.isdigit() and 0 < int(value) < quantity:
        return int(value)
    return quantity


def _validity_dates(notice: Notice) -> tuple[str | None, str | None] | None:
    """New validity dates: ``valid_start`` / ``valid_ends`` of a ``modified``, or those in
    the ``data`` of an ``order_modify`` with ``sub_method`` 1 (None: the notice has none)."""
    source: dict[str, object] = dict(notice.parameters)
    if notice.kind is NoticeMethod.ORDER_MODIFY:
        if notice.parameters.get("sub_method") != "1":
            return None
        try:
            parsed = json.loads(notice.parameters.get("data", ""))
        except ValueError:
            return None
        source = parsed if isinstance(parsed, dict) else {}
    start, ends = source.get("valid_start"), source.get("valid_ends")
    if not start and not ends:
        return None
    return (str(start) if start else None, str(ends) if ends else None)


def _cancelled_delivery(notice: Notice, now: str) -> Delivery | None:
    """The notice delivery a refund makes before its send: CANCELLED, never sent. Its
    request holds what the cancel says (``num``, ``token``, merchant code); the product is
    left unmapped, since no card will ever be claimed for it."""
    try:
        request = NoticeDeliveryRequest(
            type="notice",
            quantity=notice.num or 1,
            outer_id=notice.order_id,
            # Never used (nothing is sent); the send's own token is on its notice.
            token=notice.token or "none",
            merchant_code=notice.merchant_code or "unknown",
        )
    except ValueError:
        return None
    delivery = Delivery.new(request, now, PLATFORM_NOTICE)
    return replace(delivery, status=DeliveryStatus.CANCELLED)


def _runs(positions: list[int]) -> list[range]:
    """Ascending positions as runs of neighbours: [1, 2, 3, 7] -> [range(1, 4), range(7, 8)]."""
    runs: list[range] = []
    for position in positions:
        if runs and runs[-1].stop == position:
            runs[-1] = range(runs[-1].start, position + 1)
        else:
            runs.append(range(position, position + 1))
    return runs
