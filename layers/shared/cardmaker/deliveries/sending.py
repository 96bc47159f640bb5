"""Carrying out deliveries (the delivery function's side).

A delivery's cards are a range of positions of one (order, template), claimed once from the
template's cursor and kept on the delivery: every attempt sends exactly those cards, with the
same outer_id / token / out_biz_id, so that after a timeout with an unknown outcome the
platform can recognise the repeat. Secrets are opened only in memory, on their way to TOP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cardmaker.deliveries.delivery import CardOutcome, CardResult, Delivery, DeliveryStatus
from cardmaker.deliveries.models import (
    BindDeliveryRequest,
    EticketDeliveryRequest,
    NoticeDeliveryRequest,
)
from cardmaker.deliveries.platform_codes import (
    ALREADY_SENT,
    BIND_FAILED,
    INVALID_CARD,
    NOT_BOUND,
    NOT_ISSUED,
    ORDER_CANNOT_TAKE_CODES,
    notice_send_final,
    recorded_code,
    refused_call,
)
from cardmaker.errors import NoticeSendUnsettled, TopError
from cardmaker.eticket.stock import NoStock
from cardmaker.orders.order import OrderKey
from cardmaker.top.calls import (
    CardBindRequest,
    CardBindResult,
    IsvKa,
    IsvMa,
    MaSendRequest,
    MaSendResult,
)
from cardmaker.top.client import retryable_top_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from cardmaker.cards.card import Card
    from cardmaker.cards.opening import SecretOpener
    from cardmaker.eticket.stock import NoticeStock
    from cardmaker.ports import CardStock, DeliveryProgress, OrderReader, TopCaller
    from cardmaker.top.calls import KaListShape


@dataclass(frozen=True)
class DeliveryAttempt:
    """What one ``deliver`` call found and did: ``status`` is where the delivery stands (None
    when there is no such delivery, or another attempt finished it meanwhile); ``acted`` says
    whether this call moved it (to WAITING_STOCK, or to its final status), which is what
    metrics count: a replayed record finds the delivery moved and acts no more."""

    status: DeliveryStatus | None
    acted: bool


class DeliverySender:
    def __init__(
        self,
        deliveries: DeliveryProgress,
        orders: OrderReader,
        cards: CardStock,
        secrets: SecretOpener,
        top: TopCaller,
        *,
        bind_app_key: str,
        ka_list_shape: KaListShape = "array",
        max_attempts: int = 5,
        serves_environment: Callable[[str], bool],
        notice_stock: NoticeStock | None = None,
    ) -> None:
        """``serves_environment(own_sign)``: may the gateway deliver that environment's
        orders (a production gateway: ``online`` only). ``notice_stock``: where the
        deliveries made by send-code notices take their cards (none: they are not served)."""
        self._deliveries = deliveries
        self._orders = orders
        self._cards = cards
        self._secrets = secrets
        self._top = top
        self._bind_app_key = bind_app_key
        self._ka_list_shape = ka_list_shape
        self._max_attempts = max_attempts
        self._serves_environment = serves_environment
        self._notice_stock = notice_stock

    def deliver(self, delivery_id: str) -> DeliveryAttempt:
        """Carry out a PENDING (or interrupted SENDING) delivery. A delivery in any other
        state (a stream record replayed after it finished, say) is left as it is."""
        delivery = self._deliveries.get(delivery_id)
        if delivery is None:
            return DeliveryAttempt(None, acted=False)
        if delivery.status not in {DeliveryStatus.PENDING, DeliveryStatus.SENDING}:
            return DeliveryAttempt(delivery.status, acted=False)
        if isinstance(delivery.request, NoticeDeliveryRequest):
            return self._deliver_notice(delivery)
        return self._deliver_operator(delivery)

    def _deliver_operator(self, delivery: Delivery) -> DeliveryAttempt:
        """An operator's delivery: its cards from the order and template it names."""
        delivery_id = delivery.delivery_id
        request = _operator_request(delivery)
        order_key = OrderKey(request.own_sign, request.card_order_id)
        first = delivery.first_position
        if first is None:
            refusal = self._cannot_send(request)
            if refusal is not None:  # before any card is claimed: nothing is taken or sent
                return DeliveryAttempt(
                    DeliveryStatus.FAILED, acted=self._deliveries.fail(delivery_id, refusal)
                )
            generated = self._generated_count(delivery, order_key)
            if generated is not None:
                first = self._cards.claim(
                    order_key, request.template_no, delivery_id, request.quantity, generated
                )
            if first is None:
                waiting = self._deliveries.wait_for_stock(delivery_id)
                if generated is None and self._generated_count(delivery, order_key) is not None:
                    # The order was generated between the look and the wait: its wake-up may
                    # have missed this delivery, so wake it here.
                    self._deliveries.wake(delivery_id)
                return DeliveryAttempt(DeliveryStatus.WAITING_STOCK, acted=waiting)
        sending = self._deliveries.start_sending(delivery_id, first)
        if sending is None:  # finished meanwhile by another attempt
            return DeliveryAttempt(None, acted=False)
        cards: list[Card] = []
        try:
            # Reading belongs inside: cards that cannot be read must also end in FAILED on the
            # last attempt, never leave the delivery SENDING.
            cards = self._cards.read_cards(order_key, request.template_no, sending.positions)
            results = self._send(sending, cards)
        except TopError as error:
            # Platform-side trouble (isp.*, 7, 10) is worth another attempt later; anything
            # else is the platform refusing the request: recorded, never re-sent.
            if not retryable_top_error(error):
                results = [_refused(card, error, _withheld(request)) for card in cards]
            else:
                self._give_up_if_last(sending, error)
                raise
        except Exception as error:
            self._give_up_if_last(sending, error)
            raise
        finished = sending.finished(results)
        return DeliveryAttempt(finished.status, acted=self._deliveries.finish(finished))

    def wake_waiting(self, order: OrderKey) -> list[str]:
        """The order is GENERATED: put its deliveries waiting for stock back in line, and
        the notice deliveries waiting for its templates' cards in its environment."""
        woken = [
            delivery_id
            for delivery_id in self._deliveries.waiting_for_stock(order)
            if self._deliveries.wake(delivery_id)
        ]
        if self._notice_stock is not None:
            woken += self._notice_stock.wake_for_order(order)
        return woken

    def _deliver_notice(self, delivery: Delivery) -> DeliveryAttempt:
        """A send-code notice's delivery: its cards claimed from its product's stock (or it
        waits for stock), then ma.send under the notice's order id and token."""
        stock = self._notice_stock
        if stock is None:
            raise RuntimeError("this delivery function serves no notice deliveries")
        delivery_id = delivery.delivery_id
        first = delivery.first_position
        if first is None:
            delivery = stock.resolved(delivery)
            refusal = self._cannot_send_notice(delivery)
            if refusal is not None:  # before any card is claimed: nothing is taken or sent
                return DeliveryAttempt(
                    DeliveryStatus.FAILED, acted=self._deliveries.fail(delivery_id, refusal)
                )
            placed = stock.claim(delivery)
            if isinstance(placed, NoStock):
                return DeliveryAttempt(DeliveryStatus.WAITING_STOCK, acted=stock.wait(placed))
            first = placed.first
        sending = self._deliveries.start_sending(delivery_id, first)
        if sending is None:  # finished meanwhile by another attempt
            return DeliveryAttempt(None, acted=False)
        request = sending.request
        order_key, template_no = sending.order_key, sending.template_no
        if not isinstance(request, NoticeDeliveryRequest) or order_key is None or not template_no:
            raise RuntimeError(f"delivery {delivery_id} is sending without its cards' order")
        try:
            cards = self._cards.read_cards(order_key, template_no, sending.positions)
            results = self._ma_send_notice(request, cards)
        except Exception as error:
            # Every failure of a notice's ma.send is tried again (§4.5), bounded: the
            # delivery then gives up with its reason and `cardmaker dlq redrive --reopen`
            # sends the same cards again.
            self._give_up_if_last(sending, error)
            raise
        finished = sending.finished(results)
        return DeliveryAttempt(finished.status, acted=self._deliveries.finish(finished))

    def _cannot_send_notice(self, delivery: Delivery) -> str | None:
        request = delivery.request
        if request.own_sign is not None and not self._serves_environment(request.own_sign):
            return (
                f"refused: the product's own_sign {request.own_sign} is not delivered through"
                " a production TOP gateway (TOP_GATEWAY_URL)"
            )
        if not self._top.has_session():
            return "refused: ma.send needs a TOP session key and the TOP secret has no session_key"
        return None

    def _cannot_send(self, request: EticketDeliveryRequest | BindDeliveryRequest) -> str | None:
        """Why this deployment can never send the delivery, whatever the retries; None if
        it can."""
        if not self._serves_environment(request.own_sign):
            return (
                f"refused: own_sign {request.own_sign} orders are not delivered through a "
                "production TOP gateway (TOP_GATEWAY_URL)"
            )
        if isinstance(request, EticketDeliveryRequest) and not self._top.has_session():
            return "refused: ma.send needs a TOP session key and the TOP secret has no session_key"
        return None

    def _generated_count(self, delivery: Delivery, order_key: OrderKey) -> int | None:
        """How many cards the delivery's template has, once its order is GENERATED."""
        stored = self._orders.get(order_key)
        if stored is None or not stored.order.status.has_cards:
            return None
        template_no = delivery.template_no
        template = None if template_no is None else stored.order.template(template_no)
        return None if template is None else template.count

    def _send(self, delivery: Delivery, cards: list[Card]) -> list[CardResult]:
        request = delivery.request
        if isinstance(request, NoticeDeliveryRequest):
            return self._ma_send_notice(request, cards)
        if isinstance(request, EticketDeliveryRequest):
            return self._ma_send(request, cards)
        return self._bind(request, cards)

    def _ma_send(self, request: EticketDeliveryRequest, cards: list[Card]) -> list[CardResult]:
        secrets = self._secrets.open(cards)  # in clear only here, on their way to TOP
        answer = self._ma_send_call(request, cards, secrets)
        result = MaSendResult.from_response(answer)
        if result.succeeded:
            return [_result(card, CardOutcome.ISSUED) for card in cards]
        # The codes and our words, never ret_msg: it may quote the cards it refused.
        code = recorded_code(result.ret_code, [request.token, *secrets])
        return [_result(card, CardOutcome.FAILED, code, NOT_ISSUED) for card in cards]

    def _ma_send_notice(
        self, request: NoticeDeliveryRequest, cards: list[Card]
    ) -> list[CardResult]:
        """ma.send for a notice: success, or one of the two codes that settle it (§4.5):
        already sent (ISSUED) or the order cannot take codes (FAILED, never retried). Any
        other answer raises ``NoticeSendUnsettled`` (or the TOP error): tried again."""
        secrets = self._secrets.open(cards)  # in clear only here, on their way to TOP
        withheld = [request.token, *secrets]
        try:
            answer = self._ma_send_call(request, cards, secrets)
        except TopError as error:
            settled = notice_send_final(error.sub_code)
            if settled is None:
                raise
            return _settled(cards, settled, recorded_code(error.sub_code, withheld))
        result = MaSendResult.from_response(answer)
        if result.succeeded:
            return [_result(card, CardOutcome.ISSUED) for card in cards]
        code = recorded_code(result.ret_code, withheld)
        settled = notice_send_final(result.ret_code)
        if settled is None:
            raise NoticeSendUnsettled(code)
        return _settled(cards, settled, code)

    def _ma_send_call(
        self,
        request: EticketDeliveryRequest | NoticeDeliveryRequest,
        cards: list[Card],
        secrets: list[str],
    ) -> dict[str, Any]:
        numbers = [card.card_no for card in cards]
        call = MaSendRequest(
            outer_id=request.outer_id,
            token=request.token,
            biz_type=request.biz_type,
            certificate_type=request.certificate_type,
            group_redeem=request.group_redeem
            if isinstance(request, EticketDeliveryRequest)
            else None,
            isv_ka_list=[
                IsvKa(ka_no=no, ka_mi=secret) for no, secret in zip(numbers, secrets, strict=True)
            ]
            if request.certificate_type == 1
            else None,
            isv_ma_list=[IsvMa(code=secret) for secret in secrets]
            if request.certificate_type == 0
            else None,
        )
        return self._top.call(
            MaSendRequest.METHOD, call.to_params(self._ka_list_shape), with_session=True
        )

    def _bind(self, request: BindDeliveryRequest, cards: list[Card]) -> list[CardResult]:
        # One call for the whole delivery: out_biz_id (购卡流水号) names one purchase, so a
        # second call under it could be taken for a repeat of the first; and a repeat after a
        # lost answer carries exactly the same cards.
        call = CardBindRequest(
            top_app_key=self._bind_app_key,
            out_biz_id=request.out_biz_id,
            card_no_s=[card.card_no for card in cards],
            card_bind_user_nick=request.buyer_nick,
            buyer_open_uid=request.buyer_open_uid,
        )
        answer = CardBindResult.from_response(
            self._top.call(CardBindRequest.METHOD, call.to_params())
        )
        invalid, failed = set(answer.invalid_card_no_s), set(answer.bind_fail_card_no_s)
        # Our codes and words, never the answer's message: it may quote the request.
        results: list[CardResult] = []
        for card in cards:
            number = card.card_no
            if number in invalid:
                results.append(_result(card, CardOutcome.INVALID, "invalid", INVALID_CARD))
            elif number in failed:
                results.append(_result(card, CardOutcome.BIND_FAILED, "bind_fail", BIND_FAILED))
            elif answer.success:
                results.append(_result(card, CardOutcome.BOUND))
            else:
                results.append(_result(card, CardOutcome.FAILED, "not_bound", NOT_BOUND))
        return results

    def _give_up_if_last(self, delivery: Delivery, error: Exception) -> None:
        if delivery.attempts >= self._max_attempts:
            self._deliveries.fail(
                delivery.delivery_id,
                f"gave up after {delivery.attempts} attempts: {_describe(error)}",
            )


