"""The embedded local stack: the whole service in one process, with no Docker and no AWS.

- moto's server (``ThreadedMotoServer``) on 127.0.0.1 plays DynamoDB, Secrets Manager, KMS,
  SQS, EventBridge and CloudWatch Logs;
- the template's tables, secrets, keys, queues, log groups, event buses and rules are created
  in it from ``template.yaml`` itself (the lifecycle events reach their archive log group
  through moto's EventBridge, as on AWS);
- every function's handler is loaded with its template environment, as Lambda would;
- an HTTP server plays API Gateway's HTTP API: it routes requests by the template's
  ``HttpApi`` events and invokes the handlers with payload-2.0 events.
- a second one plays Lambda's Invoke API (``local/lambda_api.py``), for tools that invoke
  a function directly (``cardmaker dlq redrive``); its URL is the ``LambdaEndpointUrl``
  output.

``make serve`` (local/serve.py), ``make demo`` (local/demo.py) and the e2e tests all use
``LocalStack``. Functions share one process here, so the stack owns ``os.environ`` while it
runs (and puts the previous environment back when it stops): one LocalStack per process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Literal, TextIO

import boto3
from moto.server import ThreadedMotoServer

from cardmaker import TopConfigError, logger, runtime
from cardmaker.top import check_gateway_url
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_NOTICE_SECRET, DEMO_SECRET
from local.apigw import LambdaContext
from local.botocore_data import install as share_botocore_data
from local.console import ConsoleFiles
from local.http_api import ApiGatewayServer
from local.lambda_api import LambdaApiServer
from local.moto_dynamodb import install as install_moto_fixes
from local.moto_kms import install as install_moto_kms
from local.schedules import DEFAULT_PERIOD_SECONDS, Scheduler
from local.streams import StreamPoller, StreamReader, streams_client
from local.template import (
    REGION,
    FunctionSpec,
    Handler,
    MissingResourceError,
    Stack,
    attach_resources,
    create_resources,
    functions,
    load_template,
)
from local.top_gateway import FakeTopGateway

# moto's DynamoDB, one request at a time and with transactions that check before they write
# (local/moto_dynamodb.py): for every stack of this process, and for the tests' moto too.
install_moto_fixes()
# moto's symmetric KMS keys without the RSA pair it would make for each (local/moto_kms.py),
# and botocore's data files parsed once per process (local/botocore_data.py): a stack per test
# is then cheap.
install_moto_kms()
share_botocore_data()

HOST = "127.0.0.1"
DEMO_SESSION_KEY = "demo-session-key"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# The services the stack's clients reach (boto3-stubs types a client by its service's name).
AwsService = Literal[
    "dynamodb", "dynamodbstreams", "events", "kms", "lambda", "logs", "secretsmanager", "sqs"
]

# Removed while the stack runs: anything that could send the functions to a real account or
# another endpoint, and the local-only secret overrides (the functions must read the TOP
# secret from Secrets Manager, as they do on AWS).
_UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "TOP_APP_SECRET",
    "TOP_SESSION_KEY",
    "ETICKET_NOTICE_SECRET",
)
_UNSET_PREFIXES = ("AWS_ENDPOINT_URL_",)  # per-service endpoints win over AWS_ENDPOINT_URL


class LocalStackError(RuntimeError):
    """The local stack cannot start as configured."""


@dataclass(frozen=True)
class TopConfig:
    """The platform credentials the local stack is set up with (the demo ones by default)."""

    app_key: str = DEMO_APP_KEY
    app_secret: str = field(default=DEMO_SECRET, repr=False)
    session_key: str = field(default=DEMO_SESSION_KEY, repr=False)
    notice_secret: str = field(default=DEMO_NOTICE_SECRET, repr=False)
    gateway_url: str | None = None
    sign_method: str | None = None

    def __post_init__(self) -> None:
        if self.gateway_url is not None:
            # Deliveries would carry the session and card secrets to it: https, or loopback.
            try:
                check_gateway_url(self.gateway_url, "TOP_GATEWAY_URL")
            except TopConfigError as error:
                raise LocalStackError(str(error)) from None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TopConfig:
        """``TOP_APP_KEY``, ``TOP_APP_SECRET``, ``TOP_SESSION_KEY``, ``TOP_GATEWAY_URL``,
        ``TOP_SIGN_METHOD`` and ``ETICKET_NOTICE_SECRET``; unset or empty ones keep their
        defaults."""
        return cls(
            app_key=environ.get("TOP_APP_KEY") or DEMO_APP_KEY,
            app_secret=environ.get("TOP_APP_SECRET") or DEMO_SECRET,
            session_key=environ.get("TOP_SESSION_KEY") or DEMO_SESSION_KEY,
            notice_secret=environ.get("ETICKET_NOTICE_SECRET") or DEMO_NOTICE_SECRET,
            gateway_url=environ.get("TOP_GATEWAY_URL") or None,
            sign_method=environ.get("TOP_SIGN_METHOD") or None,
        )


@dataclass
class LoadedFunction:
    """A function's handler, loaded once (one warm execution environment)."""

    spec: FunctionSpec
    handler: Handler
    # Lambda runs one invocation at a time per execution environment, and handlers keep
    # per-invocation state in module globals (the resolver's current event, the logger's
    # keys): invocations of a function are serialized.
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called after every invocation: what it wrote is on its tables' streams already.
    invoked: Callable[[], None] = lambda: None

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def invoke(self, event: dict[str, Any]) -> Any:
        with self.lock:
            context = LambdaContext(
                function_name=self.spec.logical_id, timeout_seconds=self.spec.timeout
            )
            started = time.monotonic()
            try:
                result = self.handler(event, context)
            finally:
                self.invoked()
            elapsed = time.monotonic() - started
        if elapsed > self.spec.timeout:
            # Lambda would have stopped the function: fail the same way.
            raise TimeoutError(f"Task timed out after {self.spec.timeout} seconds")
        return result


