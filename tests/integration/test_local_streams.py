"""The local stream poller (Lambda's DynamoDB event source mapping, played locally) against
moto in-process, driven synchronously with ``poll_once()``; then its thread, and its wiring in
the real local stack."""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel
from moto import mock_aws

from cardmaker_cli.stream_records import lambda_record
from local.apigw import LambdaContext
from local.streams import (
    READ_SPACING,
    EventPattern,
    StreamMappingError,
    StreamPoller,
    StreamReader,
    error_trace,
    passes,
    streams_client,
)
from local.template import (
    REPO,
    Stack,
    StreamSource,
    create_resources,
    functions,
    load_template,
    parameter_values,
)

TEMPLATE = Path(__file__).resolve().parent.parent / "data" / "streams_template.yaml"
EXPECTED_RECORD_KEYS = {
    "eventID",
    "eventName",
    "eventVersion",
    "eventSource",
    "awsRegion",
    "dynamodb",
    "eventSourceARN",
}


@dataclass
class Probe:
    """The probe function (tests/data/stream_probe), invoked as the local stack does."""

    handler: Callable[[dict[str, Any], Any], Any]
    name: str = "StreamProbe"
    before_invoke: Callable[[], None] = lambda: None

    def invoke(self, event: dict[str, Any]) -> Any:
        self.before_invoke()
        return self.handler(event, LambdaContext(function_name=self.name))

    @property
    def received(self) -> list[dict[str, Any]]:
        return sys.modules[self.handler.__module__].received


@dataclass
class Scripted:
    """A function whose answers the test decides, one per invocation."""

    answers: list[Any]
    name: str = "Scripted"
    events: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return self.answers.pop(0) if self.answers else None


@dataclass
class World:
    session: boto3.Session
    stack: Stack
    source: StreamSource
    probe: Probe
    logs: list[str]

    @property
    def table(self) -> str:
        return self.stack.physical["ProbeTable"]

    @property
    def stream_arn(self) -> str:
        return self.stack.attributes["ProbeTable"]["StreamArn"]

    def put(self, pk: str, kind: str = "probe", **attributes: Any) -> None:
        item: dict[str, Any] = {"pk": {"S": pk}, "kind": {"S": kind}}
        for name, value in attributes.items():
            item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
        self.session.client("dynamodb").put_item(TableName=self.table, Item=item)

    def poller(self, function: Any = None, **changes: Any) -> StreamPoller:
        """A poller of the probe (or ``function``); ``changes`` override event properties."""
        source = replace(self.source, properties={**self.source.properties, **changes})
        return StreamPoller(
            function or self.probe,
            source,
            streams=streams_client(self.session),
            sqs=self.session.client("sqs"),
            retry_delay=0,
            log=self.logs.append,
        )

    def failures(self) -> list[dict[str, Any]]:
        sqs = self.session.client("sqs")
        url = self.stack.physical["ProbeFailures"]
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in answer.get("Messages", [])]

    def shard_id(self) -> str:
        described = streams_client(self.session).describe_stream(StreamArn=self.stream_arn)
        return described["StreamDescription"]["Shards"][0]["ShardId"]


def offline_poller(**changes: Any) -> StreamPoller:
    """A poller of the template's event, with ``changes``, built without AWS (the settings
    are checked before any call)."""
    template = load_template(TEMPLATE)
    stack = Stack(
        parameters=parameter_values(template, {}),
        attributes={
            "ProbeTable": {"StreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1"},
            "ProbeFailures": {"Arn": "arn:aws:sqs:us-east-1:123456789012:failures"},
        },
    )
    (source,) = functions(stack, template)["StreamProbe"].stream_sources
    source = replace(source, properties={**source.properties, **changes})
    return StreamPoller(Scripted([]), source, streams=None, sqs=None)


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        template = load_template(TEMPLATE)
        stack = create_resources(session, template=template)
        spec = functions(stack, template)["StreamProbe"]
        (source,) = spec.stream_sources
        yield World(session, stack, source, Probe(spec.load_handler()), [])


