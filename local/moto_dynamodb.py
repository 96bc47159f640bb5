"""moto's DynamoDB made to keep the two promises of DynamoDB the stack relies on.

1. One request at a time. moto's backend reads and writes its tables without a lock: two
   conditional writes arriving at once on the server's threads can both pass their
   condition (a claim on a template's cursor relies on exactly that not happening). Every
   DynamoDB request here holds one lock while moto serves it, as if each were atomic.
2. TransactWriteItems all or nothing, without copying tables. moto keeps a deep copy of
   every table a transaction touches, to put back if the transaction is cancelled: its
   cost grows with the table (a claim among 5,000 items took 0.2 s), and putting the copy
   back would undo writes other threads made meanwhile. Here every condition is checked
   first, against the items as they are (as DynamoDB does), and a transaction whose
   condition fails is cancelled before anything is written, with moto's own cancellation
   reasons; one that passes is left to moto, its tables not copied, and the few items it
   touches are put back should moto still refuse it half way (a validation error).

``install()`` does both, once per process: ``local.stack`` calls it (so do the tests, the
chaos runs and the benchmarks, which all import it), and ``python -m local.moto_server``
runs moto's server with it.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import ConditionalCheckFailed, TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()
_installed: list[bool] = []  # once installed, [True]
# What moto's transaction snapshots with: deep copies of everything but whole tables.
_copy_keeping_tables = SimpleNamespace(
    deepcopy=lambda value, memo=None: (
        value if isinstance(value, Table) else copy.deepcopy(value, memo)
    ),
)
_CONDITION_FAILED = "ConditionalCheckFailed"
_OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")


def install() -> None:
    """Serialise moto's DynamoDB requests and make its transactions check before they write
    (idempotent)."""
    with _lock:
        if _installed:
            return
        DynamoHandler.call_action = _one_at_a_time(DynamoHandler.call_action)
        DynamoDBBackend.transact_write_items = _checked_first(DynamoDBBackend.transact_write_items)
        _installed.append(True)


def _one_at_a_time(call_action: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call_action)
    def serialised(self: Any) -> Any:
        with _lock:
            return call_action(self)

    return serialised


def _checked_first(transact: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(transact)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            targets = _targets(self, transact_items)
            if targets is None:  # malformed in a way moto itself answers: let it
                return transact(self, transact_items)
            reasons = [_failed_condition(self, item) for item in transact_items]
            if any(code is not None for code, _, _ in reasons):
                raise TransactionCanceledException(reasons)
            before = [(table, key, copy.deepcopy(table.get_item(*key))) for table, key in targets]
            try:
                with _tables_not_copied():
                    return transact(self, transact_items)
            except Exception:
                for table, key, item in before:
                    _put_back(table, key, item)
                raise

    return transact_write_items


def _targets(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> list[tuple[Table, tuple[Any, Any]]] | None:
    """Each item's table and key (hash and range values), or None if the request is not
    one moto would run (too many items, one item twice, an unknown operation or table)."""
    targets: list[tuple[Table, tuple[Any, Any]]] = []
    seen: set[tuple[str, str]] = set()
    if len(transact_items) > 100:
        return None
    for item in transact_items:
        if len(item) != 1:
            return None
        ((operation, request),) = item.items()
        if operation not in _OPERATIONS or request.get("TableName") not in backend.tables:
            return None
        table = backend.get_table(request["TableName"])
        attributes = request["Item"] if operation == "Put" else request["Key"]
        hash_key = attributes.get(table.hash_key_attr)
        range_key = attributes.get(table.range_key_attr) if table.range_key_attr else None
        if hash_key is None or (table.range_key_attr and range_key is None):
            return None
        identity = (table.name, repr((hash_key, range_key)))
        if identity in seen:
            return None
        seen.add(identity)
        targets.append(
            (
                table,
                (
                    DynamoType(hash_key),
                    None if range_key is None else DynamoType(range_key),
                ),
            )
        )
    return targets


def _failed_condition(
    backend: DynamoDBBackend, item: dict[str, Any]
) -> tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]:
    """The cancellation reason of one item of a transaction (as moto gives it), or three
    Nones if its condition holds."""
    ((operation, request),) = item.items()
    condition = request.get("ConditionExpression")
    if condition is None:
        return None, None, None
    table = backend.get_table(request["TableName"])
    attributes = request["Item"] if operation == "Put" else request["Key"]
    key = {table.hash_key_attr: attributes[table.hash_key_attr]}
    if table.range_key_attr:
        key[table.range_key_attr] = attributes[table.range_key_attr]
    current = backend.get_item(request["TableName"], key)
    holds = get_filter_expression(
        condition,
        request.get("ExpressionAttributeNames"),
        request.get("ExpressionAttributeValues"),
    ).expr(current)
    if holds:
        return None, None, None
    old = None
    if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
        old = current.to_json()["Attributes"]
    return _CONDITION_FAILED, str(ConditionalCheckFailed().message), old


@contextmanager
def _tables_not_copied() -> Iterator[None]:
    """moto's transaction, without its deep copy of whole tables (and so without putting
    one back: ``transact_write_items`` puts back the items instead). Safe under the lock:
    no other request runs moto's DynamoDB code meanwhile."""
    module_copy = dynamodb_models.copy
    dynamodb_models.copy = _copy_keeping_tables
    try:
        yield
    finally:
        dynamodb_models.copy = module_copy


def _put_back(table: Table, key: tuple[Any, Any], item: Any) -> None:
    hash_key, range_key = key
    if item is None:
        if table.get_item(hash_key, range_key) is not None:
            table.delete_item(hash_key, range_key)
    else:
        table.put_item(item.to_json()["Attributes"])
