"""Where the TOP client gets the app secret and the session key, each time it signs.

The client asks ``current()`` before every call, so a rotated secret (``put-secret-value``) is
used once the cached copy is older than its max age, and ``refresh()`` when the gateway
says the sign or the session no longer holds (codes 25 and 27): a rotation then costs one
refused attempt, not an execution environment's lifetime.

``FixedCredentials`` is for the local tools and tests; ``StoredCredentials`` reads the TOP
secret (JSON ``app_secret``, optional ``session_key``) through a cached reader, which the
wiring (``runtime``) builds on Powertools' ``SecretsProvider``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cardmaker.errors import TopConfigError


@dataclass(frozen=True)
class Credentials:
    """What a call is signed with. ``session_key`` is None for a maker that only binds cards
    (``card.bind`` needs no session; ``ma.send`` does)."""

    app_secret: str = field(repr=False)
    session_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.app_secret.strip():
            raise TopConfigError("the TOP app secret must be configured")
        if self.session_key is not None and not self.session_key.strip():
            object.__setattr__(self, "session_key", None)


class TopCredentials(Protocol):
    def current(self) -> Credentials:
        """The credentials to sign the next call with (may be cached)."""
        ...

    def refresh(self) -> Credentials:
        """Read them again now, past any cache (the gateway refused the cached ones)."""
        ...


class FixedCredentials:
    """Credentials given once (local tools, tests): refreshing finds the same ones."""

    def __init__(self, app_secret: str, session_key: str | None = None) -> None:
        self._credentials = Credentials(app_secret, session_key)

    def __repr__(self) -> str:
        return "FixedCredentials()"

    def current(self) -> Credentials:
        return self._credentials

    def refresh(self) -> Credentials:
        return self._credentials


# Reads the TOP secret as a JSON object; ``True`` asks past the cache.
SecretReader = Callable[[bool], Any]


class StoredCredentials:
    """The TOP secret's ``app_secret`` and ``session_key``, read through ``read`` (cached by
    it). ``app_secret`` / ``session_key`` given here override the secret's (local use)."""

    def __init__(
        self,
        read: SecretReader,
        *,
        app_secret: str | None = None,
        session_key: str | None = None,
    ) -> None:
        self._read = read
        self._app_secret = app_secret
        self._session_key = session_key

    def __repr__(self) -> str:
        return "StoredCredentials()"

    def current(self) -> Credentials:
        return self._from(self._read(False))

    def refresh(self) -> Credentials:
        return self._from(self._read(True))

    def _from(self, secret: Any) -> Credentials:
        if not isinstance(secret, Mapping):
            raise TopConfigError("the TOP secret must be a JSON object")
        app_secret = self._app_secret or _field(secret, "app_secret")
        if app_secret is None:
            raise TopConfigError("the TOP secret has no app_secret")
        return Credentials(app_secret, self._session_key or _field(secret, "session_key"))


def _field(secret: Mapping[str, Any], name: str) -> str | None:
    value = secret.get(name)
    return str(value) if value else None
