"""No secret in any log line, metric or answer, whatever happens (DEBUG logging on)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from cardmaker.observability import logger
from cardmaker.top.timestamps import utc_now
from local.platform import DEMO_SECRET, sample_order, sign_spi_call
from tests.conftest import SESSION_KEY, order_event, spi_event


@pytest.fixture
def captured_logs(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    previous = logger.log_level
    logger.setLevel("DEBUG")
    yield stream
    logger.setLevel(previous)


def test_no_secret_or_signature_in_logs_or_answers(
    invoke, captured_logs, capsys, dynamodb, orders_table
):
    calls = [
        sign_spi_call(sample_order(1)),  # accepted
        sign_spi_call(sample_order(1), body_format="form"),  # replayed
        sign_spi_call(sample_order(1, templates=[("T9", 1, "100")])),  # conflict
        sign_spi_call(sample_order(2), secret="not-the-secret"),  # forged
        sign_spi_call(sample_order(3), timestamp=utc_now() - timedelta(hours=1)),  # stale
        sign_spi_call({**sample_order(4), "own_sign": "prod"}),  # invalid
    ]
    answers = [invoke(spi_event(call)) for call in calls]
    answers.append(invoke(order_event(1)))
    dynamodb.delete_table(TableName=orders_table)
    answers.append(invoke(spi_event(sign_spi_call(sample_order(5)))))  # internal failure

    logs = captured_logs.getvalue()
    printed = capsys.readouterr()
    assert "SPI call refused" in logs
    assert "SPI call failed" in logs  # the traceback is logged...
    everything = logs + printed.out + printed.err + json.dumps(answers)
    signs = [call.raw_query.split("sign=")[1].split("&")[0] for call in calls]
    for secret in [DEMO_SECRET, SESSION_KEY, *signs]:
        assert secret not in everything  # ...but never a secret or a signature
    assert "张三" not in logs  # nor the receiver's personal data
