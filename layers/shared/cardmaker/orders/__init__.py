"""Orders: the cardorder.make request, the order and how it is received."""

from cardmaker.orders.models import MAX_ORDER_ID, CardOrderMakeRequest, OwnSign
from cardmaker.orders.order import Order, OrderKey, OrderStatus, StoredOrder
from cardmaker.orders.service import Acceptance, OrderService
from cardmaker.orders.spi_call import (
    CARDORDER_MAKE,
    CARDORDER_MAKE_PARAMETERS,
    parse_cardorder_make,
)

__all__ = [
    "CARDORDER_MAKE",
    "CARDORDER_MAKE_PARAMETERS",
    "MAX_ORDER_ID",
    "Acceptance",
    "CardOrderMakeRequest",
    "Order",
    "OrderKey",
    "OrderService",
    "OrderStatus",
    "OwnSign",
    "StoredOrder",
    "parse_cardorder_make",
]
