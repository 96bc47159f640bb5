"""What the hostile-input and load scenarios (and their short versions in
tests/reliability) look at: the tables' contents, every secret the stack holds, latencies,
and figures printed as ``name=value`` lines."""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import boto3

from cardmaker import KmsDataKeys, OrderKey, Sealer, chunk_key_context
from cardmaker.store import from_item
from local.stack import FAKE_CREDENTIALS, LocalStack
from local.template import REGION

# The tables an HTTP request can write to (the cards table is written only by the functions
# behind the streams).
HTTP_TABLES = ("OrdersTable", "DeliveriesTable", "EticketTable")
_SHORTEST_SECRET = 8  # shorter strings would be found by chance


@contextlib.contextmanager
def quiet_stack() -> Iterator[LocalStack]:
    """The local stack with its logs, access lines and metric lines kept off stdout (print the
    figures after it stopped). The functions publish their metrics as on AWS (they cost what
    they cost); the lines are dropped."""
    with (
        contextlib.redirect_stdout(_Discard()),
        warnings.catch_warnings(),
        LocalStack(port=0, log=_Discard(), access_log=False, log_level="ERROR") as stack,
    ):
        # Powertools warns on stderr for every invocation that published no metric.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        yield stack


class _Discard(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


Snapshot = dict[str, frozenset[str]]


def snapshot(stack: LocalStack, tables: Iterable[str] = HTTP_TABLES) -> Snapshot:
    """Every item of ``tables`` (logical ids), each as canonical JSON: two snapshots are equal
    only if nothing was written, updated or deleted in between."""
    client = dynamodb(stack)
    state: Snapshot = {}
    for logical_id in tables:
        items: list[str] = []
        pages = client.get_paginator("scan").paginate(
            TableName=stack.stack.physical[logical_id], ConsistentRead=True
        )
        for page in pages:
            items += [
                json.dumps(item, sort_keys=True, default=_bytes_as_hex) for item in page["Items"]
            ]
        state[logical_id] = frozenset(items)
    return state


def dynamodb(stack: LocalStack) -> Any:
    """A DynamoDB client of the stack's moto server, made once per server."""
    return _dynamodb(stack.moto_url)


@functools.cache
def _dynamodb(moto_url: str) -> Any:
    # Making a client costs tens of milliseconds: one per moto server, not one per scan.
    return boto3.client(
        "dynamodb",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def changed_items(before: Snapshot, after: Snapshot) -> int:
    """How many items were written, changed or deleted between two snapshots."""
    return sum(len(before[table] ^ after[table]) for table in before)


def _bytes_as_hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    raise TypeError(type(value).__name__)


def stack_secrets(stack: LocalStack) -> list[bytes]:
    """Every secret the stack holds, in each form an answer could carry it: the TOP app
    secret and session key, the card-number key, every card secret generated so far, and
    every chunk's data key (raw, hex, base64)."""
    found = [
        stack.top.app_secret,
        stack.top.session_key,
        stack.top.notice_secret,
        _card_number_key(stack),
    ]
    keys: dict[str, bytes] = {}
    for data_key in _data_keys(stack).values():
        keys[data_key.hex()] = data_key
        found += [data_key.hex(), base64.b64encode(data_key).decode()]
    forms = [text.encode("utf-8") for text in found]
    forms += list(keys.values())
    forms += [secret.encode() for secret in card_secrets(stack).values()]
    return [form for form in set(forms) if len(form) >= _SHORTEST_SECRET]


def leaked(answer: bytes, secrets: Sequence[bytes]) -> int:
    """How many of ``secrets`` appear in ``answer`` (hex ones in either case)."""
    lowered = answer.lower()
    return sum(1 for secret in secrets if secret in answer or secret.lower() in lowered)


def card_secrets(stack: LocalStack) -> dict[str, str]:
    """Card number -> card secret, for every card in the cards table, opened with its chunk's
    data key (as a delivery opens them)."""
    keys = _data_keys(stack)
    opened: dict[str, str] = {}
    for item in map(from_item, _scan(stack, "CardsTable")):
        if "card_no" not in item:
            continue
        chunk = (_order_of(item["pk"]), item["chunk_id"])
        sealer = Sealer(keys[chunk])
        opened[item["card_no"]] = sealer.open(item["card_no"], item["secret"])
    return opened


def _data_keys(stack: LocalStack) -> dict[tuple[str, str], bytes]:
    """(order's pk part, chunk id) -> the chunk's data key in clear."""
    key_id = stack.functions["CardGeneratorFunction"].spec.environment["CARD_KEY_ID"]
    unwrapper = KmsDataKeys(stack.client("kms"), key_id)
    keys: dict[tuple[str, str], bytes] = {}
    for item in map(from_item, _scan(stack, "CardsTable")):
        pk = item["pk"]
        if not pk.startswith("CHUNKKEY#"):
            continue
        _, own_sign, card_order_id, chunk_id = pk.split("#", 3)
        order = OrderKey(own_sign, int(card_order_id))
        context = chunk_key_context(order, chunk_id)
        plaintext = unwrapper.unwrap(item["wrapped_key"], context).plaintext
        keys[(f"{own_sign}#{card_order_id}", chunk_id)] = plaintext
    return keys


def _order_of(card_pk: str) -> str:
    # CARD#<own_sign>#<card_order_id>#<template_no>#<bucket>
    _, own_sign, card_order_id, _ = card_pk.split("#", 3)
    return f"{own_sign}#{card_order_id}"


def _card_number_key(stack: LocalStack) -> str:
    secret_id = stack.stack.physical["CardNumberSecret"]
    value = stack.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    return str(json.loads(value)["key"])


def _scan(stack: LocalStack, logical_id: str) -> Iterator[dict[str, Any]]:
    pages = (
        stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=stack.stack.physical[logical_id], ConsistentRead=True)
    )
    for page in pages:
        yield from page["Items"]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.5 is the median); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def print_figures(header: Iterable[str], figures: Mapping[str, object]) -> None:
    """A short human header, then one ``name=value`` line per figure."""
    for line in header:
        print(f"# {line}")
    for name, value in figures.items():
        print(f"{name}={value}", flush=True)
