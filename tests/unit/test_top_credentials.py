"""The TOP credentials sources: what the client signs with, read per call."""

from __future__ import annotations

import pytest

from cardmaker.errors import TopConfigError
from cardmaker.top.credentials import Credentials, FixedCredentials, StoredCredentials

SECRET = "app-secret-0f3c"
SESSION = "session-key-77a1"


class Reads(list[bool]):
    """A secret reader that records whether each read went past the cache."""

    def __init__(self, *secrets: object) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def __call__(self, force: bool) -> object:
        self.append(force)
        return self.secrets[0] if len(self.secrets) == 1 else self.secrets.pop(0)


def test_stored_credentials_read_through_the_cache_and_past_it_on_refresh():
    reads = Reads({"app_secret": SECRET, "session_key": SESSION}, {"app_secret": "new"})
    stored = StoredCredentials(reads)
    assert stored.current() == Credentials(SECRET, SESSION)
    assert stored.refresh() == Credentials("new", None)  # no session: a bind-only maker
    assert reads == [False, True]


def test_local_overrides_win_over_the_secret():
    stored = StoredCredentials(Reads({"app_secret": SECRET}), session_key="local-session")
    assert stored.current() == Credentials(SECRET, "local-session")


@pytest.mark.parametrize("secret", [{"session_key": SESSION}, {"app_secret": ""}, "not json"])
def test_a_secret_without_an_app_secret_is_refused_without_its_values(secret):
    with pytest.raises(TopConfigError) as refused:
        StoredCredentials(Reads(secret)).current()
    assert SESSION not in str(refused.value)


def test_credentials_never_show_their_values():
    shown = [repr(Credentials(SECRET, SESSION)), repr(FixedCredentials(SECRET, SESSION))]
    shown.append(repr(StoredCredentials(Reads({"app_secret": SECRET}))))
    assert not [text for text in shown if SECRET in text or SESSION in text]
    assert Credentials(SECRET, " ").session_key is None
    with pytest.raises(TopConfigError):
        Credentials(" ")
