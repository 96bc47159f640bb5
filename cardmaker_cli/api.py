"""The stack's HTTP API: requests signed with SigV4 for the IAM routes on AWS, and every
failure (unreachable, timeout, refusal, crash) turned into a message for the operator."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from cardmaker_cli.errors import CliError

if TYPE_CHECKING:
    from cardmaker_cli.target import Target

TIMEOUT_SECONDS = 30


class ApiRefused(CliError):
    """A 4xx/5xx answer: the operator's message, and the status for the commands that say
    more about some (a 404 for an order that exists in another environment)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


_API_GATEWAY_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


@dataclass(frozen=True)
class Api:
    """The HTTP API of a target."""

    target: Target
    timeout: float = TIMEOUT_SECONDS

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET an IAM route; returns its JSON answer or raises ``CliError``."""
        return self.json_answer(self.send("GET", path, params=params, iam=True))

    def get_pages(
        self, path: str, params: dict[str, str], items: str, token: str | None, every: bool
    ) -> tuple[list[Any], str | None]:
        """A paged listing's ``items`` from the page ``token`` names (None: the first), that
        page only or ``every`` page to the end; with the ``next`` token left (None: none)."""
        found: list[Any] = []
        while True:
            page = self.get(path, {**params, **({"next": token} if token else {})})
            found.extend(page.get(items, []))
            token = page.get("next")
            if not every or token is None:
                return found, token

    def post(self, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        """POST JSON (or nothing, for ``body=None``) to an IAM route; returns its JSON answer
        or raises ``CliError``."""
        if body is None:
            return self.json_answer(self.send("POST", path, params=params, iam=True))
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"content-type": "application/json"}
        return self.json_answer(
            self.send("POST", path, params=params, body=data, headers=headers, iam=True)
        )

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        raw_query: str | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        iam: bool,
    ) -> requests.Response:
        """One request, answered with any status; ``CliError`` when there is no answer."""
        url = self.url(path, raw_query if raw_query is not None else urlencode(params or {}))
        headers = dict(headers or {})
        if iam and self.target.requires_sigv4():
            headers = self.sigv4_headers(method, url, body, headers)
        try:
            return requests.request(method, url, data=body, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            raise CliError(f"no answer from {url} within {self.timeout:g} s") from None
        except requests.ConnectionError:
            hint = " (is `make serve` running?)" if self.target.local else ""
            raise CliError(f"cannot reach {self.target.api_url}{hint}") from None
        except requests.RequestException as error:
            raise CliError(f"request to {url} failed: {error}") from None

    def url(self, path: str, query: str = "") -> str:
        return f"{self.target.api_url}{path}" + (f"?{query}" if query else "")

    def json_answer(self, answer: requests.Response) -> Any:
        """The JSON body of a 2xx answer; otherwise ``CliError`` saying what was refused."""
        if answer.status_code >= 400:
            raise ApiRefused(refusal_message(answer), answer.status_code)
        try:
            return answer.json()
        except ValueError:
            raise CliError(
                f"the API answered {answer.status_code} without JSON: {answer.text[:200]!r}"
            ) from None

    def sigv4_headers(
        self, method: str, url: str, body: bytes, headers: dict[str, str]
    ) -> dict[str, str]:
        """``headers`` plus SigV4's (service execute-api), as the IAM routes require."""
        credentials = self.target.session.get_credentials()
        if credentials is None:
            raise CliError(
                "no AWS credentials to sign the request (the API's operator routes need IAM): "
                "set a profile (--profile / AWS_PROFILE) or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY"
            )
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self._region()).add_auth(
            request
        )
        return dict(request.headers.items())

    def _region(self) -> str:
        # An execute-api host names the region the signature must be for, whatever the
        # session's default region is; a custom domain leaves it to the session.
        found = _API_GATEWAY_HOST.search(urlsplit(self.target.api_url).hostname or "")
        if found is not None:
            return found.group(1)
        if self.target.region:
            return self.target.region
        raise CliError("no AWS region to sign the request: pass --region or set AWS_REGION")


def refusal_message(answer: requests.Response) -> str:
    """What a 4xx/5xx answer says, in one line: the failing fields of a validation error
    (``detail`` with ``loc``/``msg``), why an order's step was refused and where the order is
    (a 409 with ``status``), the ``message`` of a 404/403, or the start of the body."""
    status = answer.status_code
    try:
        payload = answer.json()
    except ValueError:
        payload = None
    what = "the API failed" if status >= 500 else "the API refused the request"
    if (
        isinstance(payload, dict)
        and isinstance(payload.get("detail"), list)
        and "status" in payload
    ):
        # An order's step, or a delivery's cancel, refused by where it is (409): say so plainly.
        problems = [p for p in payload["detail"] if isinstance(p, dict)]
        reasons = "; ".join(str(p.get("msg", "")) for p in problems)
        subject = (
            "delivery" if any("delivery_id" in (p.get("loc") or []) for p in problems) else "order"
        )
        return f"{what} ({status}): {reasons} (the {subject} is {payload['status']})"
    if isinstance(payload, dict) and isinstance(payload.get("detail"), list):
        fields = "; ".join(_field_problem(problem) for problem in payload["detail"])
        return f"{what} ({status}): {fields}"
    if isinstance(payload, dict) and payload.get("message"):
        return f"{what} ({status}): {payload['message']}"
    text = answer.text.strip()[:200] or answer.reason
    return f"{what} ({status}): {text}"


def _field_problem(problem: Any) -> str:
    if not isinstance(problem, dict):
        return str(problem)
    location = [str(part) for part in problem.get("loc", [])]
    if location and location[0] in {"body", "query", "path"}:
        location = location[1:]
    name = ".".join(location) or "request"
    message = str(problem.get("msg") or "")
    if message and location and message.startswith(location[-1]):
        return message  # the API's sentence names the field itself
    return f"{name}: {message or problem.get('type', 'invalid')}"
