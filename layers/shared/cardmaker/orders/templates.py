"""Card templates the platform announces (``alibaba.fundplatform.card.template.new``).

The registry keeps each environment's templates and every version of each: the same content
announced again is a replay; other content is a new version, and the earlier ones stay in the
history. Orders may name templates never announced: they are accepted all the same (the
platform may not announce every template) and their view says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cardmaker.orders.models import (
    OwnSign,
    ParValue,
    PictureUrl,
    TemplateNo,
    Text,
    fingerprint,
)


def _boolean(value: Any) -> Any:
    """``true`` / ``false``: a JSON boolean, or the same word as form text. Nothing else
    (pydantic's lax mode would take ``1``, ``"yes"`` or ``"on"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise ValueError("must be true or false")


StrictBoolean = Annotated[bool, BeforeValidator(_boolean)]


class CardTemplateAnnouncement(BaseModel):
    """The business parameters of ``alibaba.fundplatform.card.template.new`` (platform-apis.md
    §2.2): every field bounded like the same field of ``cardorder.make``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    template_no: TemplateNo
    card_name: Text
    par_value: ParValue = Field(
        description="Face value in fen (分): a positive whole number, digits only"
    )
    picture_url: PictureUrl | None = None
    is_test: StrictBoolean = Field(
        description="A test template: orders of it need no physical cards"
    )
    own_sign: OwnSign

    @property
    def content_hash(self) -> str:
        """A fingerprint of what was announced, independent of encoding and key order."""
        return fingerprint(self)


@dataclass(frozen=True)
class CardTemplate:
    """A registered template, as of one version (1 for its first announcement)."""

    announcement: CardTemplateAnnouncement
    version: int
    announced_at: datetime

    @property
    def template_no(self) -> str:
        return self.announcement.template_no

    @property
    def own_sign(self) -> str:
        return self.announcement.own_sign

    @property
    def is_test(self) -> bool:
        return self.announcement.is_test


@dataclass(frozen=True)
class Announced:
    """What announcing did: ``template`` is the current version; ``replayed`` when the same
    content was already the current version (nothing written)."""

    template: CardTemplate
    replayed: bool
