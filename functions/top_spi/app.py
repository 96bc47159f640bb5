"""TopSpiFunction: the platform's SPI entry point, ``POST /top/spi`` (public, TOP-signed).

Thin on purpose: verify the raw call, hand it to its method (``methods.SPI_METHODS``), answer
in the format the caller asked for. Every outcome is a TOP answer: refusals are worded by
``refusals``, crashes become SYSTEM_ERROR with HTTP 500 so that the platform retries.
"""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
import base64
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from methods import SPI_METHODS, business_parameters
from refusals import failure, refusal

from cardmaker import answer_root, logger, metrics, runtime, spi_body_schemas, tracer
from cardmaker.top import (
    SPI_QUERY_PARAMETERS,
    SPI_ROUTE_DOCS,
    SPI_SIGN_LIST_HEADER,
    SpiAnswerFields,
    SpiRequest,
    encode_spi_answer,
    requested_format,
    verify_spi_call,
)

router = Router()
app = APIGatewayHttpResolver(enable_validation=True)  # with the router, once it has its route


def spi_answers(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[str]:
    """Every outcome of an SPI call, refusals and crashes included, as a TOP ``response``."""
    try:
        return next_middleware(resolver)
    except Exception as error:
        answer = refusal(error)
        if answer is None:
            logger.exception("SPI call failed")
            return _answer(failure(), HTTPStatus.INTERNAL_SERVER_ERROR)
        logger.warning(
            "SPI call refused", result_code=answer.result_code, reason=answer.result_message
        )
        metrics.add_metric(name="SpiCallRefused", unit=MetricUnit.Count, value=1)
        return _answer(answer)


@router.post(
    "/top/spi",
    middlewares=[spi_answers],
    **SPI_ROUTE_DOCS,
    openapi_extensions={
        "parameters": [*SPI_QUERY_PARAMETERS, SPI_SIGN_LIST_HEADER],
        "requestBody": {
            "required": False,
            "description": "The business parameters (or none: all of them in the query)",
            "content": spi_body_schemas(),
        },
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def top_spi() -> Response[str]:
    call = verify_spi_call(
        _spi_request(),
        runtime.top_app_secret(),
        policy=runtime.spi_policy(),
        methods=business_parameters(),
    )
    # The verifier refused a method missing from the table (INVALID_METHOD).
    return _answer(SPI_METHODS[call.params["method"]].serve(call))


def _spi_request() -> SpiRequest:
    event = app.current_event
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    return SpiRequest(raw_query=event.raw_query_string or "", body=body, headers=headers)


def _answer(answer: SpiAnswerFields, status: int = HTTPStatus.OK) -> Response[str]:
    raw_query = app.current_event.raw_query_string or ""
    # Read leniently, as the format: a refused call is answered under its method's root too.
    method = dict(parse_qsl(raw_query, keep_blank_values=True)).get("method", "")
    content_type, body = encode_spi_answer(
        answer, requested_format(raw_query), root=answer_root(method)
    )
    return Response(status_code=status, content_type=content_type, body=body)


# What the OpenAPI document is generated from (local/openapi.py).
ROUTERS = (router,)
app.include_router(router)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
