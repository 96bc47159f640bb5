"""Driving an order and its deliveries through the local stack over HTTP, as the platform and
an operator would (retrying a 5xx), and checking afterwards, from the tables and the fake TOP
gateway, that no card was lost or duplicated.

Shared by ``tests/reliability/test_dynamodb_faults.py`` and ``chaos/dynamodb_faults.py``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from cardmaker.store import from_item
from cardmaker_cli.samples import sample_order
from local.platform import sample_delivery, sign_demo_call
from local.stack import LocalStack

OWN_SIGN = "daily"
FINAL = {"DELIVERED", "PARTIAL", "FAILED"}


@dataclass
class Sent:
    """What reached the platform's side: HTTP answers and how often a 5xx was retried."""

    retries: int = 0
    answers: list[requests.Response] = field(default_factory=list)


def send_order(
    stack: LocalStack,
    card_order_id: int,
    templates: list[tuple[str, int, str]],
    sent: Sent,
    *,
    attempts: int = 6,
) -> dict[str, Any]:
    """``cardorder.make`` signed as the platform does, retried on a 5xx as it would be."""
    for _ in range(attempts):
        call = sign_demo_call(sample_order(card_order_id, OWN_SIGN, templates))
        answer = requests.post(
            call.url(stack.url), data=call.body, headers=call.headers, timeout=30
        )
        sent.answers.append(answer)
        if answer.status_code < 500:
            return dict(answer.json()["response"])
        sent.retries += 1
    raise AssertionError(f"order {card_order_id} still answered 5xx after {attempts} tries")


def create_delivery(
    stack: LocalStack, body: dict[str, Any], sent: Sent, *, attempts: int = 6
) -> str:
    """``POST /deliveries``, retried on a 5xx as an operator would; returns the delivery id."""
    for _ in range(attempts):
        answer = requests.post(f"{stack.url}/deliveries", json=body, timeout=30)
        sent.answers.append(answer)
        if answer.status_code < 500:
            assert answer.status_code == 202, answer.text
            return str(answer.json()["delivery_id"])
        sent.retries += 1
    raise AssertionError(f"delivery still answered 5xx after {attempts} tries")


def eticket(card_order_id: int, template_no: str, quantity: int, outer_id: str) -> dict[str, Any]:
    return sample_delivery(
        "eticket", card_order_id, OWN_SIGN, template_no, quantity=quantity, outer_id=outer_id
    )


def bind(card_order_id: int, template_no: str, quantity: int, out_biz_id: str) -> dict[str, Any]:
    return sample_delivery(
        "bind", card_order_id, OWN_SIGN, template_no, quantity=quantity, out_biz_id=out_biz_id
    )


