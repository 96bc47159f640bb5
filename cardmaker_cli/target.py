"""Which Cardmaker the command talks to: the local stack (``make serve``) or a deployed stack.

Both are described by the same outputs: a deployed stack's CloudFormation outputs, or the
file ``make serve`` writes with the same names and local values. Every command works from a
``Target`` and never cares which kind it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
from botocore.config import Config

from cardmaker_cli.errors import CliError

DEFAULT_LOCAL_STATE = Path(".cardmaker/local-stack.json")
# The local stack's moto accepts any credentials; these keep a real profile out of it.
_LOCAL_KEY_ID = _LOCAL_SECRET = "testing"  # noqa: S105 (moto's fake credentials)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# The AWS services commands reach through ``Target.client`` (boto3-stubs types a client by name).
AwsService = Literal[
    "dynamodb", "dynamodbstreams", "kms", "lambda", "logs", "secretsmanager", "sqs"
]


@dataclass(frozen=True)
class Target:
    """A Cardmaker stack: its outputs and an AWS session that reaches its resources."""

    name: str  # the stack name, or "local"
    outputs: dict[str, str]
    session: boto3.Session
    local: bool
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def api_url(self) -> str:
        return self.output("ApiUrl").rstrip("/")

    @property
    def region(self) -> str:
        return self.session.region_name or self.outputs.get("Region", "")

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise CliError(f"the stack {self.name!r} has no output {key!r}")
        return value

    def client(self, service: AwsService) -> Any:
        """A cached boto3 client for ``service``, pointed at the local stack's endpoints
        when the target is local."""
        if service not in self._clients:
            endpoint = None
            if self.local:
                endpoint = self.outputs.get(
                    "LambdaEndpointUrl" if service == "lambda" else "AwsEndpointUrl"
                )
            config = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=60)
            if service == "dynamodbstreams":
                # botocore's account-based endpoints are not answered by moto's server.
                config = config.merge(Config(account_id_endpoint_mode="disabled"))
            self._clients[service] = self.session.client(
                service, endpoint_url=endpoint, config=config
            )
        return self._clients[service]

    def requires_sigv4(self) -> bool:
        """The IAM-authorized routes need SigV4 on AWS; the local stack does not check it."""
        return not _is_loopback(self.api_url)

    def card_key_id(self) -> str:
        """The KMS key that wraps the chunks' data keys."""
        return self.output("CardDataKeyId")


def resolve_target(
    *,
    stack: str | None,
    local_state: Path | None,
    api_url: str | None,
    region: str | None,
    profile: str | None,
) -> Target:
    """The stack named by ``stack`` (CloudFormation outputs), else the local stack described
    by ``local_state`` (default ``.cardmaker/local-stack.json``). ``api_url`` overrides the
    API's URL in either case."""
    if stack:
        target = _deployed(stack, region, profile)
    elif api_url and (
        not _is_loopback(api_url) or (local_state is None and not DEFAULT_LOCAL_STATE.exists())
    ):
        # Only an API (joint testing against someone else's deployment): the API commands
        # work, those that need the stack's resources say which output is missing. A remote
        # API never gets the local stack's fake credentials, even with a local stack around.
        target = _api_only(region, profile)
    else:
        target = _local(local_state or DEFAULT_LOCAL_STATE)
    if api_url:
        target.outputs["ApiUrl"] = api_url
    return target


def _local(state: Path) -> Target:
    try:
        outputs = json.loads(state.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(
            f"no local stack found ({state} does not exist): start one with `make serve`, "
            "or name a deployed stack with --stack"
        ) from None
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read the local stack's outputs from {state}: {error}") from None
    if not isinstance(outputs, dict):
        raise CliError(f"{state} does not hold a local stack's outputs")
    session = boto3.Session(
        region_name=outputs.get("Region", "us-east-1"),
        aws_access_key_id=_LOCAL_KEY_ID,
        aws_secret_access_key=_LOCAL_SECRET,
    )
    return Target("local", {str(k): str(v) for k, v in outputs.items()}, session, local=True)


def _api_only(region: str | None, profile: str | None) -> Target:
    return Target("api", {}, _session(region, profile), local=False)


def _session(region: str | None, profile: str | None) -> boto3.Session:
    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound as error:
        raise CliError(str(error)) from None


def _deployed(stack: str, region: str | None, profile: str | None) -> Target:
    session = _session(region, profile)
    if session.region_name is None:
        raise CliError("no AWS region: pass --region or set AWS_REGION")
    if session.get_credentials() is None:
        raise CliError("no AWS credentials: set a profile (--profile / AWS_PROFILE) or keys")
    cloudformation = session.client("cloudformation")
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except botocore.exceptions.ClientError as error:
        raise CliError(f"cannot read stack {stack!r}: {error}") from None
    except botocore.exceptions.BotoCoreError as error:
        raise CliError(f"cannot reach CloudFormation: {error}") from None
    outputs = {item["OutputKey"]: item["OutputValue"] for item in described.get("Outputs", [])}
    return Target(stack, outputs, session, local=False)


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in _LOOPBACK
