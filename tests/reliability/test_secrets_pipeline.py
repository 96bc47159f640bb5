"""No secret leaves the pipeline except to TOP: the whole pipeline on the local stack, over
real HTTP, with DEBUG logging, and everything it emits captured and searched.

tests/integration/test_secrets_stay_secret.py checks each function alone with moto in-process;
this one runs them together, end to end, through their error paths too: a forged SPI call, a
refused delivery, an e-voucher send whose answer is lost (the attempt fails with a traceback,
the stream retries it), a bind. Captured: every line the functions' logger writes at DEBUG,
every record of every other logger that Lambda would show (WARNING and up: botocore and urllib3
log whole request and response bodies at DEBUG, KMS's data keys included, but Lambda's root
logger stays at WARNING and POWERTOOLS_LOG_LEVEL only sets the functions' own), every EMF
metric line (stdout), the local stack's log (access lines, the functions' tracebacks), what
the X-Ray tracer would receive (its provider replaced by a recorder; no traced method puts
its response or error into the trace), every HTTP answer, the failure
queues' messages. Searched for: every card secret (decrypted from the cards table and taken
from the gateway's recorded ma.send calls), every chunk's data key, the app secret, the session
key and the card-number key, as text, bytes, hex and base64. And the tables hold card secrets
only as ciphertext. ``cardmaker cards export`` is left out: writing secrets to a file is its job.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cardmaker import KmsDataKeys, Sealer, logger, tracer
from cardmaker_cli.samples import sample_order
from chaos._store_checks import Sent, bind, create_delivery, eticket, send_order
from local.platform import sign_demo_call
from local.stack import LocalStack
from local.top_gateway import Fault

MA_SEND = "taobao.eticket.merchant.ma.send"


class TraceRecorder:
    """Plays the X-Ray provider: records every annotation and metadata a segment receives."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, Any]] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str, **_: Any) -> Iterator[TraceRecorder]:
        self.entries.append(("subsegment", name, None))
        yield self

    def put_annotation(self, key: str, value: Any) -> None:
        self.entries.append(("annotation", key, value))

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.entries.append(("metadata", f"{namespace}.{key}", value))

    def text(self) -> str:
        # What X-Ray would get is a JSON rendering of each value; repr catches the rest
        # (exceptions, objects).
        return "\n".join(
            f"{kind} {key} {json.dumps(value, default=repr, ensure_ascii=False)} {value!r}"
            for kind, key, value in self.entries
        )


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(name)s %(message)s").format(record))


@pytest.fixture
def captured(monkeypatch):
    service_log = io.StringIO()
    stack_log = io.StringIO()
    others = Everything()
    traces = TraceRecorder()
    monkeypatch.setattr(tracer, "provider", traces)
    monkeypatch.setattr(tracer, "disabled", False)
    logging.getLogger().addHandler(others)  # root: WARNING, as on Lambda
    try:
        with LocalStack(port=0, log_level="DEBUG", log=stack_log) as stack:
            monkeypatch.setattr(logger.registered_handler, "stream", service_log)
            yield stack, service_log, stack_log, others, traces
    finally:
        logging.getLogger().removeHandler(others)


