"""Requests to a deployed API's IAM routes carry SigV4 (service execute-api); the local
stack's loopback API gets none."""

from __future__ import annotations

import boto3

from cardmaker_cli.api import Api
from cardmaker_cli.target import Target

API = "https://abc123.execute-api.eu-west-1.amazonaws.com"


def deployed(region: str | None = None) -> Target:
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI", region_name=region
    )
    return Target("api", {"ApiUrl": API}, session, local=False)


def test_a_deployed_api_is_signed_for_execute_api_in_its_region():
    api = Api(deployed())  # no region configured: read from the API's host name

    headers = api.sigv4_headers("GET", f"{API}/orders/1?own_sign=daily", b"", {})

    assert deployed().requires_sigv4()
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert "SignedHeaders=host;x-amz-date" in authorization
    assert "wJalrXUtnFEMI" not in str(headers)


def test_the_local_stack_is_not_signed():
    local = Target("local", {"ApiUrl": "http://127.0.0.1:3000"}, boto3.Session(), local=True)

    assert not local.requires_sigv4()