def pks(event: dict[str, Any]) -> list[str]:
    return [record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"]]


def sequence(event: dict[str, Any]) -> list[int]:
    return [int(record["dynamodb"]["SequenceNumber"]) for record in event["Records"]]


# --- the event ----------------------------------------------------------------------------


def test_event_is_the_one_lambda_delivers(world):
    world.put("a")
    world.put("a", fail="never")  # a MODIFY, with both images
    before = time.time()
    assert world.poller().poll_once() == 2

    (event,) = world.probe.received
    inserted, modified = event["Records"]
    for record in (inserted, modified):
        assert set(record) == EXPECTED_RECORD_KEYS
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1"
        assert record["eventSourceARN"] == world.stream_arn
        created = record["dynamodb"]["ApproximateCreationDateTime"]
        assert isinstance(created, int)
        assert before - 60 < created <= time.time()
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(record["dynamodb"]["SizeBytes"], int)
        assert record["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
    assert inserted["eventName"] == "INSERT"
    assert "OldImage" not in inserted["dynamodb"]
    assert modified["eventName"] == "MODIFY"
    assert modified["dynamodb"]["OldImage"]["kind"] == {"S": "probe"}
    assert modified["dynamodb"]["NewImage"]["fail"] == {"S": "never"}
    # The shape Powertools' parser (which the functions use) accepts; moto's raw one fails it.
    parsed = DynamoDBStreamModel.model_validate(event)
    assert parsed.Records[1].dynamodb.NewImage["fail"] == "never"


def test_binary_attributes_arrive_in_base64():
    raw = {
        "eventID": "1",
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_700_000_000.7,
            "Keys": {"pk": {"B": b"\x00\xff"}},
            "SequenceNumber": "100",
            "SizeBytes": 10,
            "StreamViewType": "KEYS_ONLY",
        },
    }
    record = lambda_record(raw, "arn:aws:dynamodb:eu-west-1:1:table/t/stream/x")
    assert record.event["dynamodb"]["Keys"] == {"pk": {"B": "AP8="}}
    assert record.event["dynamodb"]["ApproximateCreationDateTime"] == 1_700_000_000
    assert record.event["awsRegion"] == "eu-west-1"


# --- filtering ----------------------------------------------------------------------------


def test_records_no_filter_matches_are_consumed_never_delivered(world):
    world.put("a")
    world.put("b", kind="other")
    world.put("c")
    world.session.client("dynamodb").delete_item(TableName=world.table, Key={"pk": {"S": "a"}})
    poller = world.poller()

    assert poller.poll_once() == 4  # the REMOVE has no NewImage: filtered out too
    assert [pks(event) for event in world.probe.received] == [["a", "c"]]
    assert poller.poll_once() == 0
    assert len(world.probe.received) == 1


RECORD = {
    "eventName": "MODIFY",
    "dynamodb": {
        "NewImage": {
            "entity": {"S": "CHUNK"},
            "status": {"S": "RUNNING"},
            "count": {"N": "5"},
            "tags": {"SS": ["red", "blue"]},
            "gone": {"NULL": True},
        },
        "SizeBytes": 120,
    },
    "note": None,
}


def image(pattern: dict[str, Any]) -> dict[str, Any]:
    return {"dynamodb": {"NewImage": pattern}}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (image({"entity": {"S": ["CHUNK"]}}), True),
        (image({"entity": {"S": ["ORDER"]}}), False),
        (image({"entity": {"S": ["ORDER", "CHUNK"]}}), True),  # a list: any of them
        (image({"entity": {"S": ["CHUNK"]}, "status": {"S": ["DONE"]}}), False),  # and
        (image({"tags": {"SS": ["blue"]}}), True),  # a list in the record: any item
        ({"note": [None]}, True),
        ({"note": ["x"]}, False),
        (image({"status": {"S": [{"exists": True}]}}), True),
        (image({"missing": {"S": [{"exists": True}]}}), False),
        (image({"missing": {"S": [{"exists": False}]}}), True),
        (image({"status": {"S": [{"exists": False}]}}), False),
        (image({"status": [{"exists": True}]}), False),  # an object is not a leaf value
        (image({"status": {"S": [{"prefix": "RUN"}]}}), True),
        (image({"status": {"S": [{"prefix": "DON"}]}}), False),
        (image({"status": {"S": [{"anything-but": ["DONE", "FAILED"]}]}}), True),
        (image({"status": {"S": [{"anything-but": "RUNNING"}]}}), False),
        (image({"missing": {"S": [{"anything-but": ["x"]}]}}), False),  # needs a value
        ({"dynamodb": {"SizeBytes": [{"numeric": [">", 100, "<=", 120]}]}}, True),
        ({"dynamodb": {"SizeBytes": [{"numeric": ["<", 100]}]}}, False),
        ({"dynamodb": {"SizeBytes": [120]}}, True),
        (image({"count": {"N": [{"numeric": ["=", 5]}]}}), False),  # N is a string
        ({"eventName": ["MODIFY"]}, True),
        ({"eventName": ["INSERT"]}, False),
    ],
)
def test_filter_operators(pattern, expected):
    assert EventPattern.parse(json.dumps(pattern)).matches(RECORD) is expected


