"""The docs are the newcomer's map. The README is the front door: short, and every link in it
and in `docs/` leads somewhere. The operator manual names every event's `sam local invoke`
line, every variable the functions read, every template parameter and every `cardmaker`
command, so that it cannot silently fall behind the code."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import typer

from cardmaker import FUNCTION_SETTINGS
from cardmaker_cli.main import app
from local.template import REPO, load_template

README_PATH = REPO / "README.md"
README = README_PATH.read_text(encoding="utf-8")
MANUAL = (REPO / "docs" / "operator-manual.md").read_text(encoding="utf-8")
TEMPLATE = load_template()
README_MAX_LINES = 400
MANUAL_PAGES = (
    "docs/operator-manual.md",
    "docs/spi-reference.md",
    "docs/design.md",
    "docs/figures.md",
    "docs/testing.md",
)


# The HTTP function's split (branch `edges`) renames HttpApiFunction into TopSpiFunction and
# OperatorApiFunction. Until that template is merged, the old function's routes are read as
# the split assigns them; delete this once HttpApiFunction is gone from template.yaml.
def _functions() -> dict[str, dict[str, Any]]:
    return {
        name: resource.get("Properties", {})
        for name, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _route_owner(route_key: str) -> set[str]:
    """The function that serves an HTTP route, from the template's HttpApi events."""
    owners = set()
    for name, function in _functions().items():
        for source in function.get("Events", {}).values():
            if source["Type"] != "HttpApi":
                continue
            route = f"{source['Properties']['Method'].upper()} {source['Properties']['Path']}"
            if route == route_key:
                owners.add(name)
    return owners


def _handled_by(event_file: str) -> set[str]:
    """The functions an event file is meant for, from the event itself."""
    event = json.loads((REPO / "events" / event_file).read_text(encoding="utf-8"))
    if "routeKey" in event:
        return _route_owner(event["routeKey"])
    arns = {record["eventSourceARN"] for record in event["Records"]}
    functions = set()
    for name, function in _functions().items():
        for source in function.get("Events", {}).values():
            if source["Type"] == "DynamoDB":
                table = source["Properties"]["Stream"]["Fn::GetAtt"][0]
                if any(f"{table}/stream/" in arn for arn in arns):
                    functions.add(name)
    return functions


def test_every_sample_event_has_its_sam_local_invoke_line():
    shown = set(
        re.findall(
            r"sam local invoke (\w+) -e events/(\w+\.json) --env-vars events/env\.json", MANUAL
        )
    )
    events = sorted(
        path.name for path in (REPO / "events").glob("*.json") if path.name != "env.json"
    )
    assert events
    for event in events:
        functions = _handled_by(event)
        assert functions, event
        assert {function for function, file in shown if file == event} & functions, event
    assert {file for _, file in shown} <= set(events)  # no line for an event that is gone
    for function, file in shown:  # no line sends an event to a function that does not take it
        assert function in _handled_by(file), (function, file)


def _settings_variables() -> set[str]:
    """The environment variables every function's settings model reads."""
    return {name for model in FUNCTION_SETTINGS.values() for name in model.variables()}


def _template_variables() -> set[str]:
    """Every environment variable template.yaml gives a function (Globals included)."""
    environments = [TEMPLATE.get("Globals", {}).get("Function", {}).get("Environment", {})]
    environments += [function.get("Environment", {}) for function in _functions().values()]
    return {name for environment in environments for name in environment.get("Variables", {})}


def test_every_setting_and_template_parameter_is_documented():
    settings = _settings_variables()
    assert len(settings) >= 20, settings  # the models were found
    for name in sorted(settings | _template_variables()):
        assert f"`{name}`" in MANUAL, name
    for parameter in TEMPLATE["Parameters"]:
        assert f"`{parameter}`" in MANUAL, parameter


def test_every_cli_command_is_documented():
    group = typer.main.get_command(app)

    def commands(command: object, prefix: str) -> list[str]:
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            return [
                path
                for name, sub in command.commands.items()
                for path in commands(sub, f"{prefix} {name}")
            ]
        return [prefix]

    paths = commands(group, "cardmaker")
    assert len(paths) >= 8
    for path in paths:
        assert f"`{path}" in MANUAL or f"\n{path} " in MANUAL or f"$ {path}" in MANUAL, path


def test_the_readme_is_a_front_door():
    lines = README.splitlines()
    assert len(lines) <= README_MAX_LINES, len(lines)
    for page in MANUAL_PAGES:  # every manual page is one click away
        assert f"]({page})" in README or f"]({page}#" in README, page


def _markdown_files() -> list[Path]:
    return [README_PATH, *sorted((REPO / "docs").rglob("*.md"))]


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def _links(text: str) -> list[str]:
    prose = _FENCE.sub("", text)  # a diagram or a sample is not a link
    return [target for target in _LINK.findall(prose) if "://" not in target]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, and a
    counter on repeats."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", _FENCE.sub("", markdown), re.MULTILINE):
        text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
        slug = "".join(
            char for char in text if char in " -_" or unicodedata.category(char)[0] in {"L", "N"}
        ).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path):
    text = page.read_text(encoding="utf-8")
    for link in _links(text):
        if link.startswith("mailto:"):
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: {link}"
        assert target.is_relative_to(REPO), f"{page.name}: {link}"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target.read_text(encoding="utf-8")), f"{page.name}: {link}"


def test_the_link_checker_sees_links_and_headings():
    # Given a page with a working link, a broken one, a link in a code sample and headings
    text = (
        "# Operating on AWS\n## The `cardmaker` command\n## Where Cardmaker departs\n"
        "[a](docs/design.md#data-model) [b](missing.md) ![img](x.png)\n"
        "```\n[not a link](nowhere.md)\n## not a heading\n```\n"
    )
    # Then the links outside code are found, and the anchors are GitHub's
    assert _links(text) == ["docs/design.md#data-model", "missing.md"]
    assert _anchors(text) == {
        "operating-on-aws",
        "the-cardmaker-command",
        "where-cardmaker-departs",
    }


def test_every_metric_the_code_emits_is_documented():
    code = REPO / "functions", REPO / "layers" / "shared" / "cardmaker"
    names = {
        name
        for folder in code
        for source in folder.rglob("*.py")
        for name in re.findall(r"add_metric\(\s*name=\"(\w+)\"", source.read_text(encoding="utf-8"))
    }
    assert len(names) >= 3, names
    for name in names:
        assert f"`{name}`" in MANUAL, name
