"""The SPI methods this back office serves: method name -> its parameters and its handler.

A handler gets a call whose signature, timestamp, app key and parameter names checked out and
returns the answer's fields; it raises a ``cardmaker.errors`` refusal to refuse (``refusals``
words the answer). A method missing here is refused with INVALID_METHOD. Add a method by
adding its entry here: its business parameter names (the only ones taken in the query and the
form, besides the system parameters) and its handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from cardmaker import (
    CARDORDER_MAKE,
    CARDORDER_MAKE_PARAMETERS,
    OrderKey,
    about,
    logger,
    metrics,
    parse_cardorder_make,
    runtime,
)
from cardmaker.top import SpiAnswerFields, VerifiedSpiCall


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


SPI_METHODS: dict[str, SpiMethod] = {
    CARDORDER_MAKE: SpiMethod(parameters=CARDORDER_MAKE_PARAMETERS, serve=make_cards),
}


def business_parameters() -> dict[str, frozenset[str]]:
    """Each method served and its business parameter names, for the verifier."""
    return {name: method.parameters for name, method in SPI_METHODS.items()}
