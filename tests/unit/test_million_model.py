"""The DynamoDB stand-in of ``bench.million`` enforces AWS's write limits: fed given calls
here at given simulated times (the benchmark itself runs only in ``make bench``)."""

from __future__ import annotations

from typing import Any

from bench.million import (
    DOUBLING_AFTER_S,
    SimulatedDynamoDB,
    TableModel,
    Timeline,
    concurrency,
    simulate,
    write_units,
)


def put(partition_key: str, number: int, padding: int = 0) -> dict[str, Any]:
    item = {"pk": {"S": partition_key}, "sk": {"S": f"{number:07d}"}, "pad": {"S": "x" * padding}}
    return {"PutRequest": {"Item": item}}


def write_at(dynamodb: SimulatedDynamoDB, at: float, requests: list[dict[str, Any]]) -> int:
    """Send ``requests`` 25 a call at simulated time ``at``; how many were left unprocessed."""
    left = 0
    for start in range(0, len(requests), 25):
        dynamodb.timeline = Timeline(at)
        answer = dynamodb.batch_write_item(RequestItems={"cards": requests[start : start + 25]})
        left += len(answer["UnprocessedItems"].get("cards", []))
    return left


def test_a_partition_takes_a_thousand_writes_a_second_and_answers_the_rest_unprocessed():
    dynamodb = SimulatedDynamoDB(TableModel.warm(40_000, 12_000))
    one_key = [put("CARD#daily#1#T1#0", number) for number in range(1500)]

    assert write_at(dynamodb, 10.0, one_key) == 500  # one partition key: one partition
    assert write_at(dynamodb, 10.5, one_key[:10]) == 10  # the same second: still full
    assert write_at(dynamodb, 11.0, one_key[:10]) == 0  # the next second has room again
    assert dynamodb.ledger.accepted == 1010
    assert dynamodb.ledger.throttled == 510


def test_a_new_on_demand_table_takes_four_thousand_writes_a_second_on_four_partitions():
    model = TableModel.new_on_demand()
    assert (model.partitions, model.ceiling) == (4, 4000)
    dynamodb = SimulatedDynamoDB(model)
    spread = [put(f"CARD#daily#1#T1#{key}", key) for key in range(6000)]  # 6,000 keys

    left = write_at(dynamodb, 0.0, spread)

    assert left == 2000  # the table's ceiling, not the partitions', is what stops these
    assert sum(dynamodb.ledger.used.values()) == 4000


def test_on_demand_doubles_only_after_half_an_hour_at_its_ceiling():
    dynamodb = SimulatedDynamoDB(TableModel.new_on_demand())
    spread = [put(f"K{key}", key) for key in range(5000)]
    write_at(dynamodb, 0.0, spread)  # presses against the ceiling from second 0
    write_at(dynamodb, 60.0, spread)
    assert dynamodb.model.ceiling == 4000  # a minute later: no more

    write_at(dynamodb, DOUBLING_AFTER_S, spread)

    assert dynamodb.model.ceiling == 8000
    assert dynamodb.model.partitions == 8


def test_warm_throughput_gives_a_partition_per_thousand_writes_and_its_ceiling_at_once():
    model = TableModel.warm(40_000, 12_000)
    assert (model.partitions, model.ceiling, model.doubles) == (40, 40_000, False)
    dynamodb = SimulatedDynamoDB(model)
    spread = [put(f"CARD#daily#1#T{key}#0", key) for key in range(50_000)]

    left = write_at(dynamodb, 0.0, spread)

    assert 10_000 <= left < 20_000  # the ceiling, and the busier partitions fill first
    assert max(dynamodb.ledger.used.values()) == 1000


def test_an_item_costs_a_write_unit_per_kilobyte():
    assert write_units(put("K", 1)["PutRequest"]["Item"]) == 1
    assert write_units(put("K", 1, padding=1500)["PutRequest"]["Item"]) == 2


def test_chunks_run_as_the_template_fans_them_out():
    # ParallelizationFactor 10 per orders-stream shard, 4 shards on a new on-demand table
    assert concurrency() == 40


def test_chunks_ride_out_throttling_instead_of_failing():
    # Four chunks at once on a new on-demand table (4,000 writes a second between them): each
    # is throttled for seconds. The card writer's backoff must absorb that, not fail the chunk
    # (with 8 attempts a BatchWriteItem gave up: 3 of the 4 chunks failed once and were
    # generated and written again; on a million cards, the order failed).
    outcome = simulate(TableModel.new_on_demand(), cards=20_000, templates=4)

    assert outcome.failed is None
    assert outcome.invocations == 4  # every chunk in one invocation
    assert outcome.ledger.accepted == 20_000  # every card written once
    # and it was throttled, hard (less than before the writer paced its buckets and slowed
    # down while throttled: more than 5,000 refused writes then, about 3,200 now)
    assert outcome.ledger.throttled > 2000