def scan(stack: LocalStack, logical_id: str) -> list[dict[str, Any]]:
    """Every item of a table, plain values (read with a client no fault touches)."""
    client = stack.client("dynamodb")
    request: dict[str, Any] = {
        "TableName": stack.stack.physical[logical_id],
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    while True:
        page = client.scan(**request)
        items += [from_item(item) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class Ledger:
    """What the tables and the gateway say after a run; ``problems`` lists broken invariants."""

    cards: int = 0
    deliveries: int = 0
    cards_delivered: int = 0
    lost: int = 0  # cards missing from a template's positions, or a delivery short of cards
    duplicated: int = 0  # a number twice, a chunk or card counted twice, a card in 2 deliveries
    duplicate_sends: int = 0  # the same delivery sent to TOP more than once
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, int]:
        return {
            "cards_generated": self.cards,
            "deliveries_final": self.deliveries,
            "cards_delivered": self.cards_delivered,
            "items_lost": self.lost,
            "items_duplicated": self.duplicated,
            "duplicate_top_sends": self.duplicate_sends,
        }


def check_order(
    stack: LocalStack, card_order_id: int, templates: list[tuple[str, int, str]], ledger: Ledger
) -> None:
    """The order GENERATED, each template's cards exactly at positions 0..count-1, every
    number distinct, every chunk counted exactly once."""
    header = next(
        item
        for item in scan(stack, "OrdersTable")
        if item["pk"] == f"ORDER#{OWN_SIGN}#{card_order_id}" and item["sk"] == "ORDER"
    )
    cards = [
        item
        for item in scan(stack, "CardsTable")
        if item["pk"].startswith(f"CARD#{OWN_SIGN}#{card_order_id}#")
    ]
    ledger.cards += len(cards)
    if header["status"] != "GENERATED":
        ledger.problems.append(f"order {card_order_id} is {header['status']}")
    for template_no, count, _ in templates:
        positions = Counter(
            card["position"] for card in cards if card["template_no"] == template_no
        )
        missing = set(range(count)) - set(positions)
        ledger.lost += len(missing)
        extra = sum(n - 1 for n in positions.values()) + len(set(positions) - set(range(count)))
        ledger.duplicated += extra
        if missing or extra:
            ledger.problems.append(f"{template_no}: {len(missing)} missing, {extra} extra")
        counted = int(header.get("generated", {}).get(template_no, 0))
        if counted != count:
            ledger.duplicated += max(0, counted - count)
            ledger.lost += max(0, count - counted)
            ledger.problems.append(f"{template_no}: counted {counted} of {count}")
    numbers = Counter(card["card_no"] for card in cards)
    twice = sum(n - 1 for n in numbers.values())
    ledger.duplicated += twice
    if twice:
        ledger.problems.append(f"{twice} card numbers given twice")
    total = sum(count for _, count, _ in templates)
    done = (
        header.get("chunks_done"),
        len(header.get("done_chunks", ())),
        header.get("chunks_total"),
    )
    if header.get("cards_generated") != total or len(set(done)) != 1:
        ledger.duplicated += 1
        ledger.problems.append(f"progress {header.get('cards_generated')}/{total}, chunks {done}")


def _tile(claims: list[tuple[int, int]], allocated: int) -> bool:
    """Whether ranges (first, quantity), sorted, cover ``0 .. allocated - 1`` once each."""
    position = 0
    for first, quantity in claims:
        if first != position:
            return False
        position += quantity
    return position == allocated


def check_deliveries(stack: LocalStack, delivery_ids: list[str], ledger: Ledger) -> None:
    """Every delivery final with exactly its quantity of cards, no card in two deliveries,
    each delivery's cards sent to TOP once, and the cursors counting exactly what they hold."""
    items = {item["delivery_id"]: item for item in scan(stack, "DeliveriesTable")}
    holders: Counter[tuple[str, str, int]] = Counter()
    for delivery_id in delivery_ids:
        item = items[delivery_id]
        request = item["request"]
        if item["status"] not in FINAL:
            ledger.problems.append(f"{delivery_id} is {item['status']}")
            continue
        ledger.deliveries += 1
        ledger.cards_delivered += len(item["cards"])
        if len(item["cards"]) != request["quantity"]:
            ledger.lost += abs(request["quantity"] - len(item["cards"]))
            ledger.problems.append(f"{delivery_id}: {len(item['cards'])} of {request['quantity']}")
        if item["status"] != "DELIVERED":
            ledger.problems.append(f"{delivery_id} is {item['status']}")
        for card in item["cards"]:
            holders[(str(request["card_order_id"]), request["template_no"], card["position"])] += 1
    shared = sum(n - 1 for n in holders.values())
    ledger.duplicated += shared
    if shared:
        ledger.problems.append(f"{shared} cards in two deliveries")
    cards_table = scan(stack, "CardsTable")
    for cursor in (i for i in cards_table if i["pk"].startswith("CURSOR#")):
        _, _, order_id, template_no = cursor["pk"].split("#", 3)
        held = sum(1 for key in holders if key[:2] == (order_id, template_no))
        if cursor["allocated"] != held:
            ledger.problems.append(
                f"cursor {template_no}: allocated {cursor['allocated']}, held {held}"
            )
        # The template's claims, one item each, tile exactly what the cursor handed out.
        claims = sorted(
            (claim["first"], claim["quantity"])
            for claim in cards_table
            if claim["pk"] == "CLAIM#" + cursor["pk"].removeprefix("CURSOR#")
        )
        if not _tile(claims, cursor["allocated"]):
            ledger.problems.append(f"cursor {template_no}: claims {claims} do not tile it")
    gateway = stack.top_gateway
    assert gateway is not None
    calls = [call for call in gateway.calls if call.processed]
    # The gateway tells a first send of a card from a repeat under the same business id.
    ledger.duplicate_sends += sum(1 for call in calls if call.repeated)
    accepted = Counter(card for call in calls for card in call.accepted)
    twice = sum(n - 1 for n in accepted.values())
    ledger.duplicated += twice
    if twice:
        ledger.problems.append(f"{twice} cards accepted by TOP under two business ids")
