"""moto's KMS without a key pair nobody asked for.

moto gives every KMS key a private key for Sign / Verify / GetPublicKey, a symmetric key
(``SYMMETRIC_DEFAULT``, the template's kind) an RSA 2048 one too: about a quarter of a second
of CPU per key, twice per stack, and the tests make a stack per test. Here the pair is made
when something first uses it, as moto would have made it; nothing else changes.

``install()`` once per process: ``local.stack`` calls it, next to ``local.moto_dynamodb``'s.
"""

from __future__ import annotations

import threading
from typing import Any

import moto.kms.models as kms_models
from moto.kms.utils import AbstractPrivateKey

_lock = threading.Lock()
_installed: list[bool] = []  # once installed, [True]


class LazyPrivateKey(AbstractPrivateKey):  # type: ignore[misc]  # moto is untyped
    """moto's private key of a KMS key, made on first use."""

    def __init__(self, make: Any, key_spec: str) -> None:
        self._make = make
        self._key_spec = key_spec
        self._made: AbstractPrivateKey | None = None
        self._making = threading.Lock()

    @property
    def made(self) -> bool:
        return self._made is not None

    def _key(self) -> AbstractPrivateKey:
        with self._making:
            if self._made is None:
                self._made = self._make(self._key_spec)
            return self._made

    def sign(self, message: bytes, signing_algorithm: str) -> bytes:
        return self._key().sign(message, signing_algorithm)

    def verify(self, message: bytes, signature: bytes, signing_algorithm: str) -> bool:
        return self._key().verify(message, signature, signing_algorithm)

    def public_key(self) -> bytes:
        return self._key().public_key()

    def __getattr__(self, name: str) -> Any:
        # Anything else moto reads off its key (key_size, private_key...), from the real one.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._key(), name)


def install() -> None:
    """Make moto's KMS key pairs on first use (idempotent)."""
    with _lock:
        if _installed:
            return
        make = kms_models.generate_private_key
        kms_models.generate_private_key = lambda key_spec: LazyPrivateKey(make, key_spec)
        _installed.append(True)
