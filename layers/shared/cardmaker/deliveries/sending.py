"""Carrying out deliveries (the delivery function's side).

A delivery's cards are a range of positions of one (order, template), claimed once from the
template's cursor and kept on the delivery: every attempt sends exactly those cards, with the
same outer_id / token / out_biz_id, so that after a timeout with an unknown outcome the
platform can recognise the repeat. Secrets are opened only in memory, on their way to TOP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardmaker.deliveries.delivery import CardOutcome, CardResult, Delivery, DeliveryStatus
from cardmaker.deliveries.models import (
    BindDeliveryRequest,
    EticketDeliveryRequest,
    NoticeDeliveryRequest,
)
from cardmaker.deliveries.platform_codes import (
    BIND_FAILED,
    INVALID_CARD,
    NOT_BOUND,
    NOT_ISSUED,
    recorded_code,
    refused_call,
)
from cardmaker.errors import TopError
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
    ) -> None:
        """``serves_environment(own_sign)``: may the gateway deliver that environment's
        orders (a production gateway: ``online`` only)."""
        self._deliveries = deliveries
        self._orders = orders
        self._cards = cards
        self._secrets = secrets
        self._top = top
        self._bind_app_key = bind_app_key
        self._ka_list_shape = ka_list_shape
        self._max_attempts = max_attempts
        self._serves_environment = serves_environment

    def deliver(self, delivery_id: str) -> DeliveryAttempt:
        """Carry out a PENDING (or interrupted SENDING) delivery. A delivery in any other
        state (a stream record replayed after it finished, say) is left as it is."""
        delivery = self._deliveries.get(delivery_id)
        if delivery is None:
            return DeliveryAttempt(None, acted=False)
        if delivery.status not in {DeliveryStatus.PENDING, DeliveryStatus.SENDING}:
            return DeliveryAttempt(delivery.status, acted=False)
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
        """The order is GENERATED: put its deliveries waiting for stock back in line."""
        return [
            delivery_id
            for delivery_id in self._deliveries.waiting_for_stock(order)
            if self._deliveries.wake(delivery_id)
        ]

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
            raise NotImplementedError("notice deliveries")
        if isinstance(request, EticketDeliveryRequest):
            return self._ma_send(request, cards)
        return self._bind(request, cards)

    def _ma_send(self, request: EticketDeliveryRequest, cards: list[Card]) -> list[CardResult]:
        secrets = self._secrets.open(cards)  # in clear only here, on their way to TOP
        numbers = [card.card_no for card in cards]
        call = MaSendRequest(
            outer_id=request.outer_id,
            token=request.token,
            biz_type=request.biz_type,
            certificate_type=request.certificate_type,
            group_redeem=request.group_redeem,
            isv_ka_list=[
                IsvKa(ka_no=no, ka_mi=secret) for no, secret in zip(numbers, secrets, strict=True)
            ]
            if request.certificate_type == 1
            else None,
            isv_ma_list=[IsvMa(code=secret) for secret in secrets]
            if request.certificate_type == 0
            else None,
        )
        answer = self._top.call(
            MaSendRequest.METHOD, call.to_params(self._ka_list_shape), with_session=True
        )
        result = MaSendResult.from_response(answer)
        if result.succeeded:
            return [_result(card, CardOutcome.ISSUED) for card in cards]
        # The codes and our words, never ret_msg: it may quote the cards it refused.
        code = recorded_code(result.ret_code, [request.token, *secrets])
        return [_result(card, CardOutcome.FAILED, code, NOT_ISSUED) for card in cards]

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
    return type(error).__name__


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
