"""A fake TOP gateway over real HTTP on 127.0.0.1, for the local stack and the tests.

It takes what TOP takes (parameters in the query and a form or ``multipart/form-data`` body,
whose file parts are never signed; a ``yyyy-MM-dd HH:mm:ss`` GMT+8 or an epoch-millisecond
timestamp), checks what the real gateway checks (app key, sign with any of the three sign
methods, timestamp within 10 minutes, session for ``ma.send`` / ``ma.resend`` and any session
sent, known method, required business parameters and their types; ``ma.resend`` only for codes
an ``ma.send`` gave the same ``outer_id``, else ``no-can-resend-code``), answers in the wrapped
or the ``simplify=true`` style, and records every call. Tests script trouble with a queue of faults
consumed one per call (``fail_next``), with permanent rules (``fail_always``) or with a
schedule that picks a fault per call (``fail_by``): gateway errors, HTTP statuses, late
answers, dropped connections, calls left unprocessed (a stall until the client times out, a
connection reset), and non-success business results. An error or a business result can quote
the request in its messages (``echo``), as gateways do: the client must never pass such a
message on.

Like the platform, it recognises a repeat: cards a call sends under an ``outer_id`` /
``out_biz_id`` that already took them are not taken again; each recorded call says which
cards it took (``accepted``) and which it only repeated (``repeated``). The fund platform's
notices (``cardorders.status.make.finish``, ``.status.sended``) are recognised the same way by
their ``card_order_id``: the first successful one of each method is ``accepted`` (the order
id), a later one ``repeated`` and answered as the first (an assumption: platform-apis.md
§7.3 does not say how the platform takes a repeat).

``python -m local.top_gateway [--port N]`` runs it alone and prints its URL.
"""

from __future__ import annotations

import argparse
import email.policy
import json
import os
import secrets
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl

from cardmaker.top import (
    SIGN_METHODS,
    SIGN_PARAM,
    SUCCESS_ALL,
    CardBindRequest,
    MakeFinishRequest,
    MaResendRequest,
    MaSendRequest,
    StatusSendedRequest,
    parse_timestamp,
    response_key,
    sign_request,
    signs_match,
    utc_now,
)
from local.loopback import LoopbackServer

HOST = "127.0.0.1"
PATH = "/router/rest"
MA_SEND = MaSendRequest.METHOD
# ma.resend: the codes an ma.send gave an order, again (checked against what it took).
MA_RESEND = MaResendRequest.METHOD
NO_CAN_RESEND = "isv.eticket-resend-error:no-can-resend-code"
CARD_BIND = CardBindRequest.METHOD
MAKE_FINISH = MakeFinishRequest.METHOD
STATUS_SENDED = StatusSendedRequest.METHOD
# The fund platform's lifecycle notices: one card order each, no cards.
NOTICES = (MAKE_FINISH, STATUS_SENDED)
# A send-code notice that cannot be served (platform-apis.md §3.1): any token is taken (the
# gateway does not know the notices' tokens); recorded for tests like every call.
MA_FAILSEND = "taobao.eticket.merchant.ma.failsend"
# E-voucher callbacks: they need the session, as ma.send does.
WITH_SESSION = frozenset({MA_SEND, MA_RESEND, MA_FAILSEND})
METHODS = (MA_SEND, CARD_BIND, *NOTICES, MA_RESEND, MA_FAILSEND)
MAX_SKEW = timedelta(minutes=10)
DEFAULT_SIGN_METHOD = "md5"  # what TOP assumes when sign_method is absent
STRUCT_PARAMS = ("card_bind_req_dto", "isv_ma_list", "isv_ka_list")
FORM_TYPE = "application/x-www-form-urlencoded"
# The official Node SDK sends every call so (system and business parameters as fields); a part
# with a file name is a file parameter (img.upload's img_bytes), never signed.
MULTIPART_TYPE = "multipart/form-data"
MAX_BODY_BYTES = 10 * 1024 * 1024

Clock = Callable[[], datetime]
FaultKind = Literal[
    "error",
    "http_status",
    "delay",
    "drop",
    "stall",
    "reset",
    "ma_ret",
    "bind_result",
    "notice_result",
]
# Faults that leave the call unprocessed: the platform never saw it.
UNPROCESSED = frozenset({"http_status", "stall", "reset"})


