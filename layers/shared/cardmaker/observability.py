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
