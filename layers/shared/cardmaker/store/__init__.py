"""DynamoDB access: the only package that touches boto3 tables.

Its public surface is for tools that inspect the tables' raw items (chaos's invariant checks,
the benchmarks' raw baselines, tests that scan for ciphertext): the table layouts (the
orders list's index, the audit trail's attributes), the item conversions and the key names.
The use cases' repositories are part of ``cardmaker``'s own surface.
"""

from cardmaker.store import (
    audit,
    card_schema,
    delivery_schema,
    eticket_schema,
    order_list,
    schema,
)
from cardmaker.store.batch import batch_put
from cardmaker.store.cards import put_in_parallel
from cardmaker.store.conditions import retry_unapplied
from cardmaker.store.items import from_item, to_item
from cardmaker.store.keys import PK, SK, key_of

__all__ = [
    "PK",
    "SK",
    "audit",
    "batch_put",
    "card_schema",
    "delivery_schema",
    "eticket_schema",
    "from_item",
    "key_of",
    "order_list",
    "put_in_parallel",
    "retry_unapplied",
    "schema",
    "to_item",
]