@dataclass(frozen=True)
class Fault:
    """Scripted behaviour for one call; build one with the class methods."""

    kind: FaultKind
    code: int | None = None
    sub_code: str | None = None
    msg: str = ""
    sub_msg: str | None = None
    status: int = 200
    seconds: float = 0.0
    ret_code: str = SUCCESS_ALL
    ret_msg: str = ""
    invalid: tuple[str, ...] = ()
    bind_fail: tuple[str, ...] = ()
    success: bool = True
    message: str = "成功"
    # A request parameter whose raw value the answer's messages quote (msg and sub_msg,
    # ret_msg, message), as a gateway echoing what it refused does.
    echo: str | None = None

    @classmethod
    def error(
        cls,
        code: int,
        sub_code: str | None = None,
        msg: str = "Remote service error",
        sub_msg: str | None = None,
        *,
        echo: str | None = None,
    ) -> Fault:
        """Answer with an ``error_response`` (e.g. 7, or 15 with an ``isp.*`` sub_code);
        ``echo`` names a parameter its messages quote."""
        return cls("error", code=code, sub_code=sub_code, msg=msg, sub_msg=sub_msg, echo=echo)

    @classmethod
    def http_status(cls, status: int) -> Fault:
        """Answer with this HTTP status and no TOP body (a proxy or load balancer would)."""
        return cls("http_status", status=status)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Process the call, then answer only after ``seconds`` (for read timeouts)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Process the call, then close the connection without answering."""
        return cls("drop")

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        """Hold the call ``seconds`` without processing it, then close the connection without
        answering: a read timeout before the platform processed anything."""
        return cls("stall", seconds=seconds)

    @classmethod
    def reset(cls) -> Fault:
        """Abort the connection with a TCP reset before processing the call."""
        return cls("reset")

    @classmethod
    def ma_ret(cls, ret_code: str, ret_msg: str = "", *, echo: str | None = None) -> Fault:
        """Answer ``ma.send`` with this (non-success) business result; ``echo`` names a
        parameter its ret_msg quotes."""
        return cls("ma_ret", ret_code=ret_code, ret_msg=ret_msg, echo=echo)

    @classmethod
    def bind_result(
        cls,
        invalid: Iterable[str] = (),
        bind_fail: Iterable[str] = (),
        *,
        success: bool = True,
        message: str = "成功",
        echo: str | None = None,
    ) -> Fault:
        """Answer ``card.bind`` naming these cards invalid / failed to bind; ``echo`` names
        a parameter its message quotes."""
        return cls(
            "bind_result",
            invalid=tuple(invalid),
            bind_fail=tuple(bind_fail),
            success=success,
            message=message,
            echo=echo,
        )

    @classmethod
    def notice_result(cls, *, success: bool = False) -> Fault:
        """Answer ``make.finish`` / ``status.sended`` with this ``result.success``."""
        return cls("notice_result", success=success)

    def quoting(self, text: str | None, params: dict[str, str]) -> str | None:
        """``text`` as this fault's answer says it: with the echoed parameter's raw value."""
        if self.echo is None or text is None:
            return text
        return f"{text}: {self.echo}={params.get(self.echo, '')}"


@dataclass(frozen=True)
class RecordedCall:
    """One call as the gateway saw it. ``answer`` is the JSON it answered (or would have, for
    a dropped connection); None for a scripted HTTP status."""

    method: str
    params: dict[str, str]  # system and business parameters, decoded
    structs: dict[str, Any]  # the struct parameters, JSON-decoded
    sign_valid: bool
    answer: dict[str, Any] | None
    at: datetime
    status: int = 200
    fault: Fault | None = None
    processed: bool = True  # False when a fault kept the platform from seeing the call
    # Cards this call took under its business id (a notice: its card_order_id, the first time)
    accepted: tuple[str, ...] = ()
    # Cards it sent that its business id had already taken (a notice: a repeat)
    repeated: tuple[str, ...] = ()
    # The file parameters of a multipart call: name -> size in bytes (never signed)
    files: dict[str, int] = field(default_factory=dict)

    @property
    def business_id(self) -> str:
        """``outer_id`` of an ``ma.send``, ``out_biz_id`` of a ``card.bind``,
        ``card_order_id`` of a notice ("" if absent)."""
        return _business_id(self.method, self.params, self.structs)

    @property
    def cards(self) -> tuple[str, ...]:
        """The cards the call carried (see ``_cards``), whatever became of them."""
        return _cards(self.method, self.structs)


# Picks the fault of one call from its method, business id and cards (None: no fault).
Schedule = Callable[[str, str, tuple[str, ...]], Fault | None]


@dataclass
class _Rule:
    fault: Fault
    method: str | None
    remaining: int | None  # None: permanent

    def matches(self, method: str) -> bool:
        return self.method is None or self.method == method

    def consume(self) -> bool:
        """Use the rule once; True when that used it up (never for a permanent rule)."""
        if self.remaining is None:
            return False
        self.remaining -= 1
        return self.remaining <= 0


@dataclass(frozen=True)
class Reply:
    """What the HTTP side does with a call: answer ``answer`` (JSON) with ``status`` after
    ``delay`` seconds, or close the connection without a word (``drop``)."""

    status: int
    answer: dict[str, Any] | None
    delay: float = 0.0
    drop: bool = False
    reset: bool = False  # drop with a TCP reset rather than a clean close


class _Refusal(Exception):
    """A request the gateway answers with an ``error_response``."""

    def __init__(
        self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None
    ) -> None:
        super().__init__(msg)
        self.fields: dict[str, Any] = {"code": code, "msg": msg}
        if sub_code is not None:
            self.fields["sub_code"] = sub_code
        if sub_msg is not None:
            self.fields["sub_msg"] = sub_msg


@dataclass(frozen=True)
class _Request:
    params: dict[str, str]
    structs: dict[str, Any] = field(default_factory=dict)
    refusal: _Refusal | None = None
    files: dict[str, int] = field(default_factory=dict)  # file parameter -> size

    @property
    def method(self) -> str:
        return self.params.get("method", "")


class FakeTopGateway:
    """The fake gateway; a context manager (``start()`` / ``stop()``). ``url`` once started."""

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        session_key: str,
        *,
        port: int = 0,
        clock: Clock = utc_now,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """``log`` (optional) receives one line per call: method, sign check, answer code;
        never a parameter value."""
        self.app_key = app_key
        self._app_secret = app_secret
        self._session_key = session_key
        self._port = port
        self._clock = clock
        self._log = log
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []
        self._queue: list[_Rule] = []
        self._rules: list[_Rule] = []
        self._schedule: Schedule | None = None
        # (method, business id) -> the cards calls under it have taken
        self._taken: dict[tuple[str, str], set[str]] = {}
        self._stopping = threading.Event()
        self._server: _GatewayServer | None = None

    def __repr__(self) -> str:
        return f"FakeTopGateway(app_key={self.app_key!r}, url={self._url_or_none()!r})"

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> FakeTopGateway:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> FakeTopGateway:
        """Listen on 127.0.0.1 (``port`` 0 picks a free one) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _GatewayServer((HOST, self._port), self)
        # A short poll keeps stop() quick: tests start and stop one gateway each.
        self._server.serve_in_background("fake-top-gateway", poll_interval=0.02)
        return self

    def stop(self) -> None:
        """Stop serving; late answers still sleeping are cut short. Safe to call twice."""
        self._stopping.set()
        if self._server is None:
            return
        self._server.close()
        self._server = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/router/rest``."""
        url = self._url_or_none()
        if url is None:
            raise RuntimeError("the fake TOP gateway is not running")
        return url

    def _url_or_none(self) -> str | None:
        if self._server is None:
            return None
        return f"http://{HOST}:{self._server.server_port}{PATH}"

    # --- scripting and inspection ---------------------------------------------------------

    def fail_next(self, fault: Fault, *, method: str | None = None, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` calls (of ``method``, or of any method).
        Queued faults are used in order, before permanent rules."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queue.append(_Rule(fault, method, times))

    def fail_always(self, fault: Fault, *, method: str | None = None) -> None:
        """Apply ``fault`` to every call (of ``method``) until ``reset()``."""
        with self._lock:
            self._rules.append(_Rule(fault, method, None))

    def fail_by(self, schedule: Schedule) -> None:
        """Ask ``schedule(method, business_id, cards)`` for the fault of every call that no
        queued fault or permanent rule takes, until ``reset()``."""
        with self._lock:
            self._schedule = schedule

    def rotate(self, *, app_secret: str | None = None, session_key: str | None = None) -> None:
        """Take new credentials from now on (the platform after a secret rotation, or a
        session that expired and was renewed): calls signed with the old ones are refused
        with code 25 (sign) or 27 (session)."""
        with self._lock:
            if app_secret is not None:
                self._app_secret = app_secret
            if session_key is not None:
                self._session_key = session_key

    def reset(self) -> None:
        """Forget the recorded calls, the cards taken and every scripted fault."""
        with self._lock:
            self._calls.clear()
            self._queue.clear()
            self._rules.clear()
            self._schedule = None
            self._taken.clear()

    @property
    def calls(self) -> list[RecordedCall]:
        """Every call so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._calls)

    def calls_of(self, method: str) -> list[RecordedCall]:
        """The calls of one method."""
        return [call for call in self.calls if call.method == method]

    def pending_faults(self) -> int:
        """How many queued (not permanent) fault uses are left."""
        with self._lock:
            return sum(rule.remaining or 0 for rule in self._queue)

    # --- serving ------------------------------------------------------------------------

    def handle(self, raw_query: str, body: bytes, content_type: str) -> Reply:
        """Answer one POST (called by the HTTP handler; usable directly in tests)."""
        request = _parse_request(raw_query, body, content_type)
        fault = self._take_fault(request)
        sign_valid = self._sign_valid(request.params)
        kind = fault.kind if fault is not None else None
        status, answer = 200, None
        if fault is not None and fault.kind == "http_status":
            status = fault.status
        elif kind not in UNPROCESSED:
            answer = self._answer(request, sign_valid, fault)
        self._record(request, sign_valid, answer, status, fault)
        return Reply(
            status,
            answer,
            delay=fault.seconds if fault is not None and kind in {"delay", "stall"} else 0.0,
            drop=kind in {"drop", "stall", "reset"},
            reset=kind == "reset",
        )

    def wait_before_answering(self, seconds: float) -> None:
        """Sleep before a late answer; ``stop()`` cuts it short."""
        self._stopping.wait(seconds)

    def _take_fault(self, request: _Request) -> Fault | None:
        method = request.method
        with self._lock:
            rule = next((r for r in [*self._queue, *self._rules] if r.matches(method)), None)
            if rule is None:
                schedule = self._schedule
            else:
                if rule.consume():
                    self._queue.remove(rule)
                return rule.fault
        if schedule is None:
            return None
        business_id = _business_id(method, request.params, request.structs)
        return schedule(method, business_id, _cards(method, request.structs))

    def _sign_valid(self, params: dict[str, str]) -> bool:
        sign_method = params.get("sign_method") or DEFAULT_SIGN_METHOD
        received = params.get(SIGN_PARAM)
        if sign_method not in SIGN_METHODS or not received:
            return False
        expected = sign_request(params, self._app_secret, sign_method)  # type: ignore[arg-type]
        return signs_match(expected, received)

    def _answer(self, request: _Request, sign_valid: bool, fault: Fault | None) -> dict[str, Any]:
        request_id = secrets.token_hex(8)
        try:
            self._check(request, sign_valid)
            if fault is not None and fault.kind == "error":
                raise _Refusal(
                    fault.code or 15,
                    fault.quoting(fault.msg, request.params) or "",
                    fault.sub_code,
                    fault.quoting(fault.sub_msg, request.params),
                )
        except _Refusal as refusal:
            return {"error_response": {**refusal.fields, "request_id": request_id}}
        simplify = request.params.get("simplify", "").lower() == "true"
        body = _success_body(request, fault, simplify)
        body["request_id"] = request_id
        return body if simplify else {response_key(request.method): body}

    def _check(self, request: _Request, sign_valid: bool) -> None:
        """The gateway's checks, in its order; raises the first refusal."""
        if request.refusal is not None:
            raise request.refusal
        params = request.params
        _check_app_key(params.get("app_key"), self.app_key)
        _check_sign(params, sign_valid)
        _check_timestamp(params.get("timestamp"), self._clock())
        _check_method(request.method)
        if request.method in WITH_SESSION or params.get("session"):
            # The e-voucher callbacks need one; any other call that carries one has it checked.
            _check_session(params.get("session"), self._session_key)
        _check_business(request)
        if request.method == MA_RESEND:
            self._check_resend(request)

    def _check_resend(self, request: _Request) -> None:
        """Only codes an ma.send gave this order (``outer_id``) can be sent again: any other
        is refused with §4.5's no-can-resend-code."""
        codes = set(_cards(MA_RESEND, request.structs))
        with self._lock:
            sent = self._taken.get((MA_SEND, request.params["outer_id"]), set())
            if not codes <= sent:
                raise _Refusal(15, "Remote service error", NO_CAN_RESEND, "no code can be resent")

    def _record(
        self,
        request: _Request,
        sign_valid: bool,
        answer: dict[str, Any] | None,
        status: int,
        fault: Fault | None,
    ) -> None:
        processed = fault is None or fault.kind not in UNPROCESSED
        taking = _taken_by(request, answer) if processed else ()
        with self._lock:
            key = (request.method, _business_id(request.method, request.params, request.structs))
            taken = self._taken.setdefault(key, set())
            accepted = tuple(card for card in taking if card not in taken)
            taken.update(accepted)
            call = RecordedCall(
                method=request.method,
                params=request.params,
                structs=request.structs,
                sign_valid=sign_valid,
                answer=answer,
                at=self._clock(),
                status=status,
                fault=fault,
                processed=processed,
                accepted=accepted,
                repeated=tuple(card for card in taking if card not in accepted),
                files=dict(request.files),
            )
            self._calls.append(call)
        if self._log is not None:
            self._log(_describe_call(call))


