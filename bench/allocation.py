"""Does allocation slow down as a template is used up?

E-voucher-sized deliveries (1 or 2 cards, alternately) claimed through the allocation path
(``DynamoDBCardRepository.claim``: one transaction that puts the claim and moves the
template's cursor) on moto, for two templates of one order, claim by claim in turn:

  allocation_late_per_s    a template that already served ``EARLIER_CLAIMS`` claims;
  allocation_early_per_s   a template that served none;
  allocation_late_vs_early_ratio   goal >= 0.9.

Both templates live in the same table at the same moment, so whatever the table's size costs
(moto copies a table whole for every item of a transaction) costs both alike: the figure
shows what the earlier claims on the *same template* cost. The earlier claims are set up as
the items ``claim`` writes (a claim item per delivery and the cursor's count), not timed.
Rates from the median claim (a shared machine stalls a few of them far longer).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import boto3
from moto import mock_aws

from bench.goals import Goal, report
from cardmaker import DynamoDBCardRepository, OrderKey, dynamodb_client
from cardmaker.store import batch_put, card_schema
from local.template import REGION, create_resources

EARLIER_CLAIMS = 2000
CLAIMS = 60  # moto copies the table whole per transaction item: about 0.1 s a claim here
WARMUP_CLAIMS = 3
AVAILABLE = 10**6  # the template's cards: never the limit here
ORDER = OrderKey("daily", 5_000_000)
GOAL = Goal("allocation_late_vs_early_ratio", ">=", 0.9)


class BenchFailed(Exception):
    pass


def quantity(number: int) -> int:
    return 1 + number % 2


EARLIER = "2026-01-01T00:00:00+00:00"  # when the earlier claims were made


def used_up(table: str, template_no: str, claims: int) -> int:
    """The items ``claims`` deliveries' claims leave: their claim items and the cursor."""
    items, allocated = [], 0
    for number in range(claims):
        positions = range(allocated, allocated + quantity(number))
        items.append(
            card_schema.claim_item(ORDER, template_no, f"earlier-{number}", positions, EARLIER)
        )
        allocated = positions.stop
    batch_put(dynamodb_client(), table, items)
    dynamodb_client().put_item(
        TableName=table,
        Item={**card_schema.cursor_key(ORDER, template_no), "allocated": {"N": str(allocated)}},
    )
    return allocated


def measure(table: str) -> tuple[float, float]:
    """Median seconds of one claim: (late template, early template)."""
    allocated = {"LATE": used_up(table, "LATE", EARLIER_CLAIMS), "EARLY": 0}
    cards = DynamoDBCardRepository(table)
    times: dict[str, list[float]] = {"LATE": [], "EARLY": []}
    for number in range(WARMUP_CLAIMS + CLAIMS):
        for template in ("LATE", "EARLY") if number % 2 == 0 else ("EARLY", "LATE"):
            wanted = quantity(number)
            started = time.perf_counter()
            first = cards.claim(ORDER, template, f"delivery-{number}", wanted, AVAILABLE)
            elapsed = time.perf_counter() - started
            if first != allocated[template]:  # ranges tile the template: none twice, no gap
                raise BenchFailed(
                    f"{template} claim {number} got {first}, not {allocated[template]}"
                )
            allocated[template] += wanted
            if number >= WARMUP_CLAIMS:
                times[template].append(elapsed)
    return statistics.median(times["LATE"]), statistics.median(times["EARLY"])


def main() -> int:
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    try:
        with mock_aws():
            stack = create_resources(
                boto3.Session(), secret_values={"TopSecret": {"app_secret": "x"}}
            )
            late_s, early_s = measure(stack.physical["CardsTable"])
    except BenchFailed as failure:
        print(f"bench FAILED: {failure}", file=sys.stderr)
        return 1
    late, early = 1 / late_s, 1 / early_s
    print(
        f"allocation: {CLAIMS} deliveries of 1-2 cards on a template with {EARLIER_CLAIMS}"
        f" earlier claims vs {CLAIMS} on a fresh one, in turn (moto, in-process)"
    )
    print(f"allocation_late_per_s={late:.0f}")
    print(f"allocation_early_per_s={early:.0f}")
    print(f"allocation_late_vs_early_ratio={late / early:.2f}  {GOAL.describe()}")
    report((GOAL, late / early))
    return 0


if __name__ == "__main__":
    sys.exit(main())
