"""The template's resources on a moto server of their own, for benchmarks that write through
the real stores (a separate process, so moto's serving costs are not counted as ours)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import boto3

from cardmaker import runtime
from local.template import REGION, Stack, create_resources, functions


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                break
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # a loaded machine: it was told; now make it
            server.kill()
            server.wait(10)


@contextlib.contextmanager
def generator_stack() -> Iterator[Stack]:
    """The template's tables, secrets and keys on a fresh moto server, with this process's
    environment set as the functions' (the layer's runtime reads it)."""
    with moto_server() as url:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": url,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": REGION,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "ERROR",
            }
        )
        stack = create_resources(
            boto3.Session(region_name=REGION),
            secret_values={
                "CardNumberSecret": {"key": os.urandom(32).hex()},
                "TopSecret": {"app_secret": "x"},
            },
            # The SPI's services take calls for one app key: without it they do not start.
            parameters={"TopAppKey": "12345678"},
        )
        # Every function's variables: a bench receives orders (the SPI's services) and
        # generates them (the generator's).
        for spec in functions(stack).values():
            os.environ.update(spec.environment)
        runtime.reset()
        yield stack
