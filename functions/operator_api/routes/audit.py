"""``GET /audit``: the operators' actions on record, newest first; ``POST /audit``: an action
the cardmaker command did straight against AWS (a print run, a redrive, a reopen), reported
to be put on record under the IAM principal who signs the report."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from caller import requester

from cardmaker import (
    DEFAULT_AUDIT_PAGE,
    EXAMPLE_MAKING_CARD_NO,
    EXAMPLE_REPORT,
    IAM,
    MAX_AUDIT_PAGE,
    MAX_TOKEN_LENGTH,
    AuditAction,
    AuditEntryView,
    AuditList,
    AuditReport,
    MakingCardNo,
    OrderKey,
    ProblemAnswer,
    answer_body,
    json_content,
    logger,
    runtime,
    tracer,
)

router = Router()


@router.get(
    "/audit",
    summary="The operators' actions on record, newest first",
    description="IAM-authorized (SigV4). Every delivery created, order made or shipped, "
    "product mapped, print run exported, failed batch redriven and reopened: who (the IAM "
    "principal) and when. All of them, or one order's (`order`); a page at a time (pass "
    "`next` back, with the same `order`). One order's entries are eventually consistent: "
    "one recorded a moment ago may not be listed yet.",
    tags=["audit"],
    security=IAM,
    responses={
        200: {"description": "A page of the trail", "content": json_content(AuditList)},
        422: {
            "description": "A bad order or limit, or a next token that is not a whole token "
            "of this listing",
            "content": json_content(ProblemAnswer),
        },
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def list_audit(
    order: Annotated[
        MakingCardNo | None,
        Query(
            description="Only this order's entries (its making_card_no)",
            openapi_examples={"order": {"value": EXAMPLE_MAKING_CARD_NO}},
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_AUDIT_PAGE, description="At most this many entries")
    ] = DEFAULT_AUDIT_PAGE,
    next_token: Annotated[
        str | None,
        Query(
            alias="next",
            max_length=MAX_TOKEN_LENGTH,
            description="The `next` of the previous page, as it came",
        ),
    ] = None,
) -> dict[str, Any]:
    key = _order_key(order) if order else None
    return answer_body(AuditList.of(runtime.audit_trail().page(key, limit, next_token)))


@router.post(
    "/audit",
    summary="Put on record an action the cardmaker command did straight against AWS",
    description="IAM-authorized (SigV4). For what the command does with the AWS APIs rather "
    "than through this API (cards export, dlq redrive, --reopen): recorded with `source` "
    "`cli`, under the IAM principal who signs this request. The other actions are recorded "
    "by the routes that do them and cannot be reported. Nothing is written on a 403, 415 or "
    "422.",
    tags=["audit"],
    security=IAM,
    responses={
        201: {"description": "On record", "content": json_content(AuditEntryView)},
        403: {
            "description": "The request came with no IAM identity: nobody could be held to it",
            "content": json_content(ProblemAnswer),
        },
        415: {
            "description": "The body is not application/json",
            "content": json_content(ProblemAnswer),
        },
        422: {
            "description": "Invalid (the failing fields), or a detail whose name says it "
            "could hold a secret",
            "content": json_content(ProblemAnswer),
        },
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def report(
    reported: Annotated[
        AuditReport,
        Body(openapi_examples={"export": {"summary": "A print run", "value": EXAMPLE_REPORT}}),
    ],
) -> Response[dict[str, Any]]:
    entry = runtime.audit_trail().record(
        AuditAction(reported.action),
        requester(router.current_event.raw_event),
        reported.subject,
        order=_order_key(reported.making_card_no) if reported.making_card_no else None,
        details=reported.details,
        source="cli",
    )
    logger.info("action reported", action=entry.action.value, entry_id=entry.entry_id)
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type="application/json",
        body=answer_body(AuditEntryView.of(entry)),
    )


def _order_key(making_card_no: str) -> OrderKey:
    _, own_sign, card_order_id = making_card_no.split("-", 2)
    return OrderKey(own_sign, int(card_order_id))  # type: ignore[arg-type]
