"""Lambda's Invoke API for the local stack's functions, like ``sam local start-lambda``.

``POST /2015-03-31/functions/{FunctionName}/invocations`` runs the in-process function and
answers as Lambda does, so that ``boto3.client("lambda", endpoint_url=...).invoke(...)``
works against the local stack exactly as against AWS (``cardmaker dlq redrive`` relies on
it):

- ``RequestResponse`` (the default): 200 with the handler's result as JSON; a handler that
  raises is still a 200, with ``X-Amz-Function-Error: Unhandled`` and the payload
  ``{"errorMessage", "errorType"}``;
- ``Event``: 202 at once, the function runs on a thread of its own; ``DryRun``: 204;
- an unknown function: 404 ``ResourceNotFoundException``; a payload that is not JSON: 400
  ``InvalidRequestContentException``; beyond 6 MB: 413 ``RequestTooLargeException``.

Functions are named by their logical id, their ARN, or ``name:$LATEST``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote

from local.http_api import Invocable
from local.loopback import LoopbackServer
from local.streams import error_trace
from local.template import ACCOUNT, REGION

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
# arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:(?P<rest>.+)$")
_LATEST = "$LATEST"


@dataclass(frozen=True)
class InvokeAnswer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class LambdaApiServer(LoopbackServer):
    """Serves Lambda's Invoke API for ``functions`` (logical id -> function) on 127.0.0.1.
    ``log`` receives one line per invocation (never the payload) and the frames of a
    handler's error (never its message, which may quote the event)."""

    tag = "lambda"

    def __init__(
        self,
        address: tuple[str, int],
        functions: Mapping[str, Invocable],
        log: Callable[[str], None],
    ) -> None:
        self.functions = dict(functions)
        self.log = log
        self._background: list[threading.Thread] = []
        super().__init__(address, _InvokeRequestHandler)

    def report(self, text: str) -> None:
        self.log(text)

    def server_close(self) -> None:
        super().server_close()
        for thread in self._background:  # Event invocations still running
            thread.join(timeout=30)
        self._background = []

    def find(self, requested: str, qualifier: str | None) -> Invocable | None:
        """The function a FunctionName (name, ARN or partial ARN, optionally qualified)
        designates; only ``$LATEST`` exists locally."""
        name = unquote(requested)
        arn = _ARN.match(name)
        if arn is not None:
            name = arn.group("rest")
        name, _, suffix = name.partition(":")
        if suffix and qualifier and suffix != qualifier:
            return None
        if (suffix or qualifier or _LATEST) != _LATEST:
            return None
        return self.functions.get(name)

    def invoke(self, function: Invocable, payload: bytes, invocation_type: str) -> InvokeAnswer:
        """One invocation, answered as Lambda answers it."""
        try:
            event = json.loads(payload or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "InvalidRequestContentException", "Could not parse request body")
        if invocation_type == "DryRun":
            return InvokeAnswer(204, b"")
        if invocation_type == "Event":
            thread = threading.Thread(
                target=self._run, args=(function, event), name=f"invoke-{function.name}"
            )
            self._background = [t for t in self._background if t.is_alive()] + [thread]
            thread.start()
            return InvokeAnswer(202, b"")
        if invocation_type != "RequestResponse":
            return _error(
                400, "InvalidParameterValueException", f"bad invocation type {invocation_type}"
            )
        return self._run(function, event)

    def _run(self, function: Invocable, event: Any) -> InvokeAnswer:
        started = time.perf_counter()
        try:
            result = function.invoke(event)
        except Exception as error:
            self._log(function, started, f"Unhandled {type(error).__name__}")
            self.log(f"[lambda] {function.name}: {error_trace(error)}")
            return _function_error(type(error).__name__, str(error))
        try:
            # Lambda sends the result as JSON; a result that is not JSON is a function error.
            body = json.dumps(result).encode("utf-8")
        except (TypeError, ValueError) as error:
            self._log(function, started, "Unhandled Runtime.MarshalError")
            return _function_error("Runtime.MarshalError", f"Unable to marshal response: {error}")
        self._log(function, started, "ok")
        return InvokeAnswer(200, body, {"X-Amz-Executed-Version": _LATEST})

    def _log(self, function: Invocable, started: float, outcome: str) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        self.log(f"[lambda] Invoke {function.name} -> {outcome} ({elapsed:.0f} ms)")


class _InvokeRequestHandler(BaseHTTPRequestHandler):
    server: LambdaApiServer
    protocol_version = "HTTP/1.1"
    server_version = "cardmaker-local-lambda"
    timeout = 30  # seconds a client may stall while sending its request

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        found = _PATH.match(path)
        if found is None:
            self._answer(_error(404, "UnknownOperationException", "Unknown operation"))
            return
        length = self.headers.get("content-length", "0").strip()
        if not length.isdigit():
            self._answer(_error(400, "InvalidRequestContentException", "bad Content-Length"))
            return
        if int(length) > MAX_PAYLOAD_BYTES:
            self._answer(
                _error(413, "RequestTooLargeException", "Request must be smaller than 6291456")
            )
            return
        payload = self.rfile.read(int(length))
        qualifiers = parse_qs(query).get("Qualifier")
        qualifier = qualifiers[0] if qualifiers else None
        function = self.server.find(found.group("name"), qualifier)
        if function is None:
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{unquote(found.group('name'))}"
            self._answer(_error(404, "ResourceNotFoundException", f"Function not found: {arn}"))
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        self._answer(self.server.invoke(function, payload, invocation_type))

    def do_GET(self) -> None:
        self._answer(_error(404, "UnknownOperationException", "Unknown operation"))

    def _answer(self, answer: InvokeAnswer) -> None:
        self.close_connection = True
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: ``LambdaApiServer`` logs each invocation itself."""

    def log_message(self, format: str, *args: Any) -> None:
        code = args[0] if args and isinstance(args[0], int) else "connection error"
        self.server.log(f"[lambda] {self.client_address[0]} refused by the HTTP layer: {code}")


def _function_error(error_type: str, message: str) -> InvokeAnswer:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode("utf-8")
    return InvokeAnswer(
        200, body, {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": _LATEST}
    )


def _error(status: int, code: str, message: str) -> InvokeAnswer:
    # botocore reads the error code from x-amzn-ErrorType (and __type), as Lambda sends it.
    body = json.dumps({"Type": "User", "__type": code, "message": message}).encode("utf-8")
    return InvokeAnswer(status, body, {"x-amzn-ErrorType": code})
