"""The HTTP API's OpenAPI document, generated from the functions' routes (``make openapi``).

``python -m local.openapi`` writes docs/openapi.json; ``--check`` only says whether the file
is up to date. The document is what Powertools generates from the resolver (routes, their
validation models, the answer models of ``responses=``) for the routes of every function
behind the API (TopSpiFunction, EticketNoticeFunction and OperatorApiFunction), with three
corrections Powertools cannot be told about:

- bounds come back as JSON integers (Powertools' OpenAPI models store them as floats, which
  also rounds the largest ``card_order_id``, 2^63 - 1, up to 2^63);
- ``POST /top/spi`` and ``POST /eticket/notices`` lose the 422 Powertools lists on every
  validated route: the platform's routes declare nothing for the resolver to validate, and
  answer every refusal themselves (200);
- component schemas no route refers to any more are dropped (Powertools' own 422 shape).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from cardmaker import API_DESCRIPTION, API_SERVERS, API_TAGS, MAX_ORDER_ID, SECURITY_SCHEMES
from local.template import (
    REPO,
    Route,
    load_function_module,
    load_template,
    resources_of_type,
)

SPEC_PATH = REPO / "docs" / "openapi.json"
COMMAND = "make openapi"
# Routes whose requests the resolver does not validate (their refusals are their own).
UNVALIDATED = {("/top/spi", "post"), ("/eticket/notices", "post")}
# Integers a float cannot hold exactly, by the float Powertools turned them into.
_EXACT_INTEGERS = {float(MAX_ORDER_ID): MAX_ORDER_ID}


def template_routes() -> dict[str, tuple[Route, ...]]:
    """The ``HttpApi`` routes of each function of template.yaml that has some."""
    routes = {}
    for name, resource in resources_of_type(load_template(), "AWS::Serverless::Function").items():
        events = resource["Properties"].get("Events", {}).values()
        found = tuple(
            Route(event["Properties"]["Method"].upper(), event["Properties"]["Path"])
            for event in events
            if event["Type"] == "HttpApi"
        )
        if found:
            routes[name] = found
    return routes


@cache
def _api() -> Any:
    """One resolver with the routes of every function behind the HTTP API (each handler
    module exposes its Powertools routers as ``ROUTERS``), configured with the API's own
    description: the document of the API as API Gateway serves it."""
    api = APIGatewayHttpResolver(enable_validation=True)
    api.configure_openapi(
        title="Cardmaker HTTP API",
        version="0.1.0",
        description=API_DESCRIPTION,
        servers=API_SERVERS,
        tags=API_TAGS,
        security_schemes=SECURITY_SCHEMES,
    )
    resources = load_template()["Resources"]
    for name in sorted(template_routes()):
        properties = resources[name]["Properties"]
        module_file = properties["Handler"].rpartition(".")[0]
        module = load_function_module(
            REPO / properties["CodeUri"], module_file, f"cardmaker_openapi_{name}"
        )
        for router in module.ROUTERS:
            api.include_router(router)
    return api


def build_spec() -> dict[str, Any]:
    """The document, as a JSON-ready dict."""
    spec = json.loads(_api().get_openapi_json_schema())
    spec = _exact_integers(spec)
    for path, method in UNVALIDATED:
        spec["paths"][path][method]["responses"].pop("422", None)
    _drop_unreferenced_schemas(spec)
    return spec


def render(spec: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, a trailing newline."""
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _exact_integers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return _EXACT_INTEGERS.get(value, int(value))
    if isinstance(value, dict):
        return {key: _exact_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact_integers(item) for item in value]
    return value


def _drop_unreferenced_schemas(spec: dict[str, Any]) -> None:
    schemas = spec.get("components", {}).get("schemas", {})
    while True:
        text = json.dumps(spec)
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=SPEC_PATH, help="default: %(default)s")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from the code"
    )
    args = parser.parse_args(argv)
    text = render(build_spec())
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}" if current != text else f"{args.output} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
