"""The operator API's card answers: ``GET /cards/{card_no}`` and a print run's release.
Never a card's secret: the models have no field that could carry one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from cardmaker.api_models import left_out
from cardmaker.cards.state import CardState
from cardmaker.deliveries.api_models import RequesterView
from cardmaker.orders.models import OwnSign

if TYPE_CHECKING:
    from cardmaker.cards.print_release import PrintRelease
    from cardmaker.cards.state import CardStatus
    from cardmaker.orders.order import OrderKey

EXAMPLE_CARD_NO = "3101790202036006151"
# A card number as the path takes it: digits only, as long as any scheme's can be (the
# template's CardNumberLength is 8 to 30). Whether it is of this stack's scheme is checked
# next (a 422 naming card_no as well).
CardNo = Annotated[str, Field(pattern=r"^[0-9]{8,30}$", min_length=8, max_length=30)]


class CardView(BaseModel):
    """A card: its order, template and position, where it stands, who holds it, since when.
    Never its secret."""

    model_config = ConfigDict(extra="forbid")

    card_no: str
    own_sign: OwnSign
    card_order_id: int
    making_card_no: str
    template_no: str
    position: int = Field(description="Within the template, from 0")
    par_value: str
    state: CardState = Field(
        description="AVAILABLE (no one holds it), ALLOCATED (a delivery or print run holds it "
        "and has not handed it out), ISSUED or BOUND (a delivery handed it to a buyer), "
        "PRINTED (its print run's file was written) or VOIDED (an e-voucher refund)"
    )
    since: str | SkipJsonSchema[None] = left_out("When it reached its state (ISO 8601), when known")
    created_at: str = Field(description="When it was generated")
    delivery_id: str | SkipJsonSchema[None] = left_out("The delivery that holds it")
    print_run: bool = Field(description="Held by its template's print run")
    outcome: str | SkipJsonSchema[None] = left_out(
        "The delivery's outcome for it (ISSUED, BOUND, INVALID, BIND_FAILED, FAILED, VOIDED)"
    )

    @classmethod
    def of(cls, card: CardStatus) -> CardView:
        return cls(
            card_no=card.card_no,
            own_sign=card.order.own_sign,
            card_order_id=card.order.card_order_id,
            making_card_no=card.order.making_card_no,
            template_no=card.template_no,
            position=card.position,
            par_value=card.par_value,
            state=card.state,
            since=card.since,
            created_at=card.created_at,
            delivery_id=card.delivery_id,
            print_run=card.print_run,
            outcome=card.outcome,
        )


class PrintReleaseView(BaseModel):
    """A print run's release: the cards given back to stock, who released them and when."""

    model_config = ConfigDict(extra="forbid")

    own_sign: OwnSign
    card_order_id: int
    template_no: str
    first_position: int
    count: int = Field(description="Cards given back: AVAILABLE to later deliveries again")
    released_by: RequesterView
    released_at: str
    claimed_at: str | SkipJsonSchema[None] = left_out("When the print run had claimed them")
    woken: int = Field(description="The order's deliveries waiting for stock, woken")

    @classmethod
    def of(cls, order: OrderKey, release: PrintRelease, woken: int) -> PrintReleaseView:
        return cls(
            own_sign=order.own_sign,
            card_order_id=order.card_order_id,
            template_no=release.template_no,
            first_position=release.positions.start,
            count=release.count,
            released_by=RequesterView.of(release.released_by),
            released_at=release.released_at,
            claimed_at=release.claimed_at,
            woken=woken,
        )
