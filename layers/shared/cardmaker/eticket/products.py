"""Products: an item's merchant code mapped to a stock of cards (``PUT
/eticket/products/{merchant_code}``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from cardmaker.orders.models import OwnSign, PlainText, TemplateNo

# A merchant code as the seller typed it on Taobao (outer_iid / sub_outer_iid): printable text.
MerchantCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, strip_whitespace=False), PlainText
]


class ProductMapping(BaseModel):
    """What a product's notices are served from: the remaining cards of ``template_no`` over
    the ``own_sign`` environment's generated orders, oldest order first; ``certificate_type``
    as ma.send takes it (1: card number + secret, 0: the secret as a code)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    own_sign: OwnSign
    template_no: TemplateNo
    certificate_type: Literal[0, 1] = 1


class Product(ProductMapping):
    merchant_code: MerchantCode
    updated_at: str = ""
