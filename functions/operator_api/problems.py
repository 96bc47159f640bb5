"""The operator API's answer to an error: the one place where errors become HTTP statuses.

Every problem answer is built from its model (``cardmaker.api_models``): 404 a
``NotFoundAnswer``, an order's step refused by its state an ``OrderStateConflictAnswer`` (a
``ProblemAnswer`` naming the order's status), the rest a ``ProblemAnswer`` in the shape of the
resolver's own 422s.
"""

# No `from __future__ import annotations`: Powertools reads the handlers' annotations.
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import BaseModel

from cardmaker import (
    AuditRefused,
    CardNumberInvalid,
    DeliveryConflict,
    DeliveryRefused,
    DeliveryRequest,
    DeliveryStateConflict,
    DeliveryStateConflictAnswer,
    DeliveryStatus,
    NotFound,
    NotFoundAnswer,
    OrderStateConflict,
    OrderStateConflictAnswer,
    OrderStatus,
    PageTokenInvalid,
    PrintRefused,
    Problem,
    ProblemAnswer,
    RequesterUnknown,
    answer_body,
    request_bounds,
    union_tags,
    validation_sentence,
)

# Exception handlers only; the app includes it with the routes.
router = Router()
# Both ends of the request bodies' ranges, for sentences that state them.
_BODY_BOUNDS = request_bounds(DeliveryRequest)
_BODY_KINDS = union_tags(DeliveryRequest)


@router.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    # The resolver's own answer is pydantic's codes alone (`less_than_equal`); the same
    # fields and codes, for programs, with a sentence naming the rule and its bound, for
    # people. Never the input: pydantic's own msg and input are left out.
    problems = [
        Problem(
            loc=list(problem["loc"]),
            type=problem["type"],
            msg=validation_sentence(problem, _BODY_BOUNDS, _BODY_KINDS),
        )
        for problem in error.errors()
    ]
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    return _answer(status, ProblemAnswer(status_code=status, detail=problems))


@router.exception_handler(NotFound)
def not_found(error: NotFound) -> Response[dict[str, Any]]:
    return _answer(HTTPStatus.NOT_FOUND, NotFoundAnswer(message=error.message))


@router.exception_handler(DeliveryConflict)
def delivery_conflict(error: DeliveryConflict) -> Response[dict[str, Any]]:
    return _refused(HTTPStatus.CONFLICT, "refused", error.message, field=error.field)


@router.exception_handler(OrderStateConflict)
def order_state_conflict(error: OrderStateConflict) -> Response[dict[str, Any]]:
    # The order the path names is where it is: the request itself is well formed.
    refusal = ProblemAnswer.refusal(
        HTTPStatus.CONFLICT, "order_state", error.message, field="card_order_id", where="path"
    )
    answer = OrderStateConflictAnswer(
        status_code=refusal.status_code, detail=refusal.detail, status=OrderStatus(error.status)
    )
    return _answer(HTTPStatus.CONFLICT, answer)


@router.exception_handler(DeliveryStateConflict)
def delivery_state_conflict(error: DeliveryStateConflict) -> Response[dict[str, Any]]:
    # The delivery the path names is where it is: the request itself is well formed.
    refusal = ProblemAnswer.refusal(
        HTTPStatus.CONFLICT, "delivery_state", error.message, field="delivery_id", where="path"
    )
    answer = DeliveryStateConflictAnswer(
        status_code=refusal.status_code,
        detail=refusal.detail,
        status=DeliveryStatus(error.status),
    )
    return _answer(HTTPStatus.CONFLICT, answer)


@router.exception_handler(PageTokenInvalid)
def page_token_invalid(error: PageTokenInvalid) -> Response[dict[str, Any]]:
    return _refused(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "invalid_page_token",
        error.message,
        field="next",
        where="query",
    )


@router.exception_handler(CardNumberInvalid)
def card_number_invalid(error: CardNumberInvalid) -> Response[dict[str, Any]]:
    return _refused(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "invalid_card_no",
        error.message,
        field="card_no",
        where="path",
    )


@router.exception_handler(PrintRefused)
def print_refused(error: PrintRefused) -> Response[dict[str, Any]]:
    # A template the order does not have is a bad request; the rest is where the print run
    # stands (none holds cards, or it was printed): a conflict with the records.
    if error.reason == "no_such_template":
        return _refused(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "no_such_template",
            error.message,
            field="template_no",
            where="path",
        )
    return _refused(
        HTTPStatus.CONFLICT, error.reason, error.message, field="template_no", where="path"
    )


@router.exception_handler(DeliveryRefused)
def delivery_refused(error: DeliveryRefused) -> Response[dict[str, Any]]:
    return _refused(HTTPStatus.UNPROCESSABLE_ENTITY, "refused", error.message, field=error.field)


@router.exception_handler(AuditRefused)
def audit_refused(error: AuditRefused) -> Response[dict[str, Any]]:
    return _refused(HTTPStatus.UNPROCESSABLE_ENTITY, "refused", error.message, field=error.field)


@router.exception_handler(RequesterUnknown)
def requester_unknown(error: RequesterUnknown) -> Response[dict[str, Any]]:
    return _refused(HTTPStatus.FORBIDDEN, "no_iam_identity", error.message)


@router.exception_handler(UnicodeDecodeError)
def body_not_utf8(error: UnicodeDecodeError) -> Response[dict[str, Any]]:
    # Only a JSON body the resolver decodes for validation can fail this way; unanswered, it
    # would be a function error (5xx).
    return _refused(HTTPStatus.UNPROCESSABLE_ENTITY, "body_not_utf8", "the body is not UTF-8")


@router.exception_handler(RecursionError)
def body_too_deep(error: RecursionError) -> Response[dict[str, Any]]:
    # JSON nested ~1,000 deep exhausts the parser's recursion (found by the hostile-input
    # suite): a refusal, not a function error.
    return _refused(
        HTTPStatus.UNPROCESSABLE_ENTITY, "body_too_deep", "the body is nested too deeply"
    )


@router.exception_handler(RequestUnsupportedContentType)
def unsupported_body_type(error: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
    return _refused(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", "send application/json"
    )


def _refused(
    status: int, kind: str, message: str, *, field: str | None = None, where: str = "body"
) -> Response[dict[str, Any]]:
    return _answer(status, ProblemAnswer.refusal(status, kind, message, field=field, where=where))


def _answer(status: int, answer: BaseModel) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type="application/json", body=answer_body(answer))