def _describe_call(call: RecordedCall) -> str:
    """One log line: never a parameter value (they carry card secrets and the session)."""
    outcome = f"HTTP {call.status}" if call.processed or call.status != 200 else "no answer"
    if call.answer is not None:
        error = call.answer.get("error_response")
        outcome = f"error {error.get('code')} {error.get('sub_code') or ''}" if error else "ok"
    sign = "sign ok" if call.sign_valid else "sign BAD"
    fault = f" [fault: {call.fault.kind}]" if call.fault is not None else ""
    return f"[top] {call.method or '(no method)'}: {sign} -> {outcome.strip()}{fault}"


def _business_id(method: str, params: dict[str, str], structs: dict[str, Any]) -> str:
    if method in WITH_SESSION:
        return params.get("outer_id", "")
    if method in NOTICES:
        return params.get("card_order_id", "")
    dto = structs.get("card_bind_req_dto")
    return str(dto.get("out_biz_id") or "") if isinstance(dto, dict) else ""


def _cards(method: str, structs: dict[str, Any]) -> tuple[str, ...]:
    """The cards a call sends: card numbers (``ka_no``, ``card_no_s``), or the codes of an
    ``isv_ma_list`` (which are card secrets: kept in memory, never logged)."""
    if method == CARD_BIND:
        dto = structs.get("card_bind_req_dto")
        numbers = str(dto.get("card_no_s") or "") if isinstance(dto, dict) else ""
        return tuple(number for number in numbers.split(",") if number)
    if method not in {MA_SEND, MA_RESEND}:
        return ()
    found: list[str] = []
    for name, field_name in (("isv_ka_list", "ka_no"), ("isv_ma_list", "code")):
        listed = structs.get(name)
        items = listed if isinstance(listed, list) else [listed]  # the single-object shape
        found += [str(item[field_name]) for item in items if isinstance(item, dict)]
    return tuple(found)


