"""What the product routes answer (``PUT /eticket/products/{merchant_code}``, ``GET
/eticket/products`` and ``GET /eticket/products/{merchant_code}``), and their examples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cardmaker.orders.models import OwnSign

if TYPE_CHECKING:
    from cardmaker.eticket.catalogue import Mapped
    from cardmaker.eticket.products import Product


class ProductView(BaseModel):
    """A product: its merchant code and the stock its notices are served from."""

    model_config = ConfigDict(extra="forbid")

    merchant_code: str = Field(description="The item's sub_outer_iid (else outer_iid)")
    own_sign: OwnSign
    template_no: str
    certificate_type: Literal[0, 1] = Field(
        description="As ma.send takes it: 1 card number + secret, 0 the secret as a code"
    )
    updated_at: str = Field(description="When it was last mapped (ISO 8601, UTC)")

    @classmethod
    def of(cls, product: Product) -> ProductView:
        return cls.model_validate(product.model_dump())


class ProductMapped(ProductView):
    """200: the product as mapped now, and how many waiting notice deliveries it woke."""

    woken: int = Field(ge=0, description="Notice deliveries that were waiting for this mapping")

    @classmethod
    def of_mapped(cls, mapped: Mapped) -> ProductMapped:
        return cls.model_validate({**mapped.product.model_dump(), "woken": len(mapped.woken)})


class ProductList(BaseModel):
    """Every product, by merchant code."""

    model_config = ConfigDict(extra="forbid")

    products: list[ProductView]

    @classmethod
    def of(cls, products: list[Product]) -> ProductList:
        return cls(products=[ProductView.of(product) for product in products])


EXAMPLE_MERCHANT_CODE = "GIFT-100"
EXAMPLE_PRODUCT: dict[str, Any] = {
    "own_sign": "daily",
    "template_no": "3010030E05",
    "certificate_type": 1,
}
