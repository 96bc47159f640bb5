"""The HTTP side of the local stack: a threaded HTTP server that plays API Gateway's HTTP API.

Each request becomes the payload-2.0 event the deployed function receives (``local.apigw``);
an IAM route's event names the local user as the IAM principal that signed it (no SigV4 is
checked here, so that is who asks). The function's handler is invoked in-process, and its
answer is turned back into HTTP the way API Gateway does (404 for no route, 502 for a failed
function, 413 beyond 10 MiB).
"""

from __future__ import annotations

import base64
import json
import re
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from local.apigw import http_api_event, local_identity
from local.console import ConsoleFiles
from local.loopback import LoopbackServer
from local.template import Route

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit

_NOT_FOUND = {"message": "Not Found"}
_FUNCTION_ERROR = {"message": "Internal Server Error"}
_TOO_LARGE = {"message": "Request Entity Too Large"}
_BAD_REQUEST = {"message": "Bad Request"}
# Framing headers are the server's business, never the function's.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}


class Invocable(Protocol):
    """A loaded function: its name, and a way to invoke it with an event."""

    @property
    def name(self) -> str: ...

    def invoke(self, event: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class ApiGatewayServer(LoopbackServer):
    """Routes requests by the template's ``HttpApi`` events to in-process functions.

    ``log`` receives access lines (path only) and tracebacks; ``access_log`` turns the former
    off.
    """

    tag = "api"

    def __init__(
        self,
        address: tuple[str, int],
        endpoints: Sequence[tuple[Route, Invocable]],
        log: Callable[[str], None],
        *,
        access_log: bool = True,
        console: ConsoleFiles | None = None,
    ) -> None:
        self.endpoints = endpoints
        # The operator console's static files, beside the API (no route of the template).
        self.console = console
        self.log = log
        self.access_log = access_log
        super().__init__(address, _ApiGatewayRequestHandler)

    def report(self, text: str) -> None:
        self.log(text)

    def find(self, method: str, path: str) -> tuple[Route, Invocable, dict[str, str]] | None:
        for route, function in self.endpoints:
            parameters = route.match(method, path)
            if parameters is not None:
                return route, function, {name: unquote(value) for name, value in parameters.items()}
        return None


class _BadRequest(Exception):
    pass


class _TooLarge(Exception):
    pass


class _ApiGatewayRequestHandler(BaseHTTPRequestHandler):
    """One request -> one payload-2.0 event -> the function -> its answer, like HTTP API."""

    server: ApiGatewayServer
    protocol_version = "HTTP/1.1"  # for Expect: 100-continue; every answer closes, though
    server_version = "cardmaker-local"
    timeout = 30  # seconds a client may stall while sending its request

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def handle_expect_100(self) -> bool:
        length = self.headers.get("content-length", "").strip()
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            answer = _json_answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _TOO_LARGE)
            self._answer(answer)
            self._access(self.path.partition("?")[0], answer, "-", time.perf_counter())
            return False
        return super().handle_expect_100()

    def _serve(self) -> None:
        started = time.perf_counter()
        self.close_connection = True
        target, _, raw_query = self.path.partition("?")
        raw_path = urlsplit(target).path if "://" in target else target
        function_name = "-"
        console = self.server.console
        if console is not None and console.handles(raw_path):
            status, headers, payload = console.answer(self.command, raw_path)
            answer = HttpAnswer(status, headers, payload)
            self._answer(answer)
            self._access(raw_path, answer, "console", started)
            return
        try:
            body = self._read_body()
        except _TooLarge:
            answer = _json_answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _TOO_LARGE)
        except (_BadRequest, ValueError):
            answer = _json_answer(HTTPStatus.BAD_REQUEST, _BAD_REQUEST)
        else:
            found = self.server.find(self.command, raw_path)
            if found is None:
                answer = _json_answer(HTTPStatus.NOT_FOUND, _NOT_FOUND)
            else:
                route, function, parameters = found
                function_name = function.name
                event = http_api_event(
                    self.command,
                    raw_path,
                    raw_query=raw_query,
                    headers=self._event_headers(),
                    body=body,
                    route_key=route.route_key,
                    path_parameters=parameters,
                    source_ip=self.client_address[0],
                    iam=local_identity() if route.iam else None,
                )
                answer = self._invoke(function, event)
        self._answer(answer)
        self._access(raw_path, answer, function_name, started)

    def _access(self, path: str, answer: HttpAnswer, function_name: str, started: float) -> None:
        if self.server.access_log:
            # The path only: query strings and bodies carry signatures and personal data.
            elapsed = (time.perf_counter() - started) * 1000
            self.server.log(
                f"[api] {self.client_address[0]} {self.command} {path} -> {answer.status}"
                f" ({function_name}, {elapsed:.0f} ms)"
            )

    def _event_headers(self) -> list[tuple[str, str]]:
        """The request's headers (repeated ones kept), plus the X-Forwarded-* API Gateway
        adds."""
        headers = list(self.headers.items())
        headers += [
            ("x-forwarded-for", self.client_address[0]),
            ("x-forwarded-port", str(self.server.server_port)),
            ("x-forwarded-proto", "http"),
        ]
        return headers

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        declared = self.headers.get("content-length")
        if declared is None:
            return b""
        if not declared.strip().isdigit():
            raise _BadRequest
        length = int(declared)
        if length > MAX_BODY_BYTES:
            self._discard(length)
            raise _TooLarge
        body = self.rfile.read(length)
        if len(body) != length:
            raise _BadRequest
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(65537).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _TooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    def _discard(self, length: int) -> None:
        """Read (and drop) a too large body, so that the client sees our 413 rather than a
        reset connection; beyond a bound, just close."""
        remaining = length if length <= 4 * MAX_BODY_BYTES else 0
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)

    def _invoke(self, function: Invocable, event: dict[str, Any]) -> HttpAnswer:
        try:
            return lambda_result_to_http(function.invoke(event))
        except Exception:
            # As API Gateway answers a function error or an unusable answer.
            self.server.log(f"[api] {function.name} failed:\n{traceback.format_exc()}")
            return _json_answer(HTTPStatus.BAD_GATEWAY, _FUNCTION_ERROR)

    def _answer(self, answer: HttpAnswer) -> None:
        self.close_connection = True
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Connection", "close")
        self.send_header("apigw-requestid", uuid.uuid4().hex[:16])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: the default line quotes the request line, query string included."""

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's own errors may quote the request line: say only what failed.
        code = args[0] if args and isinstance(args[0], int) else "connection error"
        self.server.log(f"[api] {self.client_address[0]} refused by the HTTP layer: {code}")


def lambda_result_to_http(result: Any) -> HttpAnswer:
    """A payload-2.0 Lambda answer as HTTP API turns it into a response (``ValueError`` when
    API Gateway could not use it)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Format 2.0: an answer without statusCode is the JSON body of a 200.
        text = result if isinstance(result, str) else json.dumps(result)
        return HttpAnswer(200, [("Content-Type", "application/json")], text.encode("utf-8"))
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"invalid statusCode {status!r}")
    single = dict(result.get("headers") or {})
    multi = dict(result.get("multiValueHeaders") or {})
    headers: list[tuple[str, str]] = []
    # Like API Gateway: multiValueHeaders win over headers of the same name.
    multi_names = {name.lower() for name in multi}
    for name, value in single.items():
        if name.lower() not in multi_names:
            headers.append((name, _header_value(value)))
    for name, values in multi.items():
        headers.extend((name, _header_value(value)) for value in values)
    headers.extend(("Set-Cookie", _header_value(cookie)) for cookie in result.get("cookies") or [])
    headers = [(name, value) for name, value in headers if name.lower() not in _FRAMING_HEADERS]
    for name, _ in headers:
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise ValueError(f"invalid header name {name!r}")
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise ValueError("body must be a string")
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(body, validate=True)
    else:
        payload = body.encode("utf-8")
    return HttpAnswer(status, headers, payload)


def _header_value(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if "\r" in text or "\n" in text:
        raise ValueError("header values must be one line")
    return text


def _json_answer(status: int, body: Mapping[str, Any]) -> HttpAnswer:
    return HttpAnswer(
        int(status),
        [("Content-Type", "application/json")],
        json.dumps(body, separators=(",", ":")).encode(),
    )
