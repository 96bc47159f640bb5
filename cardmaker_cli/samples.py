"""The published samples the command falls back on: the local stack's demo app key and
secret, and a sample ``cardorder.make`` order.

Defined here, with the command that ships, and imported by the local stack (``local/``), the
tests, chaos and bench: the command signs for a local stack with the very credentials that
stack verifies with, and sends the same sample order the demo sends.
"""

from __future__ import annotations

from typing import Any

DEMO_APP_KEY = "12345678"
# The published sample secret of the test vectors and events/, never a real one.
DEMO_SECRET = "demo-secret-2026"  # noqa: S105

SAMPLE_TEMPLATE = ("3010030E02", 500, "100")  # (template_no, count, par_value)
# The design brief's example receiver, for physical cards.
SAMPLE_RECEIVER = {
    "receiver_zip_code": "310000",
    "receiver_address": "浙江省-杭州市-余杭区-五常街道文一西路969号1号楼小邮局",
    "receiver_number": "15512345678",
    "receiver_name": "张三",
}


# The environment the platform simulator (`platform send-order`, local/platform.py, the demo)
# plays: the platform's test environment. The local stack's default environment is the same
# (cardmaker_cli.options.LOCAL_OWN_SIGN), so an order just sent is the one the commands find.
SIMULATED_OWN_SIGN = "daily"


def sample_order(
    card_order_id: int = 16002,
    own_sign: str = SIMULATED_OWN_SIGN,
    templates: list[tuple[str, int, str]] | None = None,
    *,
    logistics: bool = False,
) -> dict[str, Any]:
    """A ``cardorder.make``'s business parameters like the seed's example; ``templates`` as
    (template_no, count, par_value), ``logistics`` adds the sample receiver."""
    order: dict[str, Any] = {
        "card_order_id": card_order_id,
        "own_sign": own_sign,
        "card_product_infos": [
            {
                "template_no": template_no,
                "count": count,
                "par_value": par_value,
                "card_name": f"猫超储值卡面额{par_value}",
            }
            for template_no, count, par_value in (templates or [SAMPLE_TEMPLATE])
        ],
    }
    if logistics:
        order["logistics_info"] = dict(SAMPLE_RECEIVER)
    return order


# The local stack's e-voucher notice secret (the TOP secret's notice_secret): 32 hex
# characters, like the notice keys of the public integrations (platform-apis.md §4.3).
DEMO_NOTICE_SECRET = "0123456789abcdef0123456789abcdef"  # noqa: S105
SAMPLE_MERCHANT_CODE = "CM-EV-100"
SAMPLE_NOTICE_ORDER_ID = "1753340805138544"
SAMPLE_NOTICE_TOKEN = "31231231231"  # noqa: S105 (the platform's sample token, §3.2)


def sample_notice(
    method: str = "send",
    order_id: str = SAMPLE_NOTICE_ORDER_ID,
    *,
    token: str = SAMPLE_NOTICE_TOKEN,
    num: int = 1,
    merchant_code: str | None = SAMPLE_MERCHANT_CODE,
    **extra: str,
) -> dict[str, str]:
    """An unsigned notice's parameters like N2's sample ``send`` (platform-apis.md §4.2),
    without ``timestamp`` and ``sign``; ``extra`` adds or replaces parameters (``cancel_num``,
    ``valid_ends``...). The buyer's mobile is a sample number, masked as the platform does."""
    notice = {
        "method": method,
        "order_id": order_id,
        "token": token,
        "num": str(num),
        "type": "0",
        "mobile": "15512345678",
        "encrypt_mobile": "155****5678",
        "taobao_sid": "2200000000001",
        "seller_nick": "卡券专营店",
        "item_title": "天猫超市购物卡 100元 电子卡",
        "num_iid": "600000000001",
        "sku_properties": "面值:100元",
        "send_type": "2",
        "consume_type": "0",
        "sms_template": "您的卡密:$code",
        "valid_start": "2026-01-01 00:00:00",
        "valid_ends": "2027-12-31 23:59:59",
    }
    if merchant_code is not None:
        notice["sub_outer_iid"] = merchant_code
    return {**notice, **extra}
