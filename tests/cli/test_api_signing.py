"""Requests to a deployed API's IAM routes carry SigV4 (service execute-api); the local
stack's loopback API gets none."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3

from cardmaker_cli.api import Api
from cardmaker_cli.target import Target, resolve_target

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


def test_the_signature_is_for_the_api_s_region_whatever_the_session_s_default():
    # Given a session whose default region is not the API's
    api = Api(deployed(region="us-east-1"))

    headers = api.sigv4_headers("GET", f"{API}/orders/1?own_sign=daily", b"", {})

    # Then API Gateway in eu-west-1 gets a signature it accepts
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]


def test_a_remote_api_url_never_uses_the_local_stack_s_credentials(tmp_path, monkeypatch):
    # Given a local stack's outputs file in the working folder (make serve is running)
    (tmp_path / ".cardmaker").mkdir()
    (tmp_path / ".cardmaker" / "local-stack.json").write_text(
        '{"ApiUrl": "http://127.0.0.1:3000", "Region": "us-east-1"}', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDREAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")

    # When the command is pointed at a deployed API
    target = resolve_target(stack=None, local_state=None, api_url=API, region=None, profile=None)

    # Then it signs with the operator's credentials, not the local stack's fake ones
    assert not target.local
    assert target.requires_sigv4()
    assert target.session.get_credentials().access_key == "AKIDREAL"
    # while a loopback URL is still the local stack
    local = resolve_target(
        stack=None, local_state=None, api_url="http://127.0.0.1:3000", region=None, profile=None
    )
    assert local.local


def test_the_request_that_leaves_carries_the_signature_and_the_spi_call_does_not():
    # Given an API on 127.0.0.2 (not the local stack's loopback name: treated as deployed,
    # with a region, as a custom domain would be) that records the headers it receives
    received: list[dict[str, str]] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append(dict(self.headers.items()))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.2", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.2:{server.server_address[1]}"
        session = boto3.Session(
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="eu-west-1"
        )
        api = Api(Target("api", {"ApiUrl": url}, session, local=False))

        # When an operator route and the SPI route are called
        api.send("GET", "/orders/1", params={"own_sign": "daily"}, iam=True)
        api.send("POST", "/top/spi", raw_query="method=x", body=b"{}", iam=False)
    finally:
        server.shutdown()

    # Then the first left signed for execute-api in the session's region, the second unsigned
    operator, platform = received
    assert "/eu-west-1/execute-api/aws4_request" in operator["Authorization"]
    assert "X-Amz-Date" in operator
    assert "Authorization" not in platform