def _taken_by(request: _Request, answer: dict[str, Any] | None) -> tuple[str, ...]:
    """The cards a processed call's answer says the platform took."""
    if answer is None or "error_response" in answer:
        return ()
    body = answer.get(response_key(request.method), answer)
    if request.method in NOTICES:
        # The order's transition, told once: what a repeat is recognised by.
        succeeded = (body.get("result") or {}).get("success") is True
        return (request.params["card_order_id"],) if succeeded else ()
    if request.method in {MA_SEND, MA_RESEND}:
        sent = _cards(request.method, request.structs)
        return sent if body.get("ret_code") == SUCCESS_ALL else ()
    if request.method == MA_FAILSEND:
        # The notice's order, told it cannot be served: what a repeat is recognised by.
        return (request.params["outer_id"],) if body.get("ret_code") == SUCCESS_ALL else ()
    result = body.get("result") or {}
    if not result.get("success"):
        return ()
    data = result.get("data") or {}
    refused = {*_listed(data.get("invalid_card_no_s")), *_listed(data.get("bind_fail_card_no_s"))}
    return tuple(card for card in _cards(request.method, request.structs) if card not in refused)


def _listed(value: Any) -> list[str]:
    """A list as either answer style writes it (see ``_string_list``)."""
    if isinstance(value, dict):
        value = value.get("string", [])
    return [str(item) for item in value] if isinstance(value, list) else []


