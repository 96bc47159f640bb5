"""Write the sample events of ``events/`` (``python -m local.events``).

The SPI events are the published test vectors (secret ``demo-secret-2026``, timestamp
``2026-11-22 20:30:00`` GMT+8) as API Gateway HTTP API events, and the platform's lifecycle
calls about the same order (status.query, template.new, receipt) signed the same way. The
stream events are what the generator receives next for that same order: its header arriving
(RECEIVED), then its one chunk (a fresh table's first sequence block starts at 0; chunks of
5,000); then what the notifier receives when an operator makes it (MADE, ``make_finish``
PENDING) and ships it (SHIPPED with its waybill, ``status_sended`` PENDING). All are
deterministic, so that the committed files can be checked against this generator.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from cardmaker import (
    CARD_TEMPLATE_NEW,
    CARDORDER_MAKE,
    CARDORDER_RECEIPT,
    CARDORDER_STATUS_QUERY,
    CardOrderMakeRequest,
    CardOutcome,
    CardResult,
    Delivery,
    DeliveryStatus,
    EticketDeliveryRequest,
    EticketNotice,
    Notice,
    NoticeDeliveryRequest,
    NoticeState,
    Order,
    OrderStatus,
    Requester,
    delivery_id,
    notice_body,
    plan_chunks,
    request_fingerprint,
)
from cardmaker.store import delivery_schema, eticket_schema, from_item, key_of, schema, to_item
from cardmaker.top import sign_spi
from cardmaker_cli.samples import DEMO_NOTICE_SECRET, SAMPLE_NOTICE_ORDER_ID, sample_notice
from cardmaker_cli.stream_records import lambda_record
from local.apigw import http_api_event, iam_identity
from local.platform import sample_delivery
from local.schedules import scheduled_event
from local.template import REPO

EVENTS = REPO / "events"
SECRET = "demo-secret-2026"  # noqa: S105 - the published sample secret
_QUERY = {
    "method": "alibaba.fundplatform.cardorder.make",
    "app_key": "12345678",
    "timestamp": "2026-11-22 20:30:00",
    "v": "2.0",
    "format": "json",
    "sign_method": "md5",
}
_ORDER = (
    '{"card_order_id":16002,"own_sign":"daily","card_product_infos":[{"template_no":'
    '"3010030E02","count":500,"par_value":"100","card_name":"猫超储值卡面额100"}]}'
)
_FORM = {
    "card_order_id": "16002",
    "own_sign": "daily",
    "card_product_infos": (
        '[{"template_no":"3010030E02","count":500,"par_value":"100","card_name":"猫超储值卡面额100"}]'
    ),
    "logistics_info": (
        '{"receiver_zip_code":"310000","receiver_address":"浙江省-杭州市-余杭区-五常街道文一西路'
        '969号1号楼小邮局","receiver_number":"15512345678","receiver_name":"张三"}'
    ),
}
_JSON_SIGN = "EABC9427221ADCCBDF1CBF56DCB3CCA0"
_FORM_SIGN = "AD51A6ECC62105E810DF43463BDB3AC5"


def _encode(params: dict[str, str]) -> str:
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in params.items())


def _spi(sign: str, body: bytes, content_type: str, method: str = CARDORDER_MAKE) -> dict[str, Any]:
    return http_api_event(
        "POST",
        "/top/spi",
        raw_query=_encode({**_QUERY, "method": method, "sign": sign}),
        headers=[("content-type", content_type), ("user-agent", "top-spi")],
        body=body,
        route_key="POST /top/spi",
        source_ip="140.205.0.1",
    )


# The platform's lifecycle calls about the same order and template, signed here with the
# sample secret (no published vector exists for them).
_STATUS_QUERY_FORM = {"request": '{"card_order_id":16002,"own_sign":"daily"}'}
_TEMPLATE_NEW = (
    '{"template_no":"3010030E02","card_name":"猫超储值卡面额100","par_value":"100",'
    '"picture_url":"https://img.alicdn.com/card/3010030E02.png","is_test":false,'
    '"own_sign":"daily"}'
)
_RECEIPT_FORM = {"card_order_id": "16002", "own_sign": "daily"}


def _signed_spi(method: str, *, form: dict[str, str] | None = None, body: str = "") -> Any:
    query = {**_QUERY, "method": method}
    if form is not None:
        sign = sign_spi({**query, **form}, None, SECRET)
        return _spi(
            sign,
            _encode(form).encode("ascii"),
            "application/x-www-form-urlencoded;charset=utf-8",
            method,
        )
    sign = sign_spi(query, body, SECRET)
    return _spi(sign, body.encode("utf-8"), "application/json;charset=utf-8", method)


ETICKET_DELIVERY = sample_delivery("eticket")
BIND_DELIVERY = sample_delivery("bind")
ETICKET_DELIVERY_ID = delivery_id(EticketDeliveryRequest.model_validate(ETICKET_DELIVERY))
# The waybill of the sample shipment (POST /orders/{id}/shipment).
SHIPMENT = {"logistics_company": "顺丰速运", "logistics_order_id": "SF1234567890"}


# Who signed the sample operator requests, as API Gateway's IAM authorizer says it.
OPERATOR = iam_identity(
    "arn:aws:iam::123456789012:user/operator", caller_id="AIDAEXAMPLEOPERATOR01"
)


def _json_post(
    path: str,
    route_key: str,
    body: dict[str, Any],
    *,
    raw_query: str = "",
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    return http_api_event(
        "POST",
        path,
        raw_query=raw_query,
        headers=[("content-type", "application/json")],
        body=json.dumps(body).encode(),
        route_key=route_key,
        path_parameters=path_parameters,
        iam=OPERATOR,
    )


# The e-voucher platform's send notice for the sample Taobao order, at the same moment, signed
# as the platform signs it (GBK) with the local stack's demo notice secret.
_NOTICE_TIMESTAMP = "2026-11-22 20:30:00"


def _notice_post(secret: str) -> dict[str, Any]:
    body, content_type = notice_body(
        {"timestamp": _NOTICE_TIMESTAMP, **sample_notice()}, secret, "gbk"
    )
    return http_api_event(
        "POST",
        "/eticket/notices",
        headers=[("content-type", content_type)],
        body=body,
        route_key="POST /eticket/notices",
        source_ip="140.205.0.1",
    )


def sample_events() -> dict[str, dict[str, Any]]:
    events = {
        "spi_order_json.json": _spi(
            _JSON_SIGN, _ORDER.encode("utf-8"), "application/json;charset=utf-8"
        ),
        "spi_order_form.json": _spi(
            _FORM_SIGN,
            _encode(_FORM).encode("ascii"),
            "application/x-www-form-urlencoded;charset=utf-8",
        ),
        "spi_forged_signature.json": _spi(
            "0" * 32, _ORDER.encode("utf-8"), "application/json;charset=utf-8"
        ),
        "post_delivery_eticket.json": _json_post(
            "/deliveries", "POST /deliveries", ETICKET_DELIVERY
        ),
        "post_delivery_bind.json": _json_post("/deliveries", "POST /deliveries", BIND_DELIVERY),
        "get_delivery.json": http_api_event(
            "GET",
            f"/deliveries/{ETICKET_DELIVERY_ID}",
            route_key="GET /deliveries/{delivery_id}",
            path_parameters={"delivery_id": ETICKET_DELIVERY_ID},
            iam=OPERATOR,
        ),
        "get_order.json": http_api_event(
            "GET",
            "/orders/16002",
            raw_query="own_sign=daily",
            route_key="GET /orders/{card_order_id}",
            path_parameters={"card_order_id": "16002"},
            iam=OPERATOR,
        ),
        "get_orders.json": http_api_event(
            "GET",
            "/orders",
            raw_query="own_sign=daily&limit=20",
            route_key="GET /orders",
            iam=OPERATOR,
        ),
        "post_order_made.json": http_api_event(
            "POST",
            "/orders/16002/made",
            raw_query="own_sign=daily",
            route_key="POST /orders/{card_order_id}/made",
            path_parameters={"card_order_id": "16002"},
            iam=OPERATOR,
        ),
        "post_order_shipment.json": _json_post(
            "/orders/16002/shipment",
            "POST /orders/{card_order_id}/shipment",
            SHIPMENT,
            raw_query="own_sign=daily",
            path_parameters={"card_order_id": "16002"},
        ),
        "spi_status_query_form.json": _signed_spi(CARDORDER_STATUS_QUERY, form=_STATUS_QUERY_FORM),
        "spi_template_new_json.json": _signed_spi(CARD_TEMPLATE_NEW, body=_TEMPLATE_NEW),
        "spi_receipt_form.json": _signed_spi(CARDORDER_RECEIPT, form=_RECEIPT_FORM),
        "eticket_notice_send.json": _notice_post(DEMO_NOTICE_SECRET),
        "eticket_notice_forged.json": _notice_post("f" * 32),
        "get_eticket_notices.json": http_api_event(
            "GET",
            f"/eticket/notices/{SAMPLE_NOTICE_ORDER_ID}",
            route_key="GET /eticket/notices/{order_id}",
            path_parameters={"order_id": SAMPLE_NOTICE_ORDER_ID},
            iam=OPERATOR,
        ),
    }
    for number, event in enumerate(events.values()):
        context = event["requestContext"]
        context["requestId"] = f"sample-request-{number}"
        context["time"] = "22/Nov/2026:12:30:00 +0000"
        context["timeEpoch"] = 1795350600000
    return events


def _stream_arn(table: str) -> str:
    stream = "stream/2026-11-22T12:00:00.000"
    return f"arn:aws:dynamodb:us-east-1:123456789012:table/cardmaker-{table}/{stream}"


def _stream_event(
    item: dict[str, Any],
    sequence_number: str,
    *,
    old: dict[str, Any] | None = None,
    name: str = "INSERT",
    table: str = "OrdersTable",
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "eventID": f"sample-{sequence_number}",
        "eventName": name,
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1795350601,
            "Keys": key_of(item),
            "NewImage": item,
            "SequenceNumber": sequence_number,
            "SizeBytes": len(json.dumps(item)),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    if old is not None:
        raw["dynamodb"]["OldImage"] = old
    return {"Records": [lambda_record(raw, _stream_arn(table)).event]}


# The sample waybill (the status.query example's carrier, platform-apis.md §2.1).
SAMPLE_WAYBILL = {"logistics_company": "顺丰速运", "logistics_order_id": "SF1234567890"}


def _lifecycle_step(
    header: dict[str, Any], status: OrderStatus, at: datetime, **changes: Any
) -> dict[str, Any]:
    """``header`` after a lifecycle step, as ``store.lifecycle`` leaves it."""
    moved = {
        **from_item(header),
        "status": status.value,
        "updated_at": at.isoformat(timespec="milliseconds"),
        **changes,
    }
    return to_item(moved)


def _notice(state: NoticeState, at: datetime, *, sent: bool = False) -> dict[str, Any]:
    return schema.notice_map(
        Notice(state, attempts=1 if sent else 0, updated_at=at, sent_at=at if sent else None)
    )


def stream_events() -> dict[str, dict[str, Any]]:
    request = CardOrderMakeRequest.model_validate_json(_ORDER)
    order = Order.receive(request, datetime(2026, 11, 22, 12, 30, tzinfo=UTC))
    (chunk,) = plan_chunks(order, first_sequence=0, chunk_size=5000)
    generated = schema.header_item(replace(order, status=OrderStatus.GENERATED))
    delivery = Delivery.new(
        EticketDeliveryRequest.model_validate(ETICKET_DELIVERY),
        "2026-11-22T12:31:00.000+00:00",
        Requester(OPERATOR["userArn"], OPERATOR["callerId"], OPERATOR["accountId"]),
    )
    pending = delivery_schema.delivery_item(delivery, request_fingerprint(delivery.request))
    made_at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    made = _lifecycle_step(
        generated,
        OrderStatus.MADE,
        made_at,
        made_at=made_at.isoformat(timespec="milliseconds"),
        made_by="arn:aws:iam::123456789012:user/operator",
        notifications={"make_finish": _notice(NoticeState.PENDING, made_at)},
    )
    told_at = datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC)
    made_and_told = _lifecycle_step(
        made,
        OrderStatus.MADE,
        told_at,
        notifications={"make_finish": _notice(NoticeState.SENT, told_at, sent=True)},
    )
    shipped_at = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    shipped = _lifecycle_step(
        made_and_told,
        OrderStatus.SHIPPED,
        shipped_at,
        shipped_at=shipped_at.isoformat(timespec="milliseconds"),
        **SAMPLE_WAYBILL,
        notifications={
            "make_finish": _notice(NoticeState.SENT, told_at, sent=True),
            "status_sended": _notice(NoticeState.PENDING, shipped_at),
        },
    )
    return {
        **_delivery_events(pending),
        "stream_order_received.json": _stream_event(schema.header_item(order), "100000001"),
        "stream_chunk_created.json": _stream_event(schema.chunk_item(chunk), "100000002"),
        "stream_order_generated.json": _stream_event(
            generated, "100000003", old=schema.header_item(order), name="MODIFY"
        ),
        "stream_delivery_pending.json": _stream_event(
            pending, "200000001", table="DeliveriesTable"
        ),
        "stream_order_made.json": _stream_event(made, "100000004", old=generated, name="MODIFY"),
        "stream_order_shipped.json": _stream_event(
            shipped, "100000005", old=made_and_told, name="MODIFY"
        ),
    }


def _delivery_events(pending: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What LifecycleEventsFunction receives later in the same story: the e-voucher delivery
    DELIVERED (SENDING -> two cards ISSUED)."""
    sending = {
        **pending,
        **to_item(
            {
                "status": DeliveryStatus.SENDING.value,
                "first_position": 0,
                "attempts": 1,
                "updated_at": "2026-11-22T12:31:01.000+00:00",
            }
        ),
    }
    cards = (
        CardResult("3101000000000000001", 0, CardOutcome.ISSUED),
        CardResult("3101000000000000002", 1, CardOutcome.ISSUED),
    )
    delivered = {
        **sending,
        "cards": delivery_schema.cards_value(cards),
        **to_item(
            {
                "status": DeliveryStatus.DELIVERED.value,
                "updated_at": "2026-11-22T12:31:02.000+00:00",
            }
        ),
    }
    return {
        "stream_delivery_delivered.json": _stream_event(
            delivered, "200000002", old=sending, name="MODIFY", table="DeliveriesTable"
        ),
    }