class LocalStack:
    """The local stack; a context manager (``start()`` / ``stop()``).

    After ``start()``: ``url`` (the HTTP API), ``moto_url``, ``stack`` (the template's
    physical resources), ``functions`` (logical id -> ``LoadedFunction``).
    """

    _active: ClassVar[LocalStack | None] = None
    _active_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        top: TopConfig | None = None,
        *,
        port: int = 0,
        log_level: str | None = None,
        environment: Mapping[str, str] | None = None,
        access_log: bool = True,
        log: TextIO | None = None,
        moto_url: str | None = None,
        attach: bool = False,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        """``port`` 0 picks a free port. ``log_level`` is the template's ``LogLevel``.
        ``environment`` adds variables for the functions (they must not contradict the
        template). Access lines and tracebacks go to ``log`` (default: stderr).
        ``parameters`` sets more of the template's parameters (e.g. the demo's short
        ``EticketStockWaitSeconds``), checked as CloudFormation would.

        ``moto_url``: use a moto server that is already running (``python -m moto.server``
        in another process) instead of starting one here; it outlives the stack, whose
        ``stop()`` then leaves its state alone. With ``attach`` the template's resources are
        not created but found there, as an earlier stack created them (a stack that
        replaces a killed one): its pollers read the streams again from their
        ``StartingPosition``."""
        if attach and not moto_url:
            raise LocalStackError("attach needs the moto_url of the server to attach to")
        self.top = top or TopConfig()
        self._port = port
        self._log_level = log_level
        self._extra_environment = dict(environment or {})
        self._extra_parameters = dict(parameters or {})
        self._access_log = access_log
        self._log = log
        self._log_lock = threading.Lock()
        self._moto: ThreadedMotoServer | None = None
        self._http: ApiGatewayServer | None = None
        self._saved_environ: dict[str, str] | None = None
        self._werkzeug_level: int | None = None
        self._stack: Stack | None = None
        self.functions: dict[str, LoadedFunction] = {}
        # (function, stream event) -> the poller playing that event source mapping
        self.pollers: dict[tuple[str, str], StreamPoller] = {}
        # stream ARN -> its reader, shared by the pollers of the mappings that follow it
        self.readers: dict[str, StreamReader] = {}
        # (function, schedule event) -> the thread playing that schedule
        self.schedulers: dict[tuple[str, str], Scheduler] = {}
        # The fake TOP gateway, while running without an external TOP_GATEWAY_URL.
        self.top_gateway: FakeTopGateway | None = None
        self._external_moto_url = moto_url.rstrip("/") if moto_url else None
        self._attach = attach
        self.moto_url = ""
        self.url = ""
        # Lambda's Invoke API for the functions (like `sam local start-lambda`).
        self._lambda_api: LambdaApiServer | None = None
        self.lambda_url = ""

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> LocalStack:
        with LocalStack._active_lock:
            if LocalStack._active is not None:
                raise LocalStackError(
                    "a local stack is already running in this process (they would share "
                    "os.environ and moto's state)"
                )
            LocalStack._active = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._saved_environ = dict(os.environ)
        self._start_top_gateway()
        self._start_moto()
        self._use_moto_environment()
        self._stack = self._attach_resources() if self._attach else self._create_resources()
        specs = functions(self._stack)
        environment = function_environment(specs.values())
        for name, value in self._extra_environment.items():
            if environment.get(name, value) != value:
                raise LocalStackError(f"{name} is set by the template; it cannot be overridden")
            environment.setdefault(name, value)
        if environment.get("TOP_APP_SECRET"):
            # It would shortcut Secrets Manager, which the local stack is there to exercise.
            raise LocalStackError("the functions' environment must not carry TOP_APP_SECRET")
        os.environ.update(environment)
        # The layer's logger may predate this environment (it is created at first import).
        logger.setLevel(environment.get("POWERTOOLS_LOG_LEVEL", "INFO"))
        # The functions' settings come from this environment for as long as the stack runs,
        # whatever the CLI or a test then does to os.environ (each Lambda has its own).
        runtime.pin_environment(os.environ)
        # Powertools' HTTP resolvers keep the current request in one class attribute, shared
        # by every resolver of the process: the functions behind the HTTP API take turns (on
        # Lambda each runs in an environment of its own).
        http_api = threading.Lock()
        self.functions = {
            name: LoadedFunction(
                spec,
                spec.load_handler(),
                lock=http_api if spec.routes else threading.Lock(),
                invoked=self._wake_readers,
            )
            for name, spec in specs.items()
        }
        self._start_pollers()
        self._start_schedules()
        self._start_http()
        self._start_lambda_api()

    def stop(self) -> None:
        """Stop serving, forget moto's state and put the previous environment back.
        Safe to call more than once, and after a failed ``start()``."""
        # Pollers and schedules first: they invoke functions and call moto, both about to go.
        for poller in self.pollers.values():
            poller.stop()
        for reader in self.readers.values():
            reader.stop()
        self.pollers = {}
        self.readers = {}
        for scheduler in self.schedulers.values():
            scheduler.stop()
        self.schedulers = {}
        for server in (self._http, self._lambda_api):
            if server is not None:
                server.close()
        self._http = self._lambda_api = None
        self.lambda_url = ""
        if self.top_gateway is not None:  # after the functions that call it
            self.top_gateway.stop()
            self.top_gateway = None
        if self._moto is not None:
            if self.moto_url:
                try:
                    _reset_moto(self.moto_url)
                except OSError as error:
                    self.log(f"[stack] could not reset moto's state: {error}")
            self._moto.stop()
            self._moto = None
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None
        if self._saved_environ is not None:
            _restore_environ(self._saved_environ)
            self._saved_environ = None
            # Clients and settings built from the stack's environment must not outlive it.
            boto3.DEFAULT_SESSION = None
            runtime.pin_environment(None)
        self.functions = {}
        self._stack = None
        self.url = self.moto_url = ""
        with LocalStack._active_lock:
            if LocalStack._active is self:
                LocalStack._active = None

    def _create_resources(self) -> Stack:
        return create_resources(
            self.session(),
            secret_values={
                "TopSecret": {
                    "app_secret": self.top.app_secret,
                    "session_key": self.top.session_key,
                    # What `make serve` verifies e-voucher notices with (the platform
                    # simulator signs with the same: `cardmaker platform notice`).
                    "notice_secret": self.top.notice_secret,
                },
                # A fresh card-number permutation key per local stack: local cards never
                # outlive it (moto forgets them on stop).
                "CardNumberSecret": {"key": secrets.token_hex(32)},
            },
            parameters=self._parameters(),
        )

    def _attach_resources(self) -> Stack:
        try:
            return attach_resources(self.session(), parameters=self._parameters())
        except MissingResourceError as error:
            raise LocalStackError(str(error)) from error

    def _start_moto(self) -> None:
        if self._external_moto_url is not None:
            self.moto_url = self._external_moto_url
            return
        werkzeug = logging.getLogger("werkzeug")
        self._werkzeug_level = werkzeug.level
        # moto's server logs every AWS call through werkzeug's logger; not worth reading.
        werkzeug.setLevel(logging.ERROR)
        moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        moto.start()
        self._moto = moto
        host, port = moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"

    def _use_moto_environment(self) -> None:
        for name in list(os.environ):
            if name in _UNSET or name.startswith(_UNSET_PREFIXES):
                del os.environ[name]
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                **FAKE_CREDENTIALS,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        # boto3's default session caches the credentials it first found: start afresh.
        boto3.DEFAULT_SESSION = None

    def _parameters(self) -> dict[str, str]:
        parameters = {**self._extra_parameters, "TopAppKey": self.top.app_key}
        gateway = self.top_gateway_url()
        if gateway:
            parameters["TopGatewayUrl"] = gateway
        if self.top.sign_method:
            parameters["TopSignMethod"] = self.top.sign_method
        if self._log_level:
            parameters["LogLevel"] = self._log_level
        check_parameters(load_template(), parameters)
        return parameters

    def _start_top_gateway(self) -> None:
        """Without an external ``TOP_GATEWAY_URL``, the functions call a fake gateway that
        knows the stack's app key, secret and session key (local/top_gateway.py)."""
        if self.top.gateway_url is not None:
            return
        self.top_gateway = FakeTopGateway(
            app_key=self.top.app_key,
            app_secret=self.top.app_secret,
            session_key=self.top.session_key,
        ).start()

    def top_gateway_url(self) -> str | None:
        """The TOP gateway the functions' outbound calls go to (``TopGatewayUrl``): the
        configured ``TOP_GATEWAY_URL``, else the fake gateway's (None before ``start()``)."""
        if self.top.gateway_url is not None:
            return self.top.gateway_url
        return self.top_gateway.url if self.top_gateway is not None else None

    def _start_pollers(self) -> None:
        """One poller per (function, ``Type: DynamoDB`` event): moto cannot run event source
        mappings without Docker, so the stack plays them (local/streams.py). The mappings of
        one stream share its reader: each shard is read once per cycle for all of them."""
        for function in self.functions.values():
            for source in function.spec.stream_sources:
                reader = self.readers.get(source.stream_arn)
                if reader is None:
                    reader = StreamReader(
                        streams_client(self.session(), self.moto_url),
                        source.stream_arn,
                        log=self.log,
                    )
                    self.readers[source.stream_arn] = reader
                # Registered before any starts: a reader keeps what a follower has not
                # settled, and stop() after a failed start stops them all.
                self.pollers[(function.name, source.name)] = StreamPoller(
                    function, source, reader=reader, sqs=self.client("sqs"), log=self.log
                )
        for poller in self.pollers.values():
            poller.start()

    def _wake_readers(self) -> None:
        # A function's writes are on the streams by now: read them at once rather than
        # after the readers' idle wait.
        for reader in list(self.readers.values()):
            reader.wake()

    def _start_schedules(self) -> None:
        """One thread per (function, ``Type: Schedule`` event), on a short period
        (``LOCAL_SCHEDULE_SECONDS``, default 1 s): moto runs no EventBridge schedules."""
        period = float(os.environ.get("LOCAL_SCHEDULE_SECONDS", DEFAULT_PERIOD_SECONDS))
        for function in self.functions.values():
            for rule in function.spec.schedules:
                scheduler = Scheduler(function, rule, period, log=self.log)
                self.schedulers[(function.name, rule)] = scheduler
                scheduler.start()

    def _start_http(self) -> None:
        endpoints = [
            (route, function)
            for function in self.functions.values()
            for route in function.spec.routes
        ]
        self._http = ApiGatewayServer(
            (HOST, self._port),
            endpoints,
            self.log,
            access_log=self._access_log,
            console=ConsoleFiles(),
        )
        self.url = self._http.url
        self._http.serve_in_background("local-api-gateway")

    def _start_lambda_api(self) -> None:
        self._lambda_api = LambdaApiServer((HOST, 0), self.functions, self.log)
        self.lambda_url = self._lambda_api.url
        self._lambda_api.serve_in_background("local-lambda-api")

    # --- for callers --------------------------------------------------------------------

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            raise LocalStackError("the local stack is not running")
        return self._stack

    def session(self) -> boto3.Session:
        """A boto3 session with the fake credentials; its clients go to moto (pass
        ``endpoint_url=stack.moto_url`` when the environment may have changed)."""
        return boto3.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )

    def client(self, service: AwsService) -> Any:
        """A boto3 client of ``service`` against this stack's moto server."""
        return self.session().client(service, endpoint_url=self.moto_url, region_name=REGION)

    def wait_idle(self, timeout: float) -> None:
        """Block until every stream record written so far has been processed, including the
        records those invocations wrote to streamed tables themselves; ``TimeoutError`` after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            # Quiet means: a whole round in which no poller took anything off a stream. A
            # round that consumed something may have written more: go round again.
            before = [poller.consumed for poller in self.pollers.values()]
            for poller in self.pollers.values():
                if not poller.wait_caught_up(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(
                        f"stream poller {poller.name} still busy after {timeout:g} s "
                        f"({poller.consumed} records consumed so far)"
                    )
            if [poller.consumed for poller in self.pollers.values()] == before:
                return

    def outputs(self) -> dict[str, str]:
        """The template's ``Outputs`` as they resolve locally: the same names a deployed
        stack's CloudFormation outputs have, so tools find either the same way. Functions
        are named by their logical id; ``AwsEndpointUrl`` and ``LambdaEndpointUrl`` say
        where the local AWS APIs answer."""
        stack = self.stack
        resolved: dict[str, str] = {}
        for name, output in load_template().get("Outputs", {}).items():
            with contextlib.suppress(KeyError):
                resolved[name] = str(stack.resolve(output["Value"]))
        for logical_id in self.functions:
            resolved[f"{logical_id}Name"] = logical_id
        resolved["ApiUrl"] = self.url
        resolved["SpiUrl"] = f"{self.url}/top/spi"
        resolved["AwsEndpointUrl"] = self.moto_url
        resolved["LambdaEndpointUrl"] = self.lambda_url
        resolved["Region"] = REGION
        return dict(sorted(resolved.items()))

    def describe(self) -> list[str]:
        """What runs, in a few human-readable lines."""
        stack = self.stack
        lines = [
            "moto (DynamoDB + Streams, Secrets Manager, KMS, SQS, EventBridge, CloudWatch Logs): "
            + self.moto_url
        ]
        kinds = {
            "AWS::DynamoDB::Table": "table",
            "AWS::SecretsManager::Secret": "secret",
            "AWS::KMS::Key": "KMS key",
            "AWS::SQS::Queue": "queue",
            "AWS::Events::EventBus": "event bus",
        }
        for name, resource in load_template()["Resources"].items():
            if resource["Type"] in kinds:
                lines.append(f"{kinds[resource['Type']]} {name}: {stack.physical[name]}")
        lines.append(f"TOP app key: {self.top.app_key}")
        for function in self.functions.values():
            triggers = [route.route_key for route in function.spec.routes] + [
                f"stream {source.name}" for source in function.spec.stream_sources
            ]
            lines.append(f"function {function.spec.logical_id}: {', '.join(triggers)}")
        lines.append(f"Lambda Invoke API: {self.lambda_url}")
        if self.top_gateway is not None:
            lines.append(f"fake TOP gateway: {self.top_gateway.url}")
        else:
            lines.append(f"TOP gateway: {self.top_gateway_url()}")
        return lines

    def log(self, message: str) -> None:
        with self._log_lock:
            stream = self._log or sys.stderr
            stream.write(message.rstrip("\n") + "\n")
            stream.flush()


def function_environment(specs: Iterable[FunctionSpec]) -> dict[str, str]:
    """Every function's environment merged; functions share one process here, so two that
    need different values of one variable cannot run together."""
    merged: dict[str, str] = {}
    owners: dict[str, str] = {}
    for spec in specs:
        for name, value in spec.environment.items():
            if name in merged and merged[name] != value:
                raise LocalStackError(
                    f"functions {owners[name]} and {spec.logical_id} set {name} to different "
                    "values; they share one process in the local stack"
                )
            merged[name] = value
            owners.setdefault(name, spec.logical_id)
    return merged


def check_parameters(template: Mapping[str, Any], values: Mapping[str, str]) -> None:
    """Refuse what CloudFormation would refuse (AllowedValues, AllowedPattern)."""
    declared = template.get("Parameters", {})
    for name, value in values.items():
        spec = declared.get(name)
        if spec is None:
            raise LocalStackError(f"the template has no parameter {name}")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(item) for item in allowed]:
            raise LocalStackError(f"{name} must be one of {allowed}, not {value!r}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise LocalStackError(f"{name} must match {pattern}")


def _restore_environ(saved: Mapping[str, str]) -> None:
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    for name, value in saved.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _reset_moto(moto_url: str) -> None:
    """Forget every table and secret: moto's state is per process, not per server."""
    # S310: the URL is our own moto server's, always http://127.0.0.1.
    url = f"{moto_url}/moto-api/reset"
    with urllib.request.urlopen(  # noqa: S310
        urllib.request.Request(url, data=b"", method="POST"),  # noqa: S310
        timeout=10,
    ):
        pass
