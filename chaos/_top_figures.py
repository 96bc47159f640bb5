"""Figures of deliveries and platform notifications under TOP faults, from both sides: what
the fake gateway took (``RecordedCall.accepted`` / ``repeated``) and what the deliveries
table and the orders say.

The invariants: no card taken twice by the platform (``duplicate_accepted_sends``), no card
in two deliveries (``cards_in_two_deliveries``, by claimed position and by card number), no
card sent under a delivery's id that is not one of its own cards (``foreign_cards_sent``),
every delivery in a final state, and every FAILED one with its reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from cardmaker import FINAL, Delivery, DeliveryStatus, NoticeState, PlatformNotice, StoredOrder
from local.top_gateway import MAKE_FINISH, NOTICES, STATUS_SENDED, RecordedCall


def duplicate_accepted_sends(calls: Iterable[RecordedCall]) -> int:
    """Cards the platform took more than once (under one business id or several). A re-send
    it recognised as a repeat (``repeated``) took nothing."""
    taken = Counter(card for call in calls if call.method not in NOTICES for card in call.accepted)
    return sum(count - 1 for count in taken.values() if count > 1)


def cards_in_two_deliveries(deliveries: Iterable[Delivery]) -> int:
    """Cards held by more than one delivery: claimed positions of one (order, template)
    that overlap, or one card number in two deliveries' results."""
    positions: Counter[tuple[str, int, str, int]] = Counter()
    numbers: Counter[str] = Counter()
    for delivery in deliveries:
        source, template_no = delivery.order_key, delivery.template_no
        if source is not None and template_no is not None:
            for position in delivery.positions:
                positions[(source.own_sign, source.card_order_id, template_no, position)] += 1
        numbers.update(card.card_no for card in delivery.cards)
    overlap = sum(count - 1 for count in positions.values() if count > 1)
    return max(overlap, sum(count - 1 for count in numbers.values() if count > 1))


def business_id(delivery: Delivery) -> str:
    """The id the platform knows the delivery by (``outer_id`` / ``out_biz_id``)."""
    return delivery.request.idempotency_key


def foreign_cards_sent(calls: Iterable[RecordedCall], cards_of: dict[str, set[str]]) -> int:
    """Cards sent under a business id that are not that delivery's own cards
    (``cards_of``: business id -> its cards' numbers)."""
    sent: dict[str, set[str]] = defaultdict(set)
    for call in calls:
        sent[call.business_id].update(call.cards)
    return sum(len(cards - cards_of.get(key, set())) for key, cards in sent.items())


def retries_used(calls: Iterable[RecordedCall], deliveries: Iterable[Delivery]) -> dict[str, int]:
    """TOP calls beyond the first of each delivery (the client's backed-off retries and the
    stream's re-sends together), and the stream's re-attempts alone."""
    calls_of = Counter(call.business_id for call in calls)
    attempts = 0
    ids = set()
    for delivery in deliveries:
        ids.add(business_id(delivery))
        attempts += max(0, delivery.attempts - 1)
    return {
        "top_calls": sum(calls_of.values()),
        "retries": sum(max(0, calls_of[key] - 1) for key in ids),
        "stream_retries": attempts,
    }


def give_up_reasons(deliveries: Iterable[Delivery]) -> Counter[str]:
    """Why each FAILED delivery failed: its give-up reason (retries exhausted), else the
    platform's code on its cards (a refusal is not retried); "" if it has none."""
    reasons: Counter[str] = Counter()
    for delivery in deliveries:
        if delivery.status is not DeliveryStatus.FAILED:
            continue
        codes = sorted({card.code or "" for card in delivery.cards})
        reasons[delivery.failure_reason or ",".join(codes)] += 1
    return reasons


def figures(calls: list[RecordedCall], deliveries: list[Delivery]) -> dict[str, int]:
    """Every figure of a run, as ``name -> value``."""
    statuses = Counter(delivery.status for delivery in deliveries)
    reasons = give_up_reasons(deliveries)
    return {
        "deliveries": len(deliveries),
        "delivered": statuses[DeliveryStatus.DELIVERED],
        "partial": statuses[DeliveryStatus.PARTIAL],
        "failed": statuses[DeliveryStatus.FAILED],
        "not_final": sum(1 for delivery in deliveries if delivery.status not in FINAL),
        "gave_up_after_retries": sum(1 for d in deliveries if d.failure_reason),
        "give_ups_with_reason": sum(count for reason, count in reasons.items() if reason),
        "give_ups_without_reason": reasons[""],
        **retries_used(calls, deliveries),
        "calls_unprocessed": sum(1 for call in calls if not call.processed),
        "cards_accepted": sum(len(call.accepted) for call in calls),
        "repeats_recognised": sum(1 for call in calls if call.repeated),
        "duplicate_accepted_sends": duplicate_accepted_sends(calls),
        "cards_in_two_deliveries": cards_in_two_deliveries(deliveries),
    }