def forms(secret: str | bytes) -> list[str | bytes]:
    """A secret as it could show up: itself, and its bytes as hex and base64."""
    raw = secret.encode() if isinstance(secret, str) else secret
    encoded = [raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()]
    encoded.append(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    encoded.append(repr(raw)[2:-1])
    return [secret, *encoded] if isinstance(secret, str) else [raw, *encoded]


def opened_cards(stack: LocalStack) -> tuple[list[str], list[bytes]]:
    """Every card secret, opened the way a delivery does, and every chunk's data key."""
    dynamodb = stack.client("dynamodb")
    items = dynamodb.scan(TableName=stack.stack.physical["CardsTable"])["Items"]
    keys = KmsDataKeys(stack.client("kms"), stack.stack.physical["CardDataKey"])
    data_keys: dict[str, bytes] = {}
    for item in items:
        if item["pk"]["S"].startswith("CHUNKKEY#"):
            _, own_sign, card_order_id, chunk_id = item["pk"]["S"].split("#")
            context = {"card_order": f"{own_sign}:{card_order_id}", "chunk": chunk_id}
            data_keys[item["pk"]["S"]] = keys.unwrap(item["wrapped_key"]["B"], context).plaintext
    secrets = []
    for item in items:
        if "card_no" in item:
            own_sign, card_order_id = item["own_sign"]["S"], item["card_order_id"]["N"]
            key = data_keys[f"CHUNKKEY#{own_sign}#{card_order_id}#{item['chunk_id']['S']}"]
            secrets.append(Sealer(key).open(item["card_no"]["S"], item["secret"]["B"]))
    return secrets, list(data_keys.values())


def stored_values(value: Any) -> Iterator[str | bytes]:
    """Every string and binary value of a low-level DynamoDB item, however nested."""
    if isinstance(value, dict):
        for kind, inner in value.items():
            if kind in {"S", "N"}:
                yield inner
            elif kind == "B":
                yield bytes(inner)
            elif kind in {"SS", "NS"}:
                yield from inner
            elif kind == "BS":
                yield from (bytes(item) for item in inner)
            else:
                yield from stored_values(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from stored_values(inner)


def test_no_secret_in_any_log_metric_trace_answer_or_error(captured, capsys):
    stack, service_log, stack_log, others, traces = captured
    gateway = stack.top_gateway
    assert gateway is not None
    sent = Sent()
    # Given an order made through the SPI (and a forged call refused)
    assert send_order(stack, 31, [("T1", 30, "100"), ("T2", 5, "5000")], sent)["success"]
    forged = sign_demo_call(sample_order(32), secret="forged-secret")
    sent.answers.append(requests.post(forged.url(stack.url), data=forged.body, timeout=30))
    stack.wait_idle(60)
    # When cards are delivered: an e-voucher send whose first answer is lost (the attempt
    # fails, the stream sends the same cards again), another one, a bind, and a refused one
    gateway.fail_next(Fault.drop(), method=MA_SEND)
    ids = [
        create_delivery(stack, eticket(31, "T1", 4, "S1"), sent),
        create_delivery(stack, eticket(31, "T2", 2, "S2"), sent),
        create_delivery(stack, bind(31, "T1", 3, "B1"), sent),
    ]
    refused = eticket(31, "T2", 99, "S3")
    sent.answers.append(requests.post(f"{stack.url}/deliveries", json=refused, timeout=30))
    stack.wait_idle(60)
    for delivery_id in ids:
        sent.answers.append(requests.get(f"{stack.url}/deliveries/{delivery_id}", timeout=30))
    sent.answers.append(requests.get(f"{stack.url}/orders/31?own_sign=daily", timeout=30))
    statuses = [answer.json()["status"] for answer in sent.answers[-4:-1]]
    assert statuses == ["DELIVERED"] * 3

    # The secrets: every card's, opened from the table, and those TOP received
    secrets, data_keys = opened_cards(stack)
    assert len(secrets) == 35
    ma_sends = gateway.calls_of(MA_SEND)
    to_top = {entry["ka_mi"] for call in ma_sends for entry in call.structs["isv_ka_list"]}
    assert len(ma_sends) == 3  # the lost answer's re-send included
    assert len(to_top) == 6
    assert to_top <= set(secrets)
    card_number_key = json.loads(
        stack.client("secretsmanager").get_secret_value(
            SecretId=stack.stack.physical["CardNumberSecret"]
        )["SecretString"]
    )["key"]
    forbidden = [*secrets, *data_keys, stack.top.app_secret, stack.top.session_key]
    forbidden.append(card_number_key)

    # Everything the pipeline put out
    printed = capsys.readouterr()
    sqs = stack.client("sqs")
    queued = [
        message["Body"]
        for queue in ("GeneratorFailures", "DeliveryFailures", "EventsFailures")
        for message in sqs.receive_message(
            QueueUrl=stack.stack.physical[queue], MaxNumberOfMessages=10
        ).get("Messages", [])
    ]
    answers = [
        f"{answer.status_code} {dict(answer.headers)} {answer.text}" for answer in sent.answers
    ]
    # the lifecycle events integrators get (the LifecycleBus's archive)
    events = [
        event["message"]
        for event in stack.client("logs").filter_log_events(
            logGroupName=stack.stack.physical["LifecycleEventsLog"]
        )["events"]
    ]
    text = "\n".join(
        [
            service_log.getvalue(),
            stack_log.getvalue(),
            *others.lines,
            printed.out,
            printed.err,
            traces.text(),
            *answers,
            *queued,
            *events,
        ]
    )
    raw = text.encode() + b"".join(answer.content for answer in sent.answers)
    # It is all there: debug lines, metrics, the lost answer's traceback, the traced calls
    assert '"level":"DEBUG"' in service_log.getvalue()
    assert any('"Delivery Delivered"' in event for event in events)
    assert '"CloudWatchMetrics"' in printed.out
    assert "function error" in stack_log.getvalue()  # the lost answer's failed attempt...
    assert "raised at:" in stack_log.getvalue()  # ...with where it was raised
    assert any(kind == "subsegment" for kind, _, _ in traces.entries)
    assert any(key == "ColdStart" for _, key, _ in traces.entries)
    # (and the traces hold no data at all: no response or error is put into them)
    assert not any(kind == "metadata" for kind, _, _ in traces.entries)
    # Then not one secret, in any form
    for secret in forbidden:
        for form in forms(secret):
            haystack = raw if isinstance(form, bytes) else text
            assert form not in haystack, f"a secret ({len(secret)} long) leaked"

    # And in DynamoDB, card secrets exist only as ciphertext
    dynamodb = stack.client("dynamodb")
    stored = [
        value
        for table in ("OrdersTable", "CardsTable", "DeliveriesTable")
        for item in dynamodb.scan(TableName=stack.stack.physical[table])["Items"]
        for value in stored_values(item)
    ]
    assert len(stored) > 35 * 5
    for secret in [*secrets, card_number_key, stack.top.app_secret, stack.top.session_key]:
        for value in stored:
            if isinstance(value, bytes):
                assert secret.encode() not in value
            else:
                assert secret not in value
    for data_key in data_keys:
        assert not any(isinstance(v, bytes) and data_key in v for v in stored)
