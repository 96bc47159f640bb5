"""Write the sample events of ``events/`` (``python -m local.events``).

They are the published SPI test vectors (secret ``demo-secret-2026``, timestamp
``2026-11-22 20:30:00`` GMT+8) as API Gateway HTTP API events, made deterministic so that the
committed files can be checked against this generator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from local.apigw import http_api_event
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


def _spi(sign: str, body: bytes, content_type: str) -> dict[str, Any]:
    return http_api_event(
        "POST",
        "/top/spi",
        raw_query=_encode({**_QUERY, "sign": sign}),
        headers=[("content-type", content_type), ("user-agent", "top-spi")],
        body=body,
        route_key="POST /top/spi",
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
        "get_order.json": http_api_event(
            "GET",
            "/orders/16002",
            raw_query="own_sign=daily",
            route_key="GET /orders/{card_order_id}",
            path_parameters={"card_order_id": "16002"},
        ),
    }
    for number, event in enumerate(events.values()):
        context = event["requestContext"]
        context["requestId"] = f"sample-request-{number}"
        context["time"] = "22/Nov/2026:12:30:00 +0000"
        context["timeEpoch"] = 1795350600000
    return events


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    for name, event in sample_events().items():
        Path(EVENTS / name).write_text(render(event), encoding="utf-8")
        print(f"wrote events/{name}")


if __name__ == "__main__":
    main()
