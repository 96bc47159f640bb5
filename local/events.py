"""Write the sample events of ``events/`` (``python -m local.events``).

The SPI events are the published test vectors (secret ``demo-secret-2026``, timestamp
``2026-11-22 20:30:00`` GMT+8) as API Gateway HTTP API events, and the platform's lifecycle
calls about the same order (status.query, template.new, receipt) signed the same way. The
stream events are what the generator receives next for that same order: its header arriving
(RECEIVED), then its one chunk (a fresh table's first sequence block starts at 0; chunks of
5,000). All are deterministic, so that the committed files can be checked against this
generator.
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
    Delivery,
    EticketDeliveryRequest,
    Order,
    OrderStatus,
    Requester,
    delivery_id,
    plan_chunks,
    request_fingerprint,
)
from cardmaker.store import delivery_schema, key_of, schema
from cardmaker.top import sign_spi
from cardmaker_cli.stream_records import lambda_record
from local.apigw import http_api_event, iam_identity
from local.platform import sample_delivery
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


# Who signed the sample operator requests, as API Gateway's IAM authorizer says it.
OPERATOR = iam_identity(
    "arn:aws:iam::123456789012:user/operator", caller_id="AIDAEXAMPLEOPERATOR01"
)


def _json_post(path: str, route_key: str, body: dict[str, Any]) -> dict[str, Any]:
    return http_api_event(
        "POST",
        path,
        headers=[("content-type", "application/json")],
        body=json.dumps(body).encode(),
        route_key=route_key,
        iam=OPERATOR,
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
        "spi_status_query_form.json": _signed_spi(CARDORDER_STATUS_QUERY, form=_STATUS_QUERY_FORM),
        "spi_template_new_json.json": _signed_spi(CARD_TEMPLATE_NEW, body=_TEMPLATE_NEW),
        "spi_receipt_form.json": _signed_spi(CARDORDER_RECEIPT, form=_RECEIPT_FORM),
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
    return {
        "stream_order_received.json": _stream_event(schema.header_item(order), "100000001"),
        "stream_chunk_created.json": _stream_event(schema.chunk_item(chunk), "100000002"),
        "stream_order_generated.json": _stream_event(
            generated, "100000003", old=schema.header_item(order), name="MODIFY"
        ),
        "stream_delivery_pending.json": _stream_event(
            pending, "200000001", table="DeliveriesTable"
        ),
    }


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    for name, event in {**sample_events(), **stream_events()}.items():
        Path(EVENTS / name).write_text(render(event), encoding="utf-8")
        print(f"wrote events/{name}")


if __name__ == "__main__":
    main()
