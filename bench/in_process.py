"""One function's handler in this process, on moto's in-memory AWS (``mock_aws``): the
set-up shared by the benchmarks that time a handler against the bare AWS call it makes."""

from __future__ import annotations

import os
from typing import Any

import boto3

from cardmaker import logger, runtime
from local.template import REGION, FunctionSpec, Handler, Stack, create_resources, functions


def isolate_environment() -> None:
    """Fake credentials, and nothing inherited that could reach a real account or endpoint
    or stand in for the secrets the handlers read from (mocked) Secrets Manager."""
    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "TOP_", "ETICKET_")) or name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
        ):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )


def function_stack(
    function: str, top_secret: dict[str, str], **parameters: Any
) -> tuple[Stack, FunctionSpec, Handler]:
    """The template's resources (inside ``mock_aws``) and ``function`` loaded as Lambda loads
    it: its environment set, the layer's services rebuilt from it, logging at ERROR."""
    stack = create_resources(
        boto3.Session(),
        secret_values={"TopSecret": top_secret},
        parameters={"LogLevel": "ERROR", **parameters},
    )
    spec = functions(stack)[function]
    os.environ.update(spec.environment)
    runtime.reset()
    logger.setLevel(os.environ["POWERTOOLS_LOG_LEVEL"])
    return stack, spec, spec.load_handler()
