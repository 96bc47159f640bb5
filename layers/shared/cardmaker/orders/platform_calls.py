"""The platform's lifecycle SPI calls, from a verified call to a validated request, and the
root each SPI answer goes under: the one place for what the platform's documents leave
unconfirmed (platform-apis.md §2.8, §7.1), so that a fact learned in joint testing (联调)
changes one module.

Not confirmed, and accepted in every plausible shape:

* ``cardorder.status.query`` has one parameter, the struct ``request``. TOP sends a struct as
  JSON text in a form field (or a query parameter) named by the parameter:
  ``request={"card_order_id":16002,"own_sign":"daily"}``. In a JSON body it may be nested,
  ``{"request": {...}}`` (or ``{"request": "<JSON text>"}``), or the struct's fields may be
  the body itself, ``{"card_order_id": 16002, "own_sign": "daily"}``: all are taken. A JSON
  body with ``request`` *and* the struct's fields is refused (two readings of one call). A
  flat form (``card_order_id=...`` as form fields) is not TOP's encoding of a struct and is
  refused by the verifier as unknown parameters: the verifier takes only a method's own
  parameter names, and with ``request`` among them the struct's field names may not appear
  inside its value (``cardmaker.top.spi._check_cut``).
* ``card.template.new`` and ``cardorder.receipt`` have flat parameters, like
  ``cardorder.make``: form fields (or query parameters) or a JSON body.
* The answer root. ``cardorder.make`` (seed 001) and ``status.query`` declare their fields
  under ``response``; ``template.new`` and ``receipt`` declare flat fields with no root
  (platform-apis.md §2.2, §2.3). Every method answers under ``response`` here (the design
  contract), a refusal included: ``ANSWER_ROOTS`` is the line to change if the platform turns
  out to want another root for the flat ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from cardmaker.errors import InvalidParameter
from cardmaker.orders.models import ReceiptNotice, StatusQueryRequest, json_struct
from cardmaker.orders.spi_call import CARDORDER_MAKE, call_fields, describe_validation_error
from cardmaker.orders.templates import CardTemplateAnnouncement
from cardmaker.top.envelopes import SPI_ANSWER_ROOT

if TYPE_CHECKING:
    from cardmaker.top.spi import VerifiedSpiCall

Model = TypeVar("Model", bound=BaseModel)

CARDORDER_STATUS_QUERY = "alibaba.fundplatform.cardorder.status.query"
CARD_TEMPLATE_NEW = "alibaba.fundplatform.card.template.new"
CARDORDER_RECEIPT = "alibaba.fundplatform.cardorder.receipt"

# Each method's business parameter names, as the verifier takes them in the query and the
# form (functions/top_spi/methods.py): the models' fields, so that they cannot drift apart.
STATUS_QUERY_STRUCT = "request"
STATUS_QUERY_PARAMETERS = frozenset({STATUS_QUERY_STRUCT})
TEMPLATE_NEW_PARAMETERS = frozenset(CardTemplateAnnouncement.model_fields)
RECEIPT_PARAMETERS = frozenset(ReceiptNotice.model_fields)

# The root of each method's answer (see above): ``response`` for all four.
ANSWER_ROOTS: dict[str, str] = {
    CARDORDER_MAKE: SPI_ANSWER_ROOT,
    CARDORDER_STATUS_QUERY: SPI_ANSWER_ROOT,
    CARD_TEMPLATE_NEW: SPI_ANSWER_ROOT,
    CARDORDER_RECEIPT: SPI_ANSWER_ROOT,
}


def answer_root(method: str) -> str:
    """The root ``method``'s answers go under (``response`` for a method we do not serve)."""
    return ANSWER_ROOTS.get(method, SPI_ANSWER_ROOT)


class _StatusQueryCall(BaseModel):
    """``cardorder.status.query``'s parameters: the struct, as JSON text or nested JSON."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request: Annotated[StatusQueryRequest, BeforeValidator(json_struct)]


def parse_status_query(call: VerifiedSpiCall) -> StatusQueryRequest:
    """The order ``cardorder.status.query`` asks about, from any shape above."""
    fields = call_fields(call, "cardorder.status.query")
    struct_fields = set(StatusQueryRequest.model_fields)
    if call.body_kind == "json" and STATUS_QUERY_STRUCT not in fields:
        fields = {STATUS_QUERY_STRUCT: fields}  # the struct's fields as the body itself
    elif call.body_kind == "json" and struct_fields & set(fields):
        raise InvalidParameter(
            "request: give the struct or its fields at the top of the body, not both"
        )
    return _validated(_StatusQueryCall, fields).request


def parse_template_new(call: VerifiedSpiCall) -> CardTemplateAnnouncement:
    """The template ``card.template.new`` announces."""
    return _validated(CardTemplateAnnouncement, call_fields(call, "card.template.new"))


def parse_receipt(call: VerifiedSpiCall) -> ReceiptNotice:
    """The order whose receipt ``cardorder.receipt`` reports."""
    return _validated(ReceiptNotice, call_fields(call, "cardorder.receipt"))


def _validated(model: type[Model], fields: dict[str, Any]) -> Model:
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise InvalidParameter(describe_validation_error(error)) from None