def test_several_filters_are_ored_and_none_lets_everything_through():
    chunk = EventPattern.parse(image({"entity": {"S": ["CHUNK"]}}))
    order = EventPattern.parse(image({"entity": {"S": ["ORDER"]}}))
    assert passes([order, chunk], RECORD)
    assert not passes([order], RECORD)
    assert passes([], RECORD)


def test_template_filters_or_ed_on_the_stream(world):
    filters = {
        "Filters": [
            {"Pattern": json.dumps(image({"kind": {"S": ["alpha"]}}))},
            {"Pattern": json.dumps(image({"kind": {"S": [{"anything-but": ["alpha", "beta"]}]}}))},
        ]
    }
    for pk, kind in [("1", "alpha"), ("2", "beta"), ("3", "gamma")]:
        world.put(pk, kind=kind)
    assert world.poller(FilterCriteria=filters).poll_once() == 3
    assert [pks(event) for event in world.probe.received] == [["1", "3"]]


@pytest.mark.parametrize(
    "pattern",
    [
        image({"kind": {"S": [{"suffix": "x"}]}}),
        image({"kind": {"S": [{"equals-ignore-case": "x"}]}}),
        image({"kind": {"S": [{"anything-but": {"prefix": "x"}}]}}),
        image({"kind": {"S": [{"numeric": [">", "1"]}]}}),
        image({"kind": {"S": [{"exists": "yes"}]}}),
        image({"kind": {"S": [True]}}),
        image({"kind": {"S": "probe"}}),  # not in an array
        {"$or": [image({"kind": {"S": ["x"]}})]},
    ],
)
def test_unsupported_filters_are_refused_at_start(pattern):
    criteria = {"Filters": [{"Pattern": json.dumps(pattern)}]}
    with pytest.raises(StreamMappingError, match="filter"):
        offline_poller(FilterCriteria=criteria)


# --- batching -----------------------------------------------------------------------------


def test_batches_hold_at_most_batch_size_records_in_stream_order(world):
    names = [f"item-{index}" for index in range(7)]
    for name in names:
        world.put(name)
    assert world.poller().poll_once() == 7

    events = world.probe.received
    assert [len(event["Records"]) for event in events] == [3, 3, 1]
    assert [pk for event in events for pk in pks(event)] == names
    numbers = [number for event in events for number in sequence(event)]
    assert numbers == sorted(numbers)


def test_latest_starting_position_skips_what_came_before(world):
    world.put("before")
    poller = world.poller(StartingPosition="LATEST")
    assert poller.poll_once() == 0
    world.put("after")
    assert poller.poll_once() == 1
    assert [pks(event) for event in world.probe.received] == [["after"]]


# --- failures -----------------------------------------------------------------------------


def test_partial_failure_retries_from_the_first_failed_record(world):
    world.put("a")
    world.put("b", fail="once")
    world.put("c")
    world.poller().poll_once()

    assert [pks(event) for event in world.probe.received] == [["a", "b", "c"], ["b", "c"]]
    assert world.failures() == []


def test_lowest_failed_sequence_number_is_the_checkpoint(world):
    for name in "abc":
        world.put(name)
    _, b, c = sequence_of(world)
    # The function reports c then b: Lambda retries from b, the lowest.
    failures = [{"itemIdentifier": str(number)} for number in (c, b)]
    function = Scripted([{"batchItemFailures": failures}])
    poller = world.poller(function)
    poller.poll_once()
    assert [pks(event) for event in function.events] == [["a", "b", "c"], ["b", "c"]]


