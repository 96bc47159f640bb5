"""The Powertools Logger, Tracer and Metrics every function shares.

``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE`` (set in template.yaml) win;
the defaults below only matter where the package is imported before the environment is in
place (the local stack, the CLI, tests).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "cardmaker"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Cardmaker"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


def about(
    *,
    card_order_id: int | None = None,
    own_sign: str | None = None,
    delivery_id: str | None = None,
) -> None:
    """Say what this invocation is about: the keys go on every log line that follows and on
    the trace as annotations, which X-Ray indexes (``annotation.card_order_id = 16002``).
    Only these identifiers: annotations are searchable by anyone who reads traces, so never
    a receiver's detail, token or card."""
    subjects = {
        "card_order_id": card_order_id,
        "own_sign": own_sign,
        "delivery_id": delivery_id,
    }
    known = {key: value for key, value in subjects.items() if value is not None}
    logger.append_keys(**known)
    for key, value in known.items():
        # A number stays a number (``annotation.card_order_id = 16002``, unquoted). Powertools
        # types it as numbers.Number, which int is at run time but not to mypy.
        tracer.put_annotation(key=key, value=value)  # type: ignore[arg-type]
