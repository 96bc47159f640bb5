"""The signed TOP client: one pooled HTTP session, retries only where they are safe.

A call is retried (exponential backoff, full jitter) only where that is safe: the connection
was never made, or the gateway answered with a failure TOP's own SDK retries (HTTP 5xx/429,
``isp.*`` sub-codes, codes 7 and 10). Once the request may have reached the gateway and no
answer came back (read timeout, connection dropped), the outcome is unknown: the client
raises ``TopOutcomeUnknown`` at once and leaves the re-send, with the same ids, to the caller.

The app secret and the session key come from a ``TopCredentials`` source, asked before each
call: a rotated secret is picked up as its cache ages, and at once when the gateway refuses the
sign (code 25) or the session (27): the client then reads them afresh and makes the call once
more. The gateway checks sign and session before anything else, so a call refused that way
was never processed and is safe to repeat.

Nothing secret leaves this module in a log line or an exception: not the app secret, the
session key, the sign, nor any business parameter (they carry card secrets). Transport errors
of ``requests`` quote the URL (query string included), so they are never chained either.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from cardmaker.errors import TopConfigError, TopError, TopOutcomeUnknown, TopUnavailable
from cardmaker.observability import logger
from cardmaker.retry import backoff_delay
from cardmaker.top.credentials import Credentials, TopCredentials
from cardmaker.top.envelopes import unwrap_top_response
from cardmaker.top.gateways import check_gateway_url
from cardmaker.top.signing import SIGN_PARAM, SignMethod, sign_request
from cardmaker.top.timestamps import format_timestamp, utc_now

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

API_VERSION = "2.0"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
POOL_SIZE = 10
RATE_LIMITED = 7
SERVICE_UNAVAILABLE = 10
RETRYABLE_CODES = frozenset({RATE_LIMITED, SERVICE_UNAVAILABLE})
INVALID_SIGNATURE = 25
INVALID_SESSION = 27
# The gateway no longer takes what we signed with: read the credentials again, call once more.
STALE_CREDENTIAL_CODES = frozenset({INVALID_SIGNATURE, INVALID_SESSION})
SYSTEM_PARAMS = frozenset(
    {
        "method",
        "app_key",
        "timestamp",
        "v",
        "format",
        "sign_method",
        SIGN_PARAM,
        "session",
        "simplify",
        "partner_id",
        "target_app_key",
    }
)


class TopResponse(dict[str, Any]):
    """The business part of a gateway answer, plus how many attempts it took."""

    def __init__(self, business: Mapping[str, Any], *, attempts: int) -> None:
        super().__init__(business)
        self.attempts = attempts

    @property
    def request_id(self) -> str | None:
        value = self.get("request_id")
        return None if value is None else str(value)


def attempts_of(error: BaseException) -> int:
    """How many attempts a failed ``TopClient.call`` made (``TopError`` included)."""
    return int(getattr(error, "attempts", 1))


def retryable_top_error(error: TopError) -> bool:
    """Platform-side trouble worth a backed-off retry; never an ``isv.*`` (caller) error."""
    sub_code = error.sub_code or ""
    if sub_code.startswith("isv."):
        return False
    return sub_code.startswith("isp.") or error.top_code in RETRYABLE_CODES


@dataclass(frozen=True)
class _TransportFailure:
    """An attempt that got no HTTP answer, and whether the request may have left."""

    reason: str
    maybe_sent: bool


@dataclass(frozen=True)
class _Retry:
    """A failed attempt that is safe to repeat: why, and the gateway's error if it gave one."""

    reason: str
    error: TopError | None = None
    status: int | None = None


