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


def sample_order(
    card_order_id: int = 16002,
    own_sign: str = "daily",
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