def sequence_of(world: World) -> list[int]:
    client = streams_client(world.session)
    iterator = client.get_shard_iterator(
        StreamArn=world.stream_arn, ShardId=world.shard_id(), ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = client.get_records(ShardIterator=iterator)["Records"]
    return [int(record["dynamodb"]["SequenceNumber"]) for record in records]


@pytest.mark.parametrize(
    "failure",
    [{"itemIdentifier": ""}, {"itemIdentifier": None}, {"itemIdentifier": "1"}, {}, {"x": 1}, "1"],
)
def test_invalid_item_identifier_fails_the_whole_batch(world, failure):
    for name in "ab":
        world.put(name)
    function = Scripted([{"batchItemFailures": [failure]}])
    world.poller(function).poll_once()
    assert [pks(event) for event in function.events] == [["a", "b"], ["a", "b"]]


def test_item_failures_are_ignored_without_report_batch_item_failures(world):
    world.put("a", fail="always")
    world.poller(FunctionResponseTypes=[]).poll_once()
    assert len(world.probe.received) == 1
    assert world.failures() == []


def test_poison_record_is_retried_then_reported_and_the_shard_moves_on(world):
    world.put("a")
    world.put("b")
    world.put("poison", fail="always")
    world.put("c")
    world.put("d")
    world.poller().poll_once()

    calls = [pks(event) for event in world.probe.received]
    assert calls == [["a", "b", "poison"], ["poison"], ["poison"], ["c", "d"]]
    retries = calls.count(["poison"])
    assert retries == 2  # MaximumRetryAttempts, from the template's parameter
    (message,) = world.failures()
    poison = world.probe.received[1]["Records"][0]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert message["requestContext"]["functionArn"].endswith(":function:StreamProbe")
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert message["version"] == "1.0"
    info = message["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == poison["dynamodb"]["SequenceNumber"]
    assert info["endSequenceNumber"] == poison["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == world.stream_arn
    assert info["shardId"] == world.shard_id()
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert "poison" not in json.dumps(message)  # metadata only, never the records


def test_raising_function_bisects_down_to_the_bad_record(world):
    world.put("g1")
    world.put("bad", boom="yes")
    world.put("g2")
    world.put("g3")
    world.poller().poll_once()

    calls = [pks(event) for event in world.probe.received]
    # Splits don't count as retries: the bad record alone gets 1 + MaximumRetryAttempts.
    assert calls == [
        ["g1", "bad", "g2"],
        ["g1"],
        ["bad", "g2"],
        ["bad"],
        ["bad"],
        ["bad"],
        ["g2"],
        ["g3"],
    ]
    (message,) = world.failures()
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1
    bad = world.probe.received[3]["Records"][0]["dynamodb"]["SequenceNumber"]
    assert message["DDBStreamBatchInfo"]["startSequenceNumber"] == bad
    logged = "\n".join(world.logs)
    assert "Boom" in logged
    assert not any(value in logged for value in ("g1", "g2", "bad", "yes", '"S"'))


def test_error_trace_shows_where_but_never_what():
    class BatchFailed(Exception):
        """Like Powertools' BatchProcessingError: the record handler's errors inside."""

    data = "order-4711-secret"
    try:
        raise KeyError(data)
    except KeyError as error:
        inner = (KeyError, error, error.__traceback__)
    try:
        try:
            raise ValueError(data)
        except ValueError as cause:
            failed = BatchFailed(data)
            failed.child_exceptions = [inner]
            raise failed from cause
    except BatchFailed as error:
        trace = error_trace(error)
    assert trace.index("BatchFailed") < trace.index("KeyError")
    assert "raise KeyError(data)" in trace
    assert data not in trace


def test_without_bisection_the_whole_batch_is_retried_and_given_up(world):
    for name, extra in [("g1", {}), ("bad", {"boom": "yes"}), ("g2", {}), ("g3", {})]:
        world.put(name, **extra)
    world.poller(BisectBatchOnFunctionError=False).poll_once()

    calls = [pks(event) for event in world.probe.received]
    assert calls == [["g1", "bad", "g2"]] * 3 + [["g3"]]
    (message,) = world.failures()
    first, last = world.probe.received[0]["Records"][0], world.probe.received[0]["Records"][-1]
    info = message["DDBStreamBatchInfo"]
    assert info["batchSize"] == 3
    assert info["startSequenceNumber"] == first["dynamodb"]["SequenceNumber"]
    assert info["endSequenceNumber"] == last["dynamodb"]["SequenceNumber"]


def test_records_older_than_maximum_record_age_are_not_retried(world):
    now = [time.time()]
    world.probe.before_invoke = lambda: now.__setitem__(0, now[0] + 61)
    poller = world.poller()
    poller._clock = lambda: now[0]
    world.put("late", fail="always")
    # The clock starts after the put, so each invocation ages the record past 60 s however
    # long the put took (a slow machine made it younger: then it was retried)
    now[0] = time.time()
    poller.poll_once()

    assert len(world.probe.received) == 1
    (message,) = world.failures()
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert message["requestContext"]["approximateInvokeCount"] == 1


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize("retries", [-1, "-1", None])
def test_unbounded_retries_are_refused(retries):
    with pytest.raises(StreamMappingError, match="MaximumRetryAttempts"):
        offline_poller(MaximumRetryAttempts=retries)


def test_settings_are_read_from_the_template():
    settings = offline_poller().settings
    assert settings.max_retries == 2  # from "2", the Number parameter's string
    assert settings.batch_size == 3
    assert settings.bisect is True
    assert settings.report_item_failures is True
    assert settings.max_record_age == 60
    assert settings.on_failure_arn == "arn:aws:sqs:us-east-1:123456789012:failures"
    assert len(settings.filters) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"StartingPosition": "AT_TIMESTAMP"}, "StartingPosition"),
        ({"FunctionResponseTypes": ["Other"]}, "FunctionResponseTypes"),
        ({"TumblingWindowInSeconds": 30}, "unsupported"),
        ({"Enabled": False}, "Enabled"),
        ({"BatchSize": 0}, "BatchSize"),
        ({"MaximumRecordAgeInSeconds": 10}, "MaximumRecordAgeInSeconds"),
        (
            {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:1:t"}}},
            "SQS",
        ),
    ],
)
def test_settings_the_poller_cannot_play_are_refused(change, message):
    with pytest.raises(StreamMappingError, match=message):
        offline_poller(**change)


