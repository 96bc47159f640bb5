"""The HTTP API: the platform's SPI entry point and the operators' order lookup.

Thin on purpose: turn the event into the layer's types, call the domain, answer. The route
decorators also document each route for the OpenAPI document (``make openapi`` writes
docs/openapi.json from them); the answer models live in the layer, next to their domain.
"""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
import base64
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponseContentModel,
    OpenAPIResponseContentSchema,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardmaker import runtime
from cardmaker.api_models import (
    API_DESCRIPTION,
    API_SERVERS,
    API_TAGS,
    IAM,
    SECURITY_SCHEMES,
    NotFoundAnswer,
    ProblemAnswer,
)
from cardmaker.deliveries.api_models import (
    DELIVERY_ID_PATTERN,
    EXAMPLE_BIND,
    EXAMPLE_DELIVERY_ID,
    EXAMPLE_ETICKET,
    DeliveryAccepted,
    DeliveryView,
)
from cardmaker.deliveries.models import DeliveryRequest
from cardmaker.errors import (
    DeliveryConflict,
    DeliveryRefused,
    InvalidMethod,
    InvalidParameter,
    InvalidSignature,
    InvalidTimestamp,
    NotFound,
    OrderConflict,
    SpiRefused,
)
from cardmaker.observability import logger, metrics, tracer
from cardmaker.orders import (
    CARDORDER_MAKE,
    MAX_ORDER_ID,
    OrderKey,
    OwnSign,
    parse_cardorder_make,
)
from cardmaker.orders.api_models import (
    EXAMPLE_ORDER_ID,
    EXAMPLE_OWN_SIGN,
    OrderView,
    cardorder_make_body_schemas,
)
from cardmaker.top import (
    SpiAnswer,
    SpiRequest,
    encode_spi_answer,
    requested_format,
    verify_spi_call,
)
from cardmaker.top.api_models import (
    SPI_QUERY_PARAMETERS,
    SPI_SIGN_LIST_HEADER,
    SpiAnswerFields,
    SpiEnvelope,
)

app = APIGatewayHttpResolver(enable_validation=True)
app.configure_openapi(
    title="Cardmaker HTTP API",
    version="0.1.0",
    description=API_DESCRIPTION,
    servers=API_SERVERS,
    tags=API_TAGS,
    security_schemes=SECURITY_SCHEMES,
)

_SPI_ANSWER: dict[str, OpenAPIResponseContentSchema | OpenAPIResponseContentModel] = {
    "application/json": {"model": SpiEnvelope},
    "application/xml": {"model": SpiAnswerFields},
}


def _json(model: Any) -> dict[str, Any]:
    return {"application/json": {"model": model}}


_RESULT_CODES: dict[type[Exception], str] = {
    InvalidSignature: "INVALID_SIGNATURE",
    InvalidTimestamp: "INVALID_TIMESTAMP",
    InvalidParameter: "INVALID_PARAMETER",
    InvalidMethod: "INVALID_METHOD",
    OrderConflict: "ORDER_CONFLICT",
}