class TopClient:
    """Calls the TOP gateway with signed requests. One instance per process is enough: its
    HTTP session pools connections."""

    def __init__(
        self,
        gateway_url: str,
        app_key: str,
        credentials: TopCredentials,
        *,
        sign_method: SignMethod = "hmac-sha256",
        simplify: bool = False,
        timeout: tuple[float, float] = (3.05, 10.0),
        max_attempts: int = 4,
        base_delay: float = 0.2,
        max_delay: float = 3.0,
        clock: Clock = utc_now,
        sleep: Sleep = time.sleep,
        http: requests.Session | None = None,
    ) -> None:
        """``credentials`` gives the app secret and session key (``FixedCredentials`` for
        fixed ones). ``timeout`` is (connect, read) in seconds; ``max_attempts`` counts the
        first one. ``http`` replaces the pooled session (it is then the caller's to close)."""
        _check_config(gateway_url, app_key, sign_method, max_attempts)
        self.gateway_url = gateway_url
        self.app_key = app_key
        self._credentials = credentials
        self.sign_method: SignMethod = sign_method
        self.simplify = simplify
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._owns_http = http is None
        self._http = http or pooled_session()

    def __repr__(self) -> str:
        return (
            f"TopClient(gateway_url={self.gateway_url!r}, app_key={self.app_key!r}, "
            f"sign_method={self.sign_method!r})"
        )

    def __enter__(self) -> TopClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections (only those of a session this client created)."""
        if self._owns_http:
            self._http.close()

    def call(
        self, method: str, params: Mapping[str, str], *, with_session: bool = False
    ) -> TopResponse:
        """Call ``method`` with business ``params``; return the business part of the answer.

        Raises ``TopError`` (the gateway's error; ``attempts`` set on it), ``TopUnavailable``
        (not delivered), ``TopOutcomeUnknown`` (maybe delivered) or ``TopConfigError`` (no
        session key for a call that needs one: nothing was sent).
        """
        _check_business_params(params)
        credentials = self._credentials.current()
        if with_session and credentials.session_key is None:
            credentials = self._session_credentials(method)
        try:
            return self._call_with(method, params, with_session, credentials)
        except TopError as refused:
            if refused.top_code not in STALE_CREDENTIAL_CODES:
                raise
            fresh = self._credentials.refresh()
            if fresh == credentials:  # nothing rotated: the same call would be refused again
                raise
            logger.warning(
                "TOP credentials refreshed, call made again",
                extra={"top_method": method, "top_code": refused.top_code},
            )
            try:
                answer = self._call_with(method, params, with_session, fresh)
            except (TopError, TopUnavailable, TopOutcomeUnknown) as error:
                error.attempts += refused.attempts  # the refused call's count too
                raise
            answer.attempts += refused.attempts
            return answer

    def has_session(self) -> bool:
        """Is a session key configured (read afresh when the cached credentials have none)?
        ``ma.send`` needs one; ``card.bind`` does not."""
        if self._credentials.current().session_key is not None:
            return True
        return self._credentials.refresh().session_key is not None

    def _session_credentials(self, method: str) -> Credentials:
        """Credentials with a session key: the cached ones had none, and it may have just
        been put into the secret."""
        credentials = self._credentials.refresh()
        if credentials.session_key is None:
            raise TopConfigError(f"{method} needs a session key and none is configured")
        return credentials

    def _call_with(
        self,
        method: str,
        params: Mapping[str, str],
        with_session: bool,
        credentials: Credentials,
    ) -> TopResponse:
        attempts = 0
        while True:
            attempts += 1
            outcome = self._attempt(method, params, with_session, credentials, attempts)
            if isinstance(outcome, TopResponse):
                logger.debug(
                    "TOP call answered",
                    extra={
                        "top_method": method,
                        "attempts": attempts,
                        "request_id": outcome.request_id,
                    },
                )
                return outcome
            if attempts >= self.max_attempts:
                raise self._exhausted(method, outcome, attempts)
            self._back_off(method, outcome, attempts)

    def _attempt(
        self,
        method: str,
        params: Mapping[str, str],
        with_session: bool,
        credentials: Credentials,
        attempts: int,
    ) -> TopResponse | _Retry:
        query = self.system_params(method, params, credentials, with_session=with_session)
        answer = self._post(query, params)
        if isinstance(answer, _TransportFailure):
            if answer.maybe_sent:
                _log_failure(method, attempts, answer.reason)
                raise TopOutcomeUnknown(method, attempts, answer.reason)
            return _Retry(answer.reason)
        return self._read(method, answer, attempts)

    def system_params(
        self,
        method: str,
        params: Mapping[str, str],
        credentials: Credentials,
        *,
        with_session: bool = False,
    ) -> dict[str, str]:
        """The signed system parameters of one attempt (fresh timestamp each time)."""
        system = {
            "method": method,
            "app_key": self.app_key,
            "timestamp": format_timestamp(self._clock()),
            "v": API_VERSION,
            "format": "json",
            "sign_method": self.sign_method,
        }
        if with_session and credentials.session_key is not None:
            system["session"] = credentials.session_key
        if self.simplify:
            system["simplify"] = "true"
        # Signed last, over everything that is sent: signing first is the classic pitfall.
        system[SIGN_PARAM] = sign_request(
            {**system, **params}, credentials.app_secret, self.sign_method
        )
        return system

    def _post(
        self, query: dict[str, str], params: Mapping[str, str]
    ) -> requests.Response | _TransportFailure:
        """POST one attempt. A ``requests`` error never escapes, not even as a cause: its
        text quotes the URL, session key and sign included."""
        body = urlencode(list(params.items()), encoding="utf-8").encode("ascii")
        try:
            return self._http.post(
                self.gateway_url,
                params=query,
                data=body,
                headers={"Content-Type": FORM_CONTENT_TYPE},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            return _transport_failure(error)

    def _read(
        self, method: str, response: requests.Response, attempts: int
    ) -> TopResponse | _Retry:
        status = response.status_code
        if status == 429 or status >= 500:
            return _Retry(f"HTTP {status}", status=status)
        if not 200 <= status < 300:
            raise TopUnavailable(method, attempts, f"HTTP {status}", status)
        payload = _json_object(response.content)
        if payload is None:
            _log_failure(method, attempts, "unreadable answer")
            raise TopOutcomeUnknown(method, attempts, "the answer is not a JSON object")
        try:
            return TopResponse(unwrap_top_response(method, payload), attempts=attempts)
        except TopError as error:
            if retryable_top_error(error):
                return _Retry(error.describe(), error=error)
            error.attempts = attempts
            _log_failure(method, attempts, error.describe())
            raise

    def _back_off(self, method: str, retry: _Retry, attempts: int) -> None:
        delay = backoff_delay(attempts - 1, self.base_delay, self.max_delay)
        logger.warning(
            "TOP call will be retried",
            extra={
                "top_method": method,
                "attempt": attempts,
                "reason": retry.reason,
                "delay_ms": round(delay * 1000),
            },
        )
        self._sleep(delay)

    def _exhausted(self, method: str, retry: _Retry, attempts: int) -> Exception:
        _log_failure(method, attempts, f"retries exhausted: {retry.reason}")
        if retry.error is not None:
            retry.error.attempts = attempts
            return retry.error
        return TopUnavailable(method, attempts, retry.reason, retry.status)


def pooled_session() -> requests.Session:
    """A session with a connection pool and no retries of its own (the client decides)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _transport_failure(error: requests.RequestException) -> _TransportFailure:
    """Classify a ``requests`` error: only a connection never made is known not sent."""
    if isinstance(error, requests.ConnectTimeout):
        return _TransportFailure("connect timeout", maybe_sent=False)
    if isinstance(error, requests.ReadTimeout):
        return _TransportFailure("read timeout", maybe_sent=True)
    if isinstance(error, requests.ConnectionError) and not isinstance(
        error, requests.exceptions.SSLError
    ):
        cause = error.args[0] if error.args else None
        if isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError):
            return _TransportFailure("connection failed", maybe_sent=False)
        return _TransportFailure("connection dropped", maybe_sent=True)
    # TLS failures (a handshake cannot be told from a broken answer) and anything else that
    # happens once connected: the request may have left.
    return _TransportFailure(type(error).__name__, maybe_sent=True)


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(content.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
        return None
    return payload if isinstance(payload, dict) else None


def _log_failure(method: str, attempts: int, reason: str) -> None:
    logger.warning(
        "TOP call failed", extra={"top_method": method, "attempts": attempts, "reason": reason}
    )


def _check_business_params(params: Mapping[str, str]) -> None:
    clashes = sorted(SYSTEM_PARAMS.intersection(params))
    if clashes:
        raise ValueError(f"business parameters may not be named {clashes}")


def _check_config(gateway_url: str, app_key: str, sign_method: str, max_attempts: int) -> None:
    check_gateway_url(gateway_url)
    if not app_key.strip():
        raise TopConfigError("the TOP app key must be configured")
    if sign_method not in get_args(SignMethod):
        raise TopConfigError(f"unsupported sign_method {sign_method!r}")
    if max_attempts < 1:
        raise TopConfigError("max_attempts must be at least 1")
