"""EticketNoticeFunction: the e-voucher platform's send-code notices, ``POST /eticket/notices``
(public, protected by the notice signature).

Thin on purpose: read and verify the notice (``cardmaker.eticket.wire``, the one adapter for
its wire format), record it with one conditional write, answer ``{"code": 200}``. What the
notice asks for is done by the fulfilment function, on the table's stream. Refusals are coded
by ``answers``; a crash answers HTTP 500 so that the platform retries.
"""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
import base64
from http import HTTPStatus
from typing import Any

from answers import FAILED, RECORDED, refusal_code
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardmaker import (
    NOTICE_ROUTE_DOCS,
    NoticeAnswer,
    NoticeCode,
    logger,
    metrics,
    read_notice,
    runtime,
    tracer,
)

router = Router()
app = APIGatewayHttpResolver(enable_validation=True)


def notice_answers(
    resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware
) -> Response[str]:
    """Every outcome of a notice, refusals and crashes included, as ``{"code": ...}``."""
    try:
        return next_middleware(resolver)
    except Exception as error:
        code = refusal_code(error)
        if code is None:
            logger.exception("notice failed")
            return _answer(FAILED, HTTPStatus.INTERNAL_SERVER_ERROR)
        # The reason is ours (it names a parameter, never a value, a token or the sign).
        logger.warning("notice refused", code=code, reason=str(error))
        metrics.add_metric(name="NoticeRefused", unit=MetricUnit.Count, value=1)
        return _answer(code)


@router.post("/eticket/notices", middlewares=[notice_answers], **NOTICE_ROUTE_DOCS)
@tracer.capture_method(capture_response=False, capture_error=False)
def eticket_notice() -> Response[str]:
    event = app.current_event
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    notice = read_notice(
        body, headers.get("content-type", ""), runtime.notice_secret, runtime.notice_policy()
    )
    logger.append_keys(notice_order_id=notice.order_id, notice_method=notice.kind.value)
    recorded = runtime.notice_store().record(notice)
    logger.info("notice recorded" if recorded else "notice already recorded")
    metrics.add_metric(
        name="NoticeRecorded" if recorded else "NoticeRepeated", unit=MetricUnit.Count, value=1
    )
    return _answer(RECORDED)


def _answer(code: NoticeCode, status: int = HTTPStatus.OK) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=NoticeAnswer(code=code).model_dump_json(),
    )


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