def notice_figures(
    calls: list[RecordedCall], orders: dict[int, StoredOrder], fates: dict[int, Any]
) -> dict[str, int]:
    """Accepted notices per transition, from the gateway's side, against the orders: every
    MADE order exactly one accepted ``make.finish``, every SHIPPED one exactly one accepted
    ``status.sended`` (after it, with the order's waybill), no call for an order that owes
    none. ``fates``: each order's planned kind (``test`` orders must end MADE by themselves)."""
    notices = [call for call in calls if call.method in NOTICES]
    accepted: dict[tuple[str, int], list[int]] = defaultdict(list)
    for index, call in enumerate(notices):
        for order in call.accepted:
            accepted[(call.method, int(order))].append(index)
    made = {k for k, s in orders.items() if s.lifecycle.made_at is not None}
    shipped = {k for k, s in orders.items() if s.lifecycle.waybill is not None}
    wrong_waybills = 0
    for call in notices:
        stored = orders.get(int(call.params.get("card_order_id", "0")))
        waybill = stored.lifecycle.waybill if stored is not None else None
        if call.method == STATUS_SENDED and (
            waybill is None
            or (call.params.get("logistics_company"), call.params.get("logistics_order_id"))
            != (waybill.logistics_company, waybill.logistics_order_id)
        ):
            wrong_waybills += 1
    owing = {(MAKE_FINISH, k) for k in made} | {(STATUS_SENDED, k) for k in shipped}
    # A call made after its notification was recorded SENT is a second send, repeat or not
    # (a crash's retry repeats the call before SENT is recorded, never after).
    notice_of = {
        MAKE_FINISH: PlatformNotice.MAKE_FINISH,
        STATUS_SENDED: PlatformNotice.STATUS_SENDED,
    }
    calls_after_sent = 0
    for call in notices:
        stored = orders.get(int(call.params.get("card_order_id", "0") or 0))
        notice = stored.lifecycle.notices.get(notice_of[call.method]) if stored else None
        # sent_at is kept to the millisecond: the call's time too, for the comparison
        at = call.at.replace(microsecond=call.at.microsecond // 1000 * 1000)
        if notice is not None and notice.sent_at is not None and at > notice.sent_at:
            calls_after_sent += 1
    return {
        "made_transitions": len(made),
        "shipped_transitions": len(shipped),
        "test_orders_made_by_the_notifier": sum(
            1 for s in orders.values() if s.lifecycle.made_by == "test-template"
        ),
        "notice_calls": len(notices),
        "faults_injected": sum(1 for call in notices if call.fault is not None),
        "calls_unprocessed": sum(1 for call in notices if not call.processed),
        "repeats_recognised": sum(1 for call in notices if call.repeated),
        "accepted_make_finish": sum(len(accepted[(MAKE_FINISH, k)]) for k in orders),
        "accepted_status_sended": sum(len(accepted[(STATUS_SENDED, k)]) for k in orders),
        "made_not_accepted_exactly_once": sum(
            1 for k in made if len(accepted[(MAKE_FINISH, k)]) != 1
        ),
        "shipped_not_accepted_exactly_once": sum(
            1 for k in shipped if len(accepted[(STATUS_SENDED, k)]) != 1
        ),
        "sended_accepted_before_make_finish": sum(
            1
            for k in shipped
            if accepted[(STATUS_SENDED, k)]
            and (
                not accepted[(MAKE_FINISH, k)]
                or accepted[(STATUS_SENDED, k)][0] < accepted[(MAKE_FINISH, k)][0]
            )
        ),
        "calls_for_orders_owing_none": sum(
            1
            for call in notices
            if (call.method, int(call.params.get("card_order_id", "0") or 0)) not in owing
        ),
        "waybills_sent_wrong": wrong_waybills,
        "calls_after_sent": calls_after_sent,
        "notices_not_sent_after_redrive": sum(
            1
            for s in orders.values()
            for notice in s.lifecycle.notices.values()
            if notice.state is not NoticeState.SENT
        ),
        "orders_not_made": sum(
            1
            for k, fate in fates.items()
            if str(fate["kind"]).startswith("test")
            and orders[k].lifecycle.made_by != "test-template"
        ),
        "notifications_owed": sum(
            1
            for s in orders.values()
            for notice in (PlatformNotice.MAKE_FINISH, PlatformNotice.STATUS_SENDED)
            if notice in s.lifecycle.notices
        ),
    }
