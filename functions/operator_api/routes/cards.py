"""``GET /cards/{card_no}``: where a card stands and who holds it (never its secret);
``POST /orders/{card_order_id}/templates/{template_no}/print-run/release``: give back what a
print run claimed and has not printed."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from caller import put_on_record, requester

from cardmaker import (
    EXAMPLE_CARD_NO,
    IAM,
    AuditAction,
    CardNo,
    CardNumberInvalid,
    CardView,
    NotFoundAnswer,
    OrderKey,
    PrintReleaseView,
    ProblemAnswer,
    TemplateNo,
    about,
    answer_body,
    json_content,
    logger,
    runtime,
    tracer,
)
from routes.parameters import OrderIdPath, OwnSignQuery

router = Router()


@router.get(
    "/cards/<card_no>",
    summary="Look a card up by its number: its order, template, position and state",
    description="IAM-authorized (SigV4). The state is read from the records as they are "
    "(the template's allocation cursor, the claim holding the card, the holder's outcome): "
    "AVAILABLE, ALLOCATED, ISSUED, BOUND, PRINTED or VOIDED, with the delivery or print run "
    "holding it and since when. Never the card's secret.",
    tags=["cards"],
    security=IAM,
    responses={
        200: {"description": "The card", "content": json_content(CardView)},
        404: {"description": "No card has this number", "content": json_content(NotFoundAnswer)},
        422: {
            "description": "Not a card number of this stack's scheme (its length, prefix or "
            "check digit)",
            "content": json_content(ProblemAnswer),
        },
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def get_card(
    card_no: Annotated[
        CardNo,
        Path(
            description="The card number, digits only",
            openapi_examples={"seed": {"value": EXAMPLE_CARD_NO}},
        ),
    ],
) -> dict[str, Any]:
    scheme = runtime.card_number_scheme()
    if not scheme.is_well_formed(card_no):
        # Digits, but not of this scheme: the rule, never the number.
        raise CardNumberInvalid(
            f"card_no must be {scheme.length} digits starting with {scheme.prefix or '-'}"
            + (" with a valid Luhn check digit" if scheme.check_digit == "luhn" else ""),
        )
    card = runtime.card_lookup().find(card_no)
    about(card_order_id=card.order.card_order_id, own_sign=card.order.own_sign)
    return answer_body(CardView.of(card))


@router.post(
    "/orders/<card_order_id>/templates/<template_no>/print-run/release",
    summary="Give back what the template's print run claimed and has not printed",
    description="IAM-authorized (SigV4). The print run's cards become AVAILABLE to later "
    "deliveries again, and the release is recorded (who signed the request, when, which "
    "positions); the order's deliveries waiting for stock go on (`woken`). Refused (409) "
    "when no print run holds cards of the template, or when its file was written (an export "
    "marks the print run printed: printed cards are never handed out). An export still "
    "running when its print run is released fails and removes its file. Nothing is written "
    "on a 403, 404, 409 or 422.",
    tags=["cards"],
    security=IAM,
    responses={
        200: {"description": "Released", "content": json_content(PrintReleaseView)},
        403: {
            "description": "The request came with no IAM identity: nobody could be held to "
            "the release",
            "content": json_content(ProblemAnswer),
        },
        404: {
            "description": "No such order in this environment",
            "content": json_content(NotFoundAnswer),
        },
        409: {
            "description": "Nothing to release: no print run holds cards, or it was printed",
            "content": json_content(ProblemAnswer),
        },
        422: {
            "description": "A bad id, template_no or own_sign, or a template the order does "
            "not have",
            "content": json_content(ProblemAnswer),
        },
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def release_print_run(
    card_order_id: OrderIdPath,
    template_no: Annotated[TemplateNo, Path(description="The template whose print run")],
    own_sign: OwnSignQuery = "online",
) -> Response[dict[str, Any]]:
    about(card_order_id=card_order_id, own_sign=own_sign)
    key = OrderKey(own_sign, card_order_id)
    raw_event = router.current_event.raw_event
    released_by = requester(raw_event)
    releases = runtime.print_releases()
    release = releases.release(key, template_no, released_by)
    # On record at once, before the deliveries are woken: a release cannot be asked again
    # (a second one is refused, nothing left to release), so nothing may fail in between.
    put_on_record(
        raw_event,
        AuditAction.PRINT_CLAIM_RELEASED,
        f"{key.making_card_no}/{template_no}",
        order=key,
        details={"first_position": release.positions.start, "count": release.count},
    )
    # The order's deliveries waiting for stock go on (after the release is recorded: a
    # failure here leaves the cards released and the deliveries waiting, as before).
    woken = releases.wake_waiting(key)
    logger.info(
        "print run released",
        template_no=template_no,
        first_position=release.positions.start,
        count=release.count,
        released_by=released_by.user_arn,
        woken=woken,
    )
    return Response(
        status_code=HTTPStatus.OK,
        content_type="application/json",
        body=answer_body(PrintReleaseView.of(key, release, woken)),
    )
