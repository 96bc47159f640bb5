"""``runtime.reset()`` forgets every cached setting, client and service: a test or a local
stack that changes the environment must never meet a client built for the one before (an
operator API call would go to a moto server that is gone)."""

from __future__ import annotations

from cardmaker import runtime
from cardmaker.store import clients


def _cached(module: object) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if callable(value) and hasattr(value, "cache_clear") and not name.startswith("__")
    }


def test_reset_clears_every_cached_function_of_the_runtime_and_every_client(monkeypatch):
    cleared: list[str] = []
    for name in _cached(runtime) | _cached(clients):
        function = getattr(runtime, name, None) or getattr(clients, name)
        monkeypatch.setattr(function, "cache_clear", lambda name=name: cleared.append(name))
    runtime.reset()
    assert set(cleared) >= _cached(runtime) | _cached(clients)
