"""Giving up on stock: a notice delivery still waiting past its ``stock_deadline`` becomes
FAILED with the reason in words, and its ma.failsend PENDING in the same conditional write
(an outbox the delivery function sends from), so the platform never waits for a callback
that never comes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cardmaker.deliveries.platform_codes import FAIL_SEND_NO_STOCK
from cardmaker.top.timestamps import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from cardmaker.eticket.ports import NoticeDeliveries

NO_STOCK = "no stock: not enough cards of the product's template within the wait"
NO_MAPPING = "no product mapping: the merchant code was not mapped within the wait"


class StockDeadline:
    def __init__(
        self, deliveries: NoticeDeliveries, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._deliveries = deliveries
        self._clock = clock

    def give_up_due(self) -> list[str]:
        """Give up on every notice delivery past its deadline; the ids this call moved."""
        now = self._clock().isoformat(timespec="milliseconds")
        moved: list[str] = []
        for delivery_id in self._deliveries.past_deadline(now):
            delivery = self._deliveries.get(delivery_id)
            if delivery is None:
                continue
            unmapped = delivery.request.own_sign is None
            reason = NO_MAPPING if unmapped else NO_STOCK
            if self._deliveries.give_up(delivery_id, reason, FAIL_SEND_NO_STOCK, now):
                moved.append(delivery_id)
        return moved