def spi_answers(router: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[str]:
    """Every outcome of an SPI call, refusals and crashes included, as a TOP ``response``."""
    try:
        return next_middleware(router)
    except (SpiRefused, OrderConflict) as refusal:
        code = _RESULT_CODES[type(refusal)]
        logger.warning("SPI call refused", result_code=code, reason=refusal.message)
        metrics.add_metric(name="SpiCallRefused", unit=MetricUnit.Count, value=1)
        return _spi_answer(SpiAnswer(False, code, refusal.message))
    except Exception:
        # 5xx makes the platform retry; the stored order is idempotent, so a retry is safe.
        logger.exception("SPI call failed")
        answer = SpiAnswer(False, "SYSTEM_ERROR", "internal error, please retry")
        return _spi_answer(answer, HTTPStatus.INTERNAL_SERVER_ERROR)


@app.post(
    "/top/spi",
    middlewares=[spi_answers],
    summary="Receive an order from the platform (TOP SPI alibaba.fundplatform.cardorder.make)",
    description="Public, protected by the TOP signature instead of IAM. The raw request is "
    "verified (MD5 sign, timestamp window) and the order validated and stored once: a replay "
    "gets the first answer again. Every outcome is an HTTP 200 TOP answer, a refusal included "
    "(success false, result_code saying why, nothing written), except an internal failure: "
    "HTTP 500 SYSTEM_ERROR, so that the platform retries. The answer is XML when the query "
    "says format=xml.",
    tags=["platform"],
    responses={
        200: {
            "description": "Stored, a replay, or refused (see result_code)",
            "content": _SPI_ANSWER,
        },
        500: {"description": "Internal failure (SYSTEM_ERROR): retry", "content": _SPI_ANSWER},
    },
    openapi_extensions={
        "parameters": [*SPI_QUERY_PARAMETERS, SPI_SIGN_LIST_HEADER],
        "requestBody": {
            "required": False,
            "description": "The business parameters (or none: all of them in the query)",
            "content": cardorder_make_body_schemas(),
        },
    },
)
@tracer.capture_method
def top_spi() -> Response[str]:
    call = verify_spi_call(_spi_request(), runtime.top_app_secret(), policy=runtime.spi_policy())
    method = call.params.get("method", "")
    if method != CARDORDER_MAKE:
        raise InvalidMethod(method)
    request = parse_cardorder_make(call)
    logger.set_correlation_id(f"{request.own_sign}:{request.card_order_id}")
    logger.append_keys(card_order_id=request.card_order_id, own_sign=request.own_sign)
    acceptance = runtime.order_service().receive(request)
    event = "OrderReplayed" if acceptance.replayed else "OrderReceived"
    metrics.add_metric(name=event, unit=MetricUnit.Count, value=1)
    logger.info(event, card_count=request.card_count, templates=len(request.card_product_infos))
    # A replay gets exactly the first answer; only logs and metrics tell them apart.
    return _spi_answer(SpiAnswer(True, "SUCCESS", "order received", acceptance.making_card_no))


@app.get(
    "/orders/<card_order_id>",
    summary="Read an order and its generation progress",
    description="IAM-authorized (SigV4). Per template: the cards requested and generated.",
    tags=["orders"],
    security=IAM,
    responses={
        200: {"description": "The order", "content": _json(OrderView)},
        404: {"description": "No such order in this environment", "content": _json(NotFoundAnswer)},
        422: {"description": "A bad id or own_sign", "content": _json(ProblemAnswer)},
    },
)
@tracer.capture_method
def get_order(
    card_order_id: Annotated[
        int,
        Path(
            gt=0,
            le=MAX_ORDER_ID,
            description="The platform's card_order_id",
            openapi_examples={"seed": {"value": EXAMPLE_ORDER_ID}},
        ),
    ],
    own_sign: Annotated[
        OwnSign,
        Query(
            description="The platform environment the order came from",
            openapi_examples={"seed": {"value": EXAMPLE_OWN_SIGN}},
        ),
    ] = "online",
) -> dict[str, Any]:
    return runtime.order_service().get(OrderKey(own_sign, card_order_id)).view()


@app.post(
    "/deliveries",
    summary="Hand cards of a generated order to a buyer (ma.send or card.bind)",
    description="IAM-authorized (SigV4). Recorded at once and carried out by the delivery "
    "function; follow it with GET /deliveries/{delivery_id}. The same outer_id / out_biz_id "
    "again (same own_sign) answers the existing delivery; with other content it is a 409. "
    "Nothing is written on a 409 or a 422.",
    tags=["deliveries"],
    security=IAM,
    responses={
        202: {"description": "Recorded (or already was)", "content": _json(DeliveryAccepted)},
        409: {
            "description": "The outer_id / out_biz_id is taken by a different delivery",
            "content": _json(ProblemAnswer),
        },
        415: {"description": "The body is not application/json", "content": _json(ProblemAnswer)},
        422: {
            "description": "Invalid (or not UTF-8), or not possible for the order (unknown "
            "order or template, more cards than the template has)",
            "content": _json(ProblemAnswer),
        },
    },
)
@tracer.capture_method
def create_delivery(
    request: Annotated[
        DeliveryRequest,
        Body(
            openapi_examples={
                "eticket": {"summary": "2 e-voucher cards", "value": EXAMPLE_ETICKET},
                "bind": {"summary": "3 cards bound to a buyer", "value": EXAMPLE_BIND},
            }
        ),
    ],
) -> Response[dict[str, str]]:
    delivery = runtime.delivery_service().create(request)
    logger.info("delivery accepted", delivery_id=delivery.delivery_id, status=delivery.status.value)
    body = {"delivery_id": delivery.delivery_id, "status": delivery.status.value}
    return Response(status_code=HTTPStatus.ACCEPTED, content_type="application/json", body=body)


@app.get(
    "/deliveries/<delivery_id>",
    summary="Read a delivery: its status, request and each card's outcome",
    description="IAM-authorized (SigV4). Card numbers and outcomes only, never a secret.",
    tags=["deliveries"],
    security=IAM,
    responses={
        200: {"description": "The delivery", "content": _json(DeliveryView)},
        404: {"description": "No such delivery", "content": _json(NotFoundAnswer)},
        422: {"description": "Not a delivery id", "content": _json(ProblemAnswer)},
    },
)
@tracer.capture_method
def get_delivery(
    delivery_id: Annotated[
        str,
        Path(
            min_length=1,
            max_length=64,
            pattern=DELIVERY_ID_PATTERN,
            description="As POST /deliveries answered it",
            openapi_examples={"bind": {"value": EXAMPLE_DELIVERY_ID}},
        ),
    ],
) -> dict[str, Any]:
    return runtime.delivery_service().get(delivery_id).view()


@app.exception_handler(DeliveryRefused)
def delivery_refused(error: DeliveryRefused) -> Response[dict[str, Any]]:
    status = (
        HTTPStatus.CONFLICT
        if isinstance(error, DeliveryConflict)
        else HTTPStatus.UNPROCESSABLE_ENTITY
    )
    return _problem(status, "refused", error.message, field=error.field)


@app.exception_handler(UnicodeDecodeError)
def body_not_utf8(error: UnicodeDecodeError) -> Response[dict[str, Any]]:
    # Only a JSON body the resolver decodes for validation can fail this way (the SPI route
    # reads its raw bytes itself); unanswered, it would be a function error (5xx).
    return _problem(HTTPStatus.UNPROCESSABLE_ENTITY, "body_not_utf8", "the body is not UTF-8")


@app.exception_handler(RecursionError)
def body_too_deep(error: RecursionError) -> Response[dict[str, Any]]:
    # JSON nested ~1,000 deep exhausts the parser's recursion (found by the hostile-input
    # suite): a refusal, not a function error.
    return _problem(
        HTTPStatus.UNPROCESSABLE_ENTITY, "body_too_deep", "the body is nested too deeply"
    )


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_body_type(error: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
    return _problem(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", "send application/json"
    )


def _problem(
    status: int, kind: str, message: str, *, field: str | None = None
) -> Response[dict[str, Any]]:
    # The same shape as the resolver's own 422 answers: where in the body, and why.
    location = ["body"] if field is None else ["body", field]
    detail = [{"loc": location, "type": kind, "msg": message}]
    return Response(
        status_code=status,
        content_type="application/json",
        body={"statusCode": status, "detail": detail},
    )


@app.exception_handler(NotFound)
def not_found(error: NotFound) -> Response[dict[str, str]]:
    return Response(
        status_code=HTTPStatus.NOT_FOUND,
        content_type="application/json",
        body={"message": error.message},
    )


def _spi_request() -> SpiRequest:
    event = app.current_event
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    return SpiRequest(raw_query=event.raw_query_string or "", body=body, headers=headers)


def _spi_answer(answer: SpiAnswer, status: int = HTTPStatus.OK) -> Response[str]:
    content_type, body = encode_spi_answer(
        answer, requested_format(app.current_event.raw_query_string or "")
    )
    return Response(status_code=status, content_type=content_type, body=body)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
