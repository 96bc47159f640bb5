"""The key attributes every table of the stack shares, named once: each item is addressed by a
partition key ``pk`` and a sort key ``sk``, both strings."""

from __future__ import annotations

from typing import Any

PK = "pk"
SK = "sk"


def item_key(pk: str, sk: str) -> dict[str, Any]:
    """The low-level key of the item at ``pk`` / ``sk``."""
    return {PK: {"S": pk}, SK: {"S": sk}}


def key_of(item: dict[str, Any]) -> dict[str, Any]:
    """The low-level key of a low-level item."""
    return {PK: item[PK], SK: item[SK]}