# --- shards -------------------------------------------------------------------------------


class SplitStream:
    """A stream client whose parent shard closed into a child (moto never splits)."""

    def __init__(self, arn: str) -> None:
        self.arn = arn
        self.reads: list[str] = []
        self.records = {"parent": ["1", "2"], "child": ["3"]}

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        shards = [{"ShardId": "child", "ParentShardId": "parent"}, {"ShardId": "parent"}]
        return {"StreamDescription": {"Shards": shards}}

    def get_shard_iterator(self, ShardId: str, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": f"{ShardId}:0"}

    def get_records(self, ShardIterator: str, **_: Any) -> dict[str, Any]:
        shard, offset = ShardIterator.split(":")
        self.reads.append(shard)
        numbers = self.records[shard][int(offset) :]
        records = [self.record(number) for number in numbers]
        closed = shard == "parent" and not numbers
        following = None if closed else f"{shard}:{int(offset) + len(numbers)}"
        return {"Records": records, "NextShardIterator": following}

    @staticmethod
    def record(number: str) -> dict[str, Any]:
        return {
            "eventID": number,
            "eventName": "INSERT",
            "dynamodb": {
                "ApproximateCreationDateTime": time.time(),
                "Keys": {"pk": {"S": number}},
                "NewImage": {"pk": {"S": number}, "kind": {"S": "probe"}},
                "SequenceNumber": number,
                "SizeBytes": 10,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }


def test_a_child_shard_is_read_after_its_parent_is_finished(world):
    stream = SplitStream(world.stream_arn)
    poller = StreamPoller(
        world.probe, world.source, streams=stream, sqs=world.session.client("sqs"), retry_delay=0
    )
    assert poller.poll_once() == 3
    assert [pks(event) for event in world.probe.received] == [["1", "2"], ["3"]]
    assert stream.reads.index("child") > stream.reads.index("parent")


class CountingStreams:
    """A DynamoDB Streams client that counts the records GetRecords hands out."""

    def __init__(self, streams: Any) -> None:
        self.streams = streams
        self.records_read = 0
        self.reads = 0  # GetRecords calls

    def describe_stream(self, **request: Any) -> dict[str, Any]:
        return self.streams.describe_stream(**request)

    def get_shard_iterator(self, **request: Any) -> dict[str, Any]:
        return self.streams.get_shard_iterator(**request)

    def get_records(self, **request: Any) -> dict[str, Any]:
        page = self.streams.get_records(**request)
        self.reads += 1
        self.records_read += len(page.get("Records", []))
        return page


def test_a_short_page_ends_the_shards_read_for_this_cycle(world):
    # Lambda's poller makes one GetRecords per shard and poll; a page short of the limit
    # says the open shard has nothing more now (the next cycle reads on from its iterator)
    streams = CountingStreams(streams_client(world.session))
    reader = StreamReader(streams, world.stream_arn)
    poller = StreamPoller(
        world.probe, world.source, reader=reader, sqs=world.session.client("sqs"), retry_delay=0
    )
    for name in "abc":
        world.put(name)
    assert poller.poll_once() == 3
    assert streams.reads == 1
    world.put("d")
    assert poller.poll_once() == 1
    assert streams.reads == 2
    assert [pk for event in world.probe.received for pk in pks(event)] == list("abcd")


def test_a_busy_reader_reads_four_times_a_second_however_often_it_is_woken(world):
    # Given a running poller whose reader counts its reads
    streams = CountingStreams(streams_client(world.session))
    reader = StreamReader(streams, world.stream_arn)
    poller = StreamPoller(
        world.probe, world.source, reader=reader, sqs=world.session.client("sqs"), retry_delay=0
    )
    poller.start()
    try:
        poller.wait_idle(5)
        # When records keep arriving for a second and every write wakes the reader (as
        # every invocation does on the local stack)
        before, started = streams.reads, time.monotonic()
        for number in range(20):
            world.put(f"busy-{number}")
            reader.wake()
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        reads = streams.reads - before
        # Then it read at Lambda's rate (one GetRecords every 0.25 s), not once per wake
        assert reads <= elapsed / READ_SPACING + 2, (reads, elapsed)
        # and someone waiting for the stream is not held up by the spacing: all arrive
        poller.wait_idle(5)
        received = [pk for event in world.probe.received for pk in pks(event)]
        assert received == [f"busy-{number}" for number in range(20)]
    finally:
        poller.stop()


def test_mappings_of_one_stream_read_it_once_and_settle_from_their_own_checkpoints(world):
    # Given two mappings of the probe table's stream sharing one reader: the probe, and a
    # function that fails its first invocation and has a filter of its own
    streams = CountingStreams(streams_client(world.session))
    reader = StreamReader(streams, world.stream_arn)
    failing = Scripted([{"batchItemFailures": [{"itemIdentifier": "unknown"}]}])
    only_b = {"Filters": [{"Pattern": json.dumps({"dynamodb": {"Keys": {"pk": {"S": ["b"]}}}})}]}
    probe = StreamPoller(
        world.probe, world.source, reader=reader, sqs=world.session.client("sqs"), retry_delay=0
    )
    other = StreamPoller(
        failing,
        replace(world.source, properties={**world.source.properties, "FilterCriteria": only_b}),
        reader=reader,
        sqs=world.session.client("sqs"),
        retry_delay=0,
    )
    for name in "abc":
        world.put(name)

    # When both poll
    assert probe.poll_once() == 3
    assert other.poll_once() == 3

    # Then the stream was read once for both, each saw what its filter lets through, and
    # the failing one's retry held up nobody else
    assert streams.records_read == 3
    assert [pk for event in world.probe.received for pk in pks(event)] == list("abc")
    assert [pks(event) for event in failing.events] == [["b"], ["b"]]
    # and what both settled is not kept
    (shard,) = reader.shards()
    assert (shard.base, shard.records) == (3, [])
    world.put("d")
    assert other.poll_once() == 1
    assert streams.records_read == 4
    (shard,) = reader.shards()
    assert shard.base == 3
    assert len(shard.records) == 1  # the probe has not settled it yet
    assert probe.poll_once() == 1
    assert reader.shards()[0].records == []


def test_a_latest_mapping_joins_a_shared_reader_at_the_streams_end(world):
    reader = StreamReader(streams_client(world.session), world.stream_arn)
    early = StreamPoller(
        world.probe, world.source, reader=reader, sqs=world.session.client("sqs"), retry_delay=0
    )
    world.put("before")
    late = StreamPoller(
        Scripted([]),
        replace(world.source, properties={**world.source.properties, "StartingPosition": "LATEST"}),
        reader=reader,
        sqs=world.session.client("sqs"),
    )
    assert late.poll_once() == 0
    world.put("after")
    assert late.poll_once() == 1
    assert early.poll_once() == 2  # the early one still has both


def test_a_reader_of_another_stream_is_refused(world):
    reader = StreamReader(None, "arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/1")
    with pytest.raises(StreamMappingError, match="another stream"):
        StreamPoller(world.probe, world.source, reader=reader, sqs=None)


# --- the thread ---------------------------------------------------------------------------


def test_thread_delivers_waits_idle_and_stops_promptly(world):
    poller = world.poller()
    poller.start()
    try:
        for name in "abcd":
            world.put(name)
        poller.wait_idle(5)
        assert [pk for event in world.probe.received for pk in pks(event)] == list("abcd")
        assert poller.idle
        assert poller.consumed == 4
        with pytest.raises(RuntimeError):
            poller.poll_once()
    finally:
        poller.stop()
    assert not poller.running
    assert not any(thread.name.startswith("stream-") for thread in threading.enumerate())


def test_stop_cuts_a_retry_backoff_short(world):
    poller = world.poller()
    poller._retry_delay = 30  # a long backoff: stop() must not wait for it
    world.put("poison", fail="always")
    poller.start()
    deadline = time.monotonic() + 5
    while not world.probe.received and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    poller.stop()
    assert time.monotonic() - started < 10  # far below the 30 s backoff; a busy machine is slow
    assert len(world.probe.received) == 1
    assert world.failures() == []  # abandoned by the stop, not given up


# --- the local stack ----------------------------------------------------------------------


def test_local_stack_polls_the_orders_stream_for_the_card_generator(monkeypatch):
    from local.stack import LocalStack  # noqa: PLC0415 (only this test needs moto's server)

    generator = REPO / "functions" / "card_generator" / "app.py"
    if not generator.exists():
        pytest.skip(f"{generator.relative_to(REPO)} does not exist yet")
    stack = LocalStack(port=0, access_log=False)
    try:
        stack.start()
    except Exception as error:
        if str(generator) not in "".join(traceback.format_exception(error)):
            raise
        pytest.skip(f"the card generator does not load yet: {type(error).__name__}: {error}")
    try:
        poller = stack.pollers[("CardGeneratorFunction", "OrdersStream")]
        assert poller.running
        assert poller.source.stream_arn == stack.stack.attributes["OrdersTable"]["StreamArn"]
        assert poller.settings.max_retries == int(stack.stack.parameters["StreamMaxRetries"])
        assert poller.settings.batch_size == 1
        assert len(poller.settings.filters) == 2
        # one reader per stream, shared by the mappings that follow it
        arns = {source.stream_arn for source in (p.source for p in stack.pollers.values())}
        assert set(stack.readers) == arns
        assert len(stack.readers) < len(stack.pollers)
        stack.wait_idle(5)
        assert poller.idle
        # what an invocation wrote is read at once: every reader is woken after it
        woken: list[str] = []
        for reader in stack.readers.values():
            monkeypatch.setattr(reader, "wake", lambda arn=reader.stream_arn: woken.append(arn))
        answer = requests.get(f"{stack.url}/orders/1", params={"own_sign": "daily"}, timeout=30)
        assert answer.status_code == 404
        # (as a set: the stack's own schedule may invoke a function, and wake them, meanwhile)
        assert set(woken) == arns
    finally:
        stack.stop()
    assert not poller.running
