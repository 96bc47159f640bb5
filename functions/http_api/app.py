"""The HTTP API: the platform's SPI entry point and the operators' order lookup.

Thin on purpose: turn the event into the layer's types, call the domain, answer.
"""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
import base64
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardmaker import runtime
from cardmaker.deliveries.models import DeliveryRequest
from cardmaker.deliveries.service import DeliveryNotFound, DeliveryRefused
from cardmaker.exceptions import InvalidMethod, OrderNotFound, SpiRefused
from cardmaker.observability import logger, metrics, tracer
from cardmaker.orders import (
    CARDORDER_MAKE,
    MAX_ORDER_ID,
    OrderKey,
    OwnSign,
    parse_cardorder_make,
)
from cardmaker.top import (
    SpiAnswer,
    SpiRequest,
    encode_spi_answer,
    requested_format,
    verify_spi_call,
)

app = APIGatewayHttpResolver(enable_validation=True)


def spi_answers(router: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[str]:
    """Every outcome of an SPI call, refusals and crashes included, as a TOP ``response``."""
    try:
        return next_middleware(router)
    except SpiRefused as refusal:
        logger.warning("SPI call refused", result_code=refusal.code, reason=refusal.message)
        metrics.add_metric(name="SpiCallRefused", unit=MetricUnit.Count, value=1)
        return _spi_answer(SpiAnswer(False, refusal.code, refusal.message))
    except Exception:
        # 5xx makes the platform retry; the stored order is idempotent, so a retry is safe.
        logger.exception("SPI call failed")
        answer = SpiAnswer(False, "SYSTEM_ERROR", "internal error, please retry")
        return _spi_answer(answer, HTTPStatus.INTERNAL_SERVER_ERROR)


@app.post("/top/spi", middlewares=[spi_answers])
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


@app.get("/orders/<card_order_id>")
@tracer.capture_method
def get_order(
    card_order_id: Annotated[int, Path(gt=0, le=MAX_ORDER_ID)],
    own_sign: Annotated[OwnSign, Query()] = "online",
) -> dict[str, Any]:
    return runtime.order_service().get(OrderKey(own_sign, card_order_id)).view()


@app.post("/deliveries")
@tracer.capture_method
def create_delivery(request: Annotated[DeliveryRequest, Body()]) -> Response[dict[str, str]]:
    delivery = runtime.delivery_service().create(request)
    logger.info("delivery accepted", delivery_id=delivery.delivery_id, status=delivery.status.value)
    body = {"delivery_id": delivery.delivery_id, "status": delivery.status.value}
    return Response(status_code=HTTPStatus.ACCEPTED, content_type="application/json", body=body)


@app.get("/deliveries/<delivery_id>")
@tracer.capture_method
def get_delivery(
    delivery_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Z]{2}-[0-9a-f]+$")],
) -> dict[str, Any]:
    return runtime.delivery_service().get(delivery_id).view()


@app.exception_handler(DeliveryRefused)
def delivery_refused(error: DeliveryRefused) -> Response[dict[str, Any]]:
    # The same shape as the resolver's own 422 answers: the failing field and why.
    detail = [{"loc": ["body", error.field], "type": "refused", "msg": error.message}]
    return Response(
        status_code=error.status,
        content_type="application/json",
        body={"statusCode": error.status, "detail": detail},
    )


@app.exception_handler(DeliveryNotFound)
def delivery_not_found(error: DeliveryNotFound) -> Response[dict[str, str]]:
    return Response(
        status_code=HTTPStatus.NOT_FOUND,
        content_type="application/json",
        body={"message": error.message},
    )


@app.exception_handler(OrderNotFound)
def order_not_found(error: OrderNotFound) -> Response:
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