def _operator_request(delivery: Delivery) -> EticketDeliveryRequest | BindDeliveryRequest:
    request = delivery.request
    if isinstance(request, NoticeDeliveryRequest):
        # Notice deliveries (claimed from a product's stock) are being built: no code path
        # creates one yet.
        raise NotImplementedError("notice deliveries")
    return request


def _describe(error: Exception) -> str:
    if isinstance(error, TopError):
        return error.describe()
    if isinstance(error, NoticeSendUnsettled):
        return f"ma.send answered {error.code or 'no code'}"
    return type(error).__name__


def _settled(cards: list[Card], issued: bool, code: str | None) -> list[CardResult]:
    """A notice's ma.send settled by its code: already sent, or impossible."""
    if issued:
        return [_result(card, CardOutcome.ISSUED, code, ALREADY_SENT) for card in cards]
    return [_result(card, CardOutcome.FAILED, code, ORDER_CANNOT_TAKE_CODES) for card in cards]


def _refused(card: Card, error: TopError, withheld: list[str]) -> CardResult:
    """The platform refused the call: its codes and our words, never its msg / sub_msg
    (they may quote the call, card secrets included)."""
    code = recorded_code(error.sub_code or str(error.top_code), withheld)
    return _result(card, CardOutcome.FAILED, code, refused_call(error.top_code))


def _withheld(request: EticketDeliveryRequest | BindDeliveryRequest) -> list[str]:
    """The values of the call no recorded code may quote (the card secrets, opened only on
    their way to TOP, are beyond a refused call's reach here: ``recorded_code`` turns
    anything shaped like one away)."""
    return [request.token] if isinstance(request, EticketDeliveryRequest) else []


def _result(
    card: Card, outcome: CardOutcome, code: str | None = None, message: str | None = None
) -> CardResult:
    return CardResult(
        card_no=card.card_no,
        position=card.position,
        outcome=outcome,
        code=code,
        message=message,
    )
