"""Shared fixtures: moto resources built from template.yaml itself, the HTTP API's functions
loaded the way Lambda loads them, and signed platform calls."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from cardmaker import logger, runtime, tracer
from cardmaker.top import SpiCall
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_NOTICE_SECRET, DEMO_SECRET, sample_order
from cardmaker_cli.stream_records import lambda_record
from local.apigw import LambdaContext, http_api_event, iam_identity
from local.platform import sign_demo_call
from local.stack import LocalStack, function_environment
from local.streams import streams_client
from local.template import FunctionSpec, Stack, create_resources, functions

# pytest-xdist's workers export COLUMNS=80, and rich fixes a console's width from it when
# the console is made (at import): the CLI's tables would then be cut at 80 columns whatever a
# test asks for. Without it, rich reads the width (or a test's COLUMNS) when printing.
os.environ.pop("COLUMNS", None)

DATA = Path(__file__).parent / "data"
SESSION_KEY = "demo-session-key-6100e2"
SANDBOX = "https://gw.api.tbsandbox.com/router/rest"
CARD_NUMBER_KEY = "test-card-number-key-0123456789abcdef0123456789"
# Who signs the operator requests of the handler tests (API Gateway's IAM authorizer says so).
OPERATOR = iam_identity(
    "arn:aws:iam::123456789012:user/operator-alice", caller_id="AIDAOPERATORALICE0001"
)


@pytest.fixture(autouse=True)
def _isolated_environment(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test reaches AWS or inherits a developer's AWS settings or cached services. Except
    the tests marked ``stack_owns_environment``: their local stack outlives each test and sets
    the AWS environment and the layer's services for as long as it runs."""
    if request.node.get_closest_marker("stack_owns_environment"):
        yield
        return
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "TOP_APP_SECRET",
        "TOP_SECRET_ID",
        "ETICKET_NOTICE_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def captured_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Everything the functions' logger writes, at DEBUG level."""
    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    previous = logger.log_level
    logger.setLevel("DEBUG")
    yield stream
    logger.setLevel(previous)


class _TraceCatcher:
    """Stands in for the X-Ray daemon: keeps every segment and subsegment the recorder sends
    (as the JSON it would send)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(entity.serialize())

    def set_daemon_address(self, address: str | None) -> None:
        pass

    @property
    def everything(self) -> str:
        """All that was sent, and the open segment with what it holds so far."""
        from aws_xray_sdk.core import (  # type: ignore[import-untyped]  # noqa: PLC0415
            xray_recorder,
        )

        return "\n".join([*self.sent, xray_recorder.current_segment().serialize()])


@pytest.fixture
def recorded_traces(monkeypatch: pytest.MonkeyPatch) -> Iterator[_TraceCatcher]:
    """X-Ray on, as in a deployed function with Tracing: Active: every call runs in a sampled
    segment, and everything the recorder would send to the daemon is kept, to be looked at."""
    # Imported here: only these tests trace.
    from aws_xray_sdk import global_sdk_config  # type: ignore[import-untyped]  # noqa: PLC0415
    from aws_xray_sdk.core import xray_recorder  # noqa: PLC0415

    catcher = _TraceCatcher()
    was_enabled = global_sdk_config.sdk_enabled()
    monkeypatch.delenv("AWS_XRAY_SDK_ENABLED", raising=False)
    monkeypatch.setattr(xray_recorder, "emitter", catcher)
    monkeypatch.setattr(xray_recorder, "sampling", False)
    # Powertools' Tracer turns itself off outside Lambda (its decorators still open
    # subsegments, put_annotation does nothing): on, as in a deployed function.
    monkeypatch.setattr(tracer, "disabled", False)
    global_sdk_config.set_sdk_enabled(True)
    xray_recorder.begin_segment("cardmaker-test", sampling=1)
    try:
        yield catcher
    finally:
        xray_recorder.end_segment()
        global_sdk_config.set_sdk_enabled(was_enabled)


@pytest.fixture
def top_vectors() -> dict[str, Any]:
    return json.loads((DATA / "top-vectors.json").read_text(encoding="utf-8"))


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The template's tables and secrets in moto, and every function's environment (they
    share this process, as in the local stack)."""
    with mock_aws():
        created = create_resources(
            boto3.Session(),
            secret_values={
                "TopSecret": {
                    "app_secret": DEMO_SECRET,
                    "session_key": SESSION_KEY,
                    "notice_secret": DEMO_NOTICE_SECRET,
                },
                "CardNumberSecret": {"key": CARD_NUMBER_KEY},
            },
            # The sandbox: it delivers every environment's orders (tests use daily ones).
            parameters={"TopAppKey": DEMO_APP_KEY, "LogLevel": "DEBUG", "TopGatewayUrl": SANDBOX},
        )
        for name, value in function_environment(functions(created).values()).items():
            monkeypatch.setenv(name, value)
        runtime.reset()
        yield created


