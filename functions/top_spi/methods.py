"""The SPI methods this back office serves: method name -> its parameters and its handler.

A handler gets a call whose signature, timestamp, app key and parameter names checked out and
returns the answer's fields; it raises a ``cardmaker.errors`` refusal to refuse (``refusals``
words the answer). A method missing here is refused with INVALID_METHOD. Add a method by
adding its entry here: its business parameter names (the only ones taken in the query and the
form, besides the system parameters) and its handler. How each call's parameters are read
(the shapes the platform's documents leave open) is ``cardmaker.orders.platform_calls``'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from cardmaker import (
    CARD_TEMPLATE_NEW,
    CARDORDER_MAKE,
    CARDORDER_MAKE_PARAMETERS,
    CARDORDER_RECEIPT,
    CARDORDER_STATUS_QUERY,
    RECEIPT_PARAMETERS,
    STATUS_QUERY_PARAMETERS,
    TEMPLATE_NEW_PARAMETERS,
    OrderKey,
    about,
    logger,
    metrics,
    parse_cardorder_make,
    parse_receipt,
    parse_status_query,
    parse_template_new,
    runtime,
)
from cardmaker.top import SpiAnswerFields, VerifiedSpiCall, utc_now


@dataclass(frozen=True)
class SpiMethod:
    """One SPI method: the business parameters it takes and the handler of a verified call."""

    parameters: frozenset[str]
    serve: Callable[[VerifiedSpiCall], SpiAnswerFields]


def make_cards(call: VerifiedSpiCall) -> SpiAnswerFields:
    """``alibaba.fundplatform.cardorder.make``: store the order (once) and answer at once."""
    request = parse_cardorder_make(call)
    logger.set_correlation_id(OrderKey(request.own_sign, request.card_order_id).label)
    about(card_order_id=request.card_order_id, own_sign=request.own_sign)
    acceptance = runtime.order_service().receive(request)
    event = "OrderReplayed" if acceptance.replayed else "OrderReceived"
    metrics.add_metric(name=event, unit=MetricUnit.Count, value=1)
    logger.info(event, card_count=request.card_count, templates=len(request.card_product_infos))
    # A replay gets exactly the first answer; only logs and metrics tell them apart.
    return SpiAnswerFields.accepted("order received", acceptance.making_card_no)


def query_status(call: VerifiedSpiCall) -> SpiAnswerFields:
    """``alibaba.fundplatform.cardorder.status.query``: where the order is, read only. An
    order we never received is no refusal: the platform's enum says so, REQUEST_NOT_EXIST."""
    request = parse_status_query(call)
    key = OrderKey(request.own_sign, request.card_order_id)
    logger.set_correlation_id(key.label)
    about(card_order_id=request.card_order_id, own_sign=request.own_sign)
    progress = runtime.spi_lifecycle().progress(key)
    metrics.add_metric(name="StatusQueried", unit=MetricUnit.Count, value=1)
    logger.info("StatusQueried", status=progress.status)
    waybill = progress.waybill
    return SpiAnswerFields.progress(
        f"order is {progress.status}",
        progress.status,
        logistics_company=waybill.logistics_company if waybill else None,
        logistics_order_id=waybill.logistics_order_id if waybill else None,
    )


def announce_template(call: VerifiedSpiCall) -> SpiAnswerFields:
    """``alibaba.fundplatform.card.template.new``: register the template (its same content
    again is a replay; other content is its next version, the earlier ones kept)."""
    announcement = parse_template_new(call)
    about(own_sign=announcement.own_sign)
    announced = runtime.spi_templates().announce(announcement, utc_now())
    event = "TemplateReplayed" if announced.replayed else "TemplateAnnounced"
    metrics.add_metric(name=event, unit=MetricUnit.Count, value=1)
    logger.info(
        event,
        template_no=announcement.template_no,
        version=announced.template.version,
        is_test=announcement.is_test,
    )
    return SpiAnswerFields.accepted("template registered")


def confirm_receipt(call: VerifiedSpiCall) -> SpiAnswerFields:
    """``alibaba.fundplatform.cardorder.receipt``: the buyer confirmed receipt; the order
    becomes CONFIRMED (once). Unknown order: ORDER_NOT_FOUND; cards not made yet:
    INVALID_ORDER_STATUS (``refusals``)."""
    notice = parse_receipt(call)
    key = OrderKey(notice.own_sign, notice.card_order_id)
    logger.set_correlation_id(key.label)
    about(card_order_id=notice.card_order_id, own_sign=notice.own_sign)
    transition = runtime.spi_lifecycle().confirm(key)
    event = "ReceiptConfirmed" if transition.changed else "ReceiptReplayed"
    metrics.add_metric(name=event, unit=MetricUnit.Count, value=1)
    logger.info(event, status=transition.status.value)
    return SpiAnswerFields.accepted("receipt confirmed")


SPI_METHODS: dict[str, SpiMethod] = {
    CARDORDER_MAKE: SpiMethod(parameters=CARDORDER_MAKE_PARAMETERS, serve=make_cards),
    CARDORDER_STATUS_QUERY: SpiMethod(parameters=STATUS_QUERY_PARAMETERS, serve=query_status),
    CARD_TEMPLATE_NEW: SpiMethod(parameters=TEMPLATE_NEW_PARAMETERS, serve=announce_template),
    CARDORDER_RECEIPT: SpiMethod(parameters=RECEIPT_PARAMETERS, serve=confirm_receipt),
}


def business_parameters() -> dict[str, frozenset[str]]:
    """Each method served and its business parameter names, for the verifier."""
    return {name: method.parameters for name, method in SPI_METHODS.items()}
