"""The local stack's HTTP server serves the console's files at /console/ beside the API: the
page and its scripts with their content types and a restrictive CSP, nothing else of the
folder or the checkout, GET and HEAD only."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from local.console import ConsoleFiles
from local.http_api import ApiGatewayServer


@pytest.fixture
def server() -> Iterator[str]:
    http = ApiGatewayServer(("127.0.0.1", 0), [], lambda line: None, console=ConsoleFiles())
    http.serve_in_background("console-files")
    try:
        yield http.url
    finally:
        http.close()


@pytest.mark.parametrize(
    ("path", "content_type", "starts"),
    [
        ("/console/", "text/html; charset=utf-8", b"<!doctype html>"),
        ("/console/index.html", "text/html; charset=utf-8", b"<!doctype html>"),
        ("/console/console.js", "text/javascript; charset=utf-8", b"// The Cardmaker console"),
        ("/console/signing.js", "text/javascript; charset=utf-8", b"// AWS Signature"),
        ("/console/config.js", "text/javascript; charset=utf-8", b"// Where the console"),
        ("/console/console.css", "text/css; charset=utf-8", b"/*"),
    ],
)
def test_the_console_files_are_served(server, path, content_type, starts):
    answer = requests.get(server + path, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == content_type
    assert answer.content.startswith(starts)
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


def test_the_bare_path_redirects_to_the_folder(server):
    answer = requests.get(server + "/console", timeout=10, allow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (301, "/console/")


@pytest.mark.parametrize(
    "path",
    [
        "/console/../template.yaml",
        "/console/%2e%2e/template.yaml",
        "/console/..%2ftemplate.yaml",
        "/console/missing.js",
        "/console/sub/index.html",
        "/console/.gitignore",
    ],
)
def test_nothing_else_is_reachable(server, path):
    # http.client sends the path as written (requests would resolve the dot segments first)
    address = urlsplit(server)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        assert answer.status == 404
        assert b"AWSTemplateFormatVersion" not in answer.read()
    finally:
        connection.close()


def test_only_get_and_head(server):
    assert requests.head(server + "/console/", timeout=10).status_code == 200
    answer = requests.post(server + "/console/", data=b"x", timeout=10)
    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, HEAD")
