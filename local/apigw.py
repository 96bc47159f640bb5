"""API Gateway HTTP API (payload format 2.0) events and Lambda contexts, built the way the
deployed service builds them, for the local HTTP adapter and for handler tests."""

from __future__ import annotations

import base64
import getpass
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

LOCAL_ACCOUNT = "123456789012"  # moto's account, and the local stack's
# API Gateway passes these bodies as text; anything else (or bytes that are not UTF-8) arrives
# base64-encoded with isBase64Encoded=true.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


def http_api_event(
    method: str,
    raw_path: str,
    *,
    raw_query: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    route_key: str = "$default",
    path_parameters: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    iam: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One request as the Lambda integration of an HTTP API receives it; ``iam`` is what
    the IAM authorizer says of the signer (``iam_identity``), for an IAM route."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, value in headers:
        name = raw_name.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            # HTTP API joins repeated headers with commas.
            merged[name] = f"{merged[name]},{value}" if name in merged else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": "local",
            "domainName": merged.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if iam is not None:
        event["requestContext"]["authorizer"] = {"iam": iam}
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        # Repeated keys are joined with commas, as API Gateway does.
        parameters: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
        event["queryStringParameters"] = parameters
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        content_type = merged.get("content-type", "").lower()
        text = _as_text(body) if content_type.startswith(_TEXT_TYPES) else None
        if text is None:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def iam_identity(
    user_arn: str,
    *,
    caller_id: str = "AIDACKCEVSQ6C2EXAMPLE",
    account_id: str = LOCAL_ACCOUNT,
    principal_org_id: str | None = None,
) -> dict[str, Any]:
    """``requestContext.authorizer.iam`` of a payload-2.0 event, as API Gateway's IAM
    authorizer fills it for a SigV4-signed request (no access key: nothing here needs one)."""
    return {
        "accessKey": None,
        "accountId": account_id,
        "callerId": caller_id,
        "cognitoIdentity": None,
        "principalOrgId": principal_org_id,
        "userArn": user_arn,
        "userId": caller_id,
    }


def local_identity() -> dict[str, Any]:
    """Who signs the local stack's IAM requests: it checks no SigV4, so it names the local
    user, as an IAM user of the local account (what a deployed stack would record)."""
    user = "".join(c if c.isalnum() or c in "+=,.@_-" else "_" for c in _local_user())[:64]
    return iam_identity(f"arn:aws:iam::{LOCAL_ACCOUNT}:user/{user}", caller_id=f"LOCAL:{user}")


def _local_user() -> str:
    try:
        return getpass.getuser() or "local"
    except (KeyError, OSError):  # no login name (a container with an unnamed uid)
        return "local"


def _as_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: int = 10
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
