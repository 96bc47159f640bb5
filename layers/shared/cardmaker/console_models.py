"""What the console's own read routes answer: ``GET /orders/{card_order_id}/stock`` (an
order's stock per template) and ``GET /failures`` (the failed batches waiting in each
on-failure queue). Counts only: no card, no message, no secret."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cardmaker.failures import WaitingFailures
from cardmaker.orders.models import MAX_ORDER_ID, OwnSign
from cardmaker.orders.order import OrderStatus
from cardmaker.orders.stock import OrderStock, TemplateStock


class TemplateStockView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_no: str
    card_name: str
    requested: int = Field(ge=1, description="Cards the platform ordered of this template")
    generated: int = Field(ge=0, description="Cards generated so far")
    handed_out: int = Field(
        ge=0, description="Cards claimed by deliveries and print runs (the allocation cursor)"
    )
    remaining: int = Field(ge=0, description="Generated and not claimed: what a delivery can get")

    @classmethod
    def of(cls, stock: TemplateStock) -> TemplateStockView:
        return cls(
            template_no=stock.template_no,
            card_name=stock.card_name,
            requested=stock.requested,
            generated=stock.generated,
            handed_out=stock.handed_out,
            remaining=stock.remaining,
        )


class StockView(BaseModel):
    """``GET /orders/{card_order_id}/stock``: each template's cards, generated, handed out and
    left."""

    model_config = ConfigDict(extra="forbid")

    card_order_id: Annotated[int, Field(gt=0, le=MAX_ORDER_ID)]
    own_sign: OwnSign
    status: OrderStatus
    templates: list[TemplateStockView]

    @classmethod
    def of(cls, stock: OrderStock) -> StockView:
        return cls(
            card_order_id=stock.key.card_order_id,
            own_sign=stock.key.own_sign,
            status=stock.status,
            templates=[TemplateStockView.of(template) for template in stock.templates],
        )


class QueueFailuresView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: str = Field(description="As `cardmaker dlq --queue` names it: generator, delivery, ...")
    waiting: int = Field(ge=0, description="Failed batches waiting for a redrive (approximate)")
    in_flight: int = Field(
        ge=0, description="Being read right now by a redrive or a `dlq list` (approximate)"
    )

    @classmethod
    def of(cls, failures: WaitingFailures) -> QueueFailuresView:
        return cls(queue=failures.queue, waiting=failures.waiting, in_flight=failures.in_flight)


class FailuresView(BaseModel):
    """``GET /failures``: every on-failure queue's count, in the pipeline's order."""

    model_config = ConfigDict(extra="forbid")

    queues: list[QueueFailuresView]
    waiting: int = Field(ge=0, description="All queues together")

    @classmethod
    def of(cls, queues: list[WaitingFailures]) -> FailuresView:
        return cls(
            queues=[QueueFailuresView.of(queue) for queue in queues],
            waiting=sum(queue.waiting for queue in queues),
        )