# --- request parsing and checks ---------------------------------------------------------


def _parse_request(raw_query: str, body: bytes, content_type: str) -> _Request:
    """Query, form or multipart parameters, decoded as UTF-8, and the struct parameters' JSON.
    A multipart part with a file name is a file parameter: kept apart, never signed."""
    media = content_type.partition(";")[0].strip().lower()
    files: dict[str, int] = {}
    try:
        pairs = _pairs(raw_query)
        if media == MULTIPART_TYPE:
            fields, files = _multipart(body, content_type)
            pairs += fields
        elif body and media != FORM_TYPE:
            refusal = _Refusal(43, "Parameter error", sub_msg="the body must be a form")
            return _Request(dict(pairs), refusal=refusal)
        else:
            pairs += _pairs(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        unreadable = "not UTF-8, or a malformed multipart body"
        return _Request({}, refusal=_Refusal(43, "Parameter error", sub_msg=unreadable))
    params = dict(pairs)
    if len(params) != len(pairs) or set(params) & set(files):
        return _Request(params, refusal=_Refusal(43, "Parameter error", sub_msg="repeated key"))
    structs: dict[str, Any] = {}
    for name in STRUCT_PARAMS:
        if name in params:
            try:
                structs[name] = json.loads(params[name])
            except ValueError:
                refusal = _Refusal(41, "Invalid arguments", f"isv.invalid-parameter:{name}")
                return _Request(params, structs, refusal, files)
    return _Request(params, structs, files=files)


def _pairs(text: str) -> list[tuple[str, str]]:
    return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")


def _multipart(body: bytes, content_type: str) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The text fields and the file parameters (name -> size) of a multipart/form-data body.
    Raises ``ValueError`` for a body that is not one (no boundary, a part without a name, a
    repeated file, text that is not UTF-8)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise ValueError("not a multipart/form-data body")
    fields: list[tuple[str, str]] = []
    files: dict[str, int] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not name or not isinstance(payload, bytes):
            raise ValueError("a multipart part without a name")
        if part.get_filename() is not None:
            if name in files:
                raise ValueError("a file parameter given twice")
            files[name] = len(payload)
        else:
            fields.append((name, payload.decode("utf-8")))
    return fields, files


def _check_app_key(received: str | None, app_key: str) -> None:
    if not received:
        raise _Refusal(28, "Missing app key")
    if received != app_key:
        raise _Refusal(29, "Invalid app key")


def _check_sign(params: dict[str, str], sign_valid: bool) -> None:
    if (params.get("sign_method") or DEFAULT_SIGN_METHOD) not in SIGN_METHODS:
        raise _Refusal(25, "Invalid signature method")
    if not params.get(SIGN_PARAM):
        raise _Refusal(24, "Missing signature")
    if not sign_valid:
        raise _Refusal(25, "Invalid signature", "isv.invalid-signature")


def _check_timestamp(received: str | None, now: datetime) -> None:
    if not received:
        raise _Refusal(30, "Missing timestamp")
    try:
        sent = _sent_at(received)
    except (ValueError, OverflowError, OSError):
        raise _Refusal(31, "Invalid timestamp") from None
    if abs(sent - now) > MAX_SKEW:
        raise _Refusal(31, "Invalid timestamp", sub_msg="more than 10 minutes off GMT+8 time")


def _sent_at(timestamp: str) -> datetime:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8, or milliseconds since the epoch (what the official
    Python SDK sends): TOP takes both. Raises ``ValueError`` for anything else."""
    if timestamp.isascii() and timestamp.isdigit() and len(timestamp) == 13:
        return datetime.fromtimestamp(int(timestamp) / 1000, UTC)
    return parse_timestamp(timestamp)


def _check_method(method: str) -> None:
    if not method:
        raise _Refusal(21, "Missing method")
    if method not in METHODS:
        raise _Refusal(22, "Invalid method")


def _check_session(received: str | None, session_key: str) -> None:
    if not received:
        raise _Refusal(26, "Missing session")
    if not signs_match(session_key, received):
        raise _Refusal(27, "Invalid session")


def _check_business(request: _Request) -> None:
    """The required business parameters of each method (not every rule of the platform)."""
    params = request.params
    if request.method == MA_SEND:
        list_name = "isv_ka_list" if params.get("certificate_type") == "1" else "isv_ma_list"
        required: tuple[str, ...] = ("outer_id", "token", list_name)
    elif request.method == MA_RESEND:
        required = ("outer_id", "token", "isv_ma_list")
    elif request.method == MA_FAILSEND:
        required = ("outer_id", "token", "sub_err_code", "sub_err_msg")
    elif request.method == MAKE_FINISH:
        required = ("card_order_id",)
    elif request.method == STATUS_SENDED:
        required = ("card_order_id", "logistics_order_id", "logistics_company")
    else:
        required = ("card_bind_req_dto",)
    for name in required:
        if not params.get(name, "").strip():
            raise _Refusal(40, "Missing required arguments", f"isv.missing-parameter:{name}")
    if request.method == CARD_BIND:
        _check_bind_dto(request.structs["card_bind_req_dto"])
    if request.method == MA_RESEND:
        _check_ma_list(request.structs["isv_ma_list"])
    if request.method in NOTICES:
        _check_card_order_id(params["card_order_id"])


def _check_card_order_id(value: str) -> None:
    """A Number: digits only, positive (what the platform's ``make`` handed out)."""
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise _Refusal(41, "Invalid arguments", "isv.invalid-parameter:card_order_id")


def _check_ma_list(listed: Any) -> None:
    """ma.resend's isv_ma_list: 1 to 200 codes, each with its code and a whole num >= 1."""
    if not isinstance(listed, list) or not 1 <= len(listed) <= 200:
        raise _Refusal(41, "Invalid arguments", "isv.invalid-parameter:isv_ma_list")
    for item in listed:
        if not isinstance(item, dict):
            raise _Refusal(41, "Invalid arguments", "isv.invalid-parameter:isv_ma_list")
        num = item.get("num")
        if not str(item.get("code") or "").strip() or type(num) is not int or num < 1:
            raise _Refusal(41, "Invalid arguments", "isv.invalid-parameter:isv_ma_list")


def _check_bind_dto(dto: Any) -> None:
    if not isinstance(dto, dict):
        raise _Refusal(41, "Invalid arguments", "isv.invalid-parameter:card_bind_req_dto")
    for name in ("top_app_key", "out_biz_id", "card_no_s"):
        if not str(dto.get(name) or "").strip():
            raise _Refusal(40, "Missing required arguments", f"isv.missing-parameter:{name}")
    users = [dto.get(name) for name in ("card_bind_user_nick", "buyer_open_uid")]
    if sum(1 for user in users if user) != 1:
        raise _Refusal(41, "Invalid arguments", "isv.invalid-parameter", "one of nick and open uid")


# --- answers ------------------------------------------------------------------------------


def _success_body(request: _Request, fault: Fault | None, simplify: bool) -> dict[str, Any]:
    if request.method in NOTICES:
        # CardMakingInformResponse: result.success alone, in either answer style.
        noticed = fault if fault is not None and fault.kind == "notice_result" else None
        return {"result": {"success": noticed.success if noticed else True}}
    if request.method in WITH_SESSION:
        ma_ret = fault if fault is not None and fault.kind == "ma_ret" else None
        return {
            "resp_body": {"attribute_map": "{}"},
            "ret_code": ma_ret.ret_code if ma_ret else SUCCESS_ALL,
            "ret_msg": ma_ret.quoting(ma_ret.ret_msg, request.params) if ma_ret else "操作成功",
        }
    outcome = fault if fault is not None and fault.kind == "bind_result" else Fault("bind_result")
    dto = request.structs["card_bind_req_dto"]
    return {
        "result": {
            "success": outcome.success,
            "message": outcome.quoting(outcome.message, request.params),
            "data": {
                "out_biz_id": dto.get("out_biz_id"),
                "invalid_card_no_s": _string_list(outcome.invalid, simplify),
                "bind_fail_card_no_s": _string_list(outcome.bind_fail, simplify),
            },
        }
    }


def _string_list(values: tuple[str, ...], simplify: bool) -> Any:
    """Lists as TOP writes them: plain when simplified, else ``{"string": [...]}``, and an
    empty one as ``{}`` (one of the shapes a client must read)."""
    if simplify:
        return list(values)
    return {"string": list(values)} if values else {}


# --- HTTP -----------------------------------------------------------------------------------


class _GatewayServer(LoopbackServer):
    tag = "top"

    def __init__(self, address: tuple[str, int], gateway: FakeTopGateway) -> None:
        self.gateway = gateway
        self._to_reset: set[socket.socket] = set()
        self._reset_lock = threading.Lock()
        super().__init__(address, _GatewayHandler)

    def reset_when_done(self, connection: socket.socket) -> None:
        """End this connection with a TCP reset instead of a clean close."""
        with self._reset_lock:
            self._to_reset.add(connection)

    def shutdown_request(self, request: Any) -> None:
        with self._reset_lock:
            resetting = request in self._to_reset
            self._to_reset.discard(request)
        if not resetting:
            super().shutdown_request(request)
            return
        # No FIN first (shutdown would send one): a zero linger makes close() send a RST.
        request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_request(request)


class _GatewayHandler(BaseHTTPRequestHandler):
    server: _GatewayServer
    protocol_version = "HTTP/1.1"  # every answer closes the connection, though
    server_version = "fake-top-gateway"
    timeout = 10  # seconds a client may stall while sending its request

    def do_POST(self) -> None:
        self.close_connection = True
        target, _, raw_query = self.path.partition("?")
        if target != PATH:
            self._send(404, b"Not Found", "text/plain")
            return
        length = self.headers.get("content-length", "0").strip()
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self._send(400, b"Bad Request", "text/plain")
            return
        body = self.rfile.read(int(length))
        reply = self.server.gateway.handle(raw_query, body, self.headers.get("content-type", ""))
        if reply.delay:
            self.server.gateway.wait_before_answering(reply.delay)
        if reply.reset:
            self.server.reset_when_done(self.connection)
        if reply.drop:
            return  # closing without a word: whether processed or not, no answer comes
        if reply.answer is None:
            self._send(reply.status, str(reply.status).encode(), "text/plain")
        else:
            payload = json.dumps(reply.answer, ensure_ascii=False).encode("utf-8")
            self._send(reply.status, payload, "application/json;charset=utf-8")

    def do_GET(self) -> None:
        self.close_connection = True
        self._send(405, b"Method Not Allowed", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: the request line quotes the query string (session key and sign)."""

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced, for the same reason."""


def main(argv: list[str] | None = None) -> int:
    """Run the fake gateway alone with the local stack's credentials (``TOP_*`` variables)."""
    # Imported here: local.stack starts this gateway, so a module-level import would loop.
    from local.stack import TopConfig  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    config = TopConfig.from_environ(os.environ)
    gateway = FakeTopGateway(
        config.app_key, config.app_secret, config.session_key, port=args.port, log=print
    )
    with gateway:
        print(f"fake TOP gateway: {gateway.url} (app key {config.app_key})", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