def eticket_events() -> dict[str, dict[str, Any]]:
    """What e-voucher fulfilment receives: the sample send notice recorded (the e-voucher
    table's INSERT, for EticketFulfilmentFunction), its delivery given up on stock with its
    ma.failsend PENDING (for CardDeliveryFunction), and the stock deadline's schedule."""
    received_at = "2026-11-22T12:40:00.000+00:00"
    notice = EticketNotice.of(
        {"timestamp": "2026-11-22 20:40:00", **sample_notice(num=2)}, received_at
    )
    request = NoticeDeliveryRequest(
        type="notice",
        quantity=2,
        outer_id=notice.order_id,
        token=notice.token or "",
        merchant_code=notice.merchant_code or "",
    )
    waiting = {
        **delivery_schema.delivery_item(
            replace(
                Delivery.new(request, received_at, Requester("taobao:eticket-notice")),
                status=DeliveryStatus.WAITING_STOCK,
                stock_deadline="2026-11-22T12:50:00.000+00:00",
            ),
            request_fingerprint(request),
        ),
        **to_item({"stock_key": f"PRODUCT#{request.merchant_code}"}),
    }
    given_up_at = "2026-11-22T12:50:00.500+00:00"
    failed = {
        **{name: value for name, value in waiting.items() if name != "stock_key"},
        **to_item(
            {
                "status": DeliveryStatus.FAILED.value,
                "failure_reason": "no product mapping: the merchant code was not mapped"
                " within the wait",
                "failsend": {
                    "state": "PENDING",
                    "sub_err_code": "isv.fail-send-no-stock",
                    "attempts": 0,
                    "updated_at": given_up_at,
                },
                "updated_at": given_up_at,
            }
        ),
    }
    return {
        "stream_notice_send.json": _stream_event(
            eticket_schema.notice_item(notice), "300000001", table="EticketTable"
        ),
        "stream_delivery_failsend.json": _stream_event(
            failed, "200000003", old=waiting, name="MODIFY", table="DeliveriesTable"
        ),
        "schedule_stock_deadline.json": scheduled_event("StockDeadlineFunctionEveryMinute")
        | {"id": "sample-stock-deadline", "time": "2026-11-22T12:50:00Z"},
    }


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    for name, event in {**sample_events(), **stream_events(), **eticket_events()}.items():
        Path(EVENTS / name).write_text(render(event), encoding="utf-8")
        print(f"wrote events/{name}")


if __name__ == "__main__":
    main()
