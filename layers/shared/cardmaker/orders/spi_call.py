"""From a verified SPI call to a validated ``CardOrderMakeRequest``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cardmaker.errors import InvalidParameter
from cardmaker.orders.models import CardOrderMakeRequest

if TYPE_CHECKING:
    from cardmaker.top.spi import VerifiedSpiCall

CARDORDER_MAKE = "alibaba.fundplatform.cardorder.make"
# Its business parameters: the request model's fields, so that the names the verifier takes
# (functions/top_spi/methods.py) and the names the order is read from cannot drift apart.
CARDORDER_MAKE_PARAMETERS = frozenset(CardOrderMakeRequest.model_fields)
_MAX_REPORTED_ERRORS = 10


def parse_cardorder_make(call: VerifiedSpiCall) -> CardOrderMakeRequest:
    """Business parameters come from the query and form fields, or from a JSON body."""
    fields = call_fields(call, "cardorder.make")
    try:
        return CardOrderMakeRequest.model_validate(fields)
    except ValidationError as error:
        raise InvalidParameter(describe_validation_error(error)) from None


def call_fields(call: VerifiedSpiCall, method: str) -> dict[str, Any]:
    """A call's business fields: a JSON body's object, else the query and form fields (the
    system parameters among them are ignored by the request models)."""
    if call.body_kind == "json":
        return _json_object(call.body_text or "")
    if call.body_kind in ("form", "none"):
        return dict(call.params)
    raise InvalidParameter(f"{method} takes a form or JSON body")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidParameter("body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidParameter("body must be a JSON object")
    return value


def describe_validation_error(error: ValidationError) -> str:
    """The failing fields and why, never the input values (they may be long or hostile)."""
    problems = [
        f"{'.'.join(str(part) for part in detail['loc']) or 'order'}: {detail['msg']}"
        for detail in error.errors(include_url=False, include_input=False)
    ]
    shown = problems[:_MAX_REPORTED_ERRORS]
    if len(problems) > len(shown):
        shown.append(f"and {len(problems) - len(shown)} more")
    return "; ".join(shown)