def spi_function(stack: Stack) -> FunctionSpec:
    return functions(stack)["TopSpiFunction"]


@pytest.fixture
def dynamodb(stack: Stack) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def orders_table(stack: Stack) -> str:
    return stack.physical["OrdersTable"]


@pytest.fixture
def table_items(dynamodb: Any, orders_table: str) -> Callable[[], list[dict[str, Any]]]:
    """Every item of the orders table (for 'nothing was written' assertions)."""

    def scan() -> list[dict[str, Any]]:
        return dynamodb.scan(TableName=orders_table, ConsistentRead=True)["Items"]

    return scan


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def invoke(stack: Stack) -> Invoke:
    """Call the handler of the function behind the event's route (by its method and path), as
    API Gateway and Lambda would."""
    routed = [
        (route, spec.logical_id, handler)
        for spec in functions(stack).values()
        if spec.routes
        for handler in [spec.load_handler()]
        for route in spec.routes
    ]

    def call(event: dict[str, Any]) -> dict[str, Any]:
        method, path = event["requestContext"]["http"]["method"], event["rawPath"]
        (name, handler), *_ = [
            (name, handler)
            for route, name, handler in routed
            if route.match(method, path) is not None
        ]
        return handler(event, LambdaContext(function_name=name))

    return call


@pytest.fixture
def invoke_generator(stack: Stack) -> Invoke:
    """Call the card generator's handler with a DynamoDB stream event, as Lambda would."""
    handler = functions(stack)["CardGeneratorFunction"].load_handler()

    def call(event: dict[str, Any]) -> dict[str, Any]:
        return handler(event, LambdaContext(function_name="CardGeneratorFunction"))

    return call


def spi_event(
    call: SpiCall, *, raw_query: str | None = None, body: bytes | None = None
) -> dict[str, Any]:
    """The API Gateway event of a signed platform call (optionally tampered with)."""
    return http_api_event(
        "POST",
        "/top/spi",
        raw_query=call.raw_query if raw_query is None else raw_query,
        headers=call.headers.items(),
        body=call.body if body is None else body,
        route_key="POST /top/spi",
    )


def delivery_post_event(body: Any, iam: dict[str, Any] | None = OPERATOR) -> dict[str, Any]:
    """``POST /deliveries`` signed by ``iam`` (None: a request with no IAM identity)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http_api_event(
        "POST",
        "/deliveries",
        headers=[("content-type", "application/json")],
        body=raw,
        route_key="POST /deliveries",
        iam=iam,
    )


def delivery_get_event(delivery_id: str) -> dict[str, Any]:
    return http_api_event(
        "GET",
        f"/deliveries/{delivery_id}",
        route_key="GET /deliveries/{delivery_id}",
        path_parameters={"delivery_id": delivery_id},
        iam=OPERATOR,
    )


def order_event(card_order_id: int | str, own_sign: str | None = "daily") -> dict[str, Any]:
    return http_api_event(
        "GET",
        f"/orders/{card_order_id}",
        raw_query=f"own_sign={own_sign}" if own_sign else "",
        route_key="GET /orders/{card_order_id}",
        path_parameters={"card_order_id": str(card_order_id)},
        iam=OPERATOR,
    )


def spi_response(answer: dict[str, Any]) -> dict[str, Any]:
    """The ``response`` struct of a JSON SPI answer."""
    return json.loads(answer["body"])["response"]


def stream_records(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """A table's stream so far, as Lambda records (moto in-process)."""
    streams = streams_client(boto3.Session(region_name="us-east-1"))
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        answer = streams.get_records(ShardIterator=iterator)
        records += [lambda_record(raw, arn).event for raw in answer["Records"]]
    return records


def send_accepted_order(
    stack: LocalStack,
    card_order_id: int,
    templates: list[tuple[str, int, str]],
    own_sign: str = "daily",
) -> None:
    """A sample order signed as the platform signs it, sent to a running local stack over
    HTTP; it must be accepted."""
    call = sign_demo_call(sample_order(card_order_id, own_sign, templates))
    answer = requests.post(call.url(stack.url), data=call.body, headers=call.headers, timeout=10)
    assert answer.json()["response"]["success"] is True, answer.text
