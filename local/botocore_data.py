"""botocore's data files read once per process, not once per session.

Every ``boto3.Session()`` reads botocore's JSON again (the endpoints, each service's model
and rules) and lists its data folders: about 0.1 s of CPU per session. The local stack and the
tests make sessions by the hundred (a client per call to ``LocalStack.client``, fresh clients
after every ``runtime.reset()``). The files are read-only package data, and one session's
clients already share what its loader read: here every session shares one loader per data
path (``AWS_DATA_PATH``), so each file is parsed once per process.

``install()`` once per process: ``local.stack`` calls it.
"""

from __future__ import annotations

import functools
import threading

import botocore.loaders
import botocore.session

_lock = threading.Lock()
_installed: list[bool] = []  # once installed, [True]


def install() -> None:
    """Share one botocore loader per data path between sessions (idempotent)."""
    with _lock:
        if _installed:
            return
        # botocore.session calls the name it imported; the cache keys by AWS_DATA_PATH.
        botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
        _installed.append(True)
