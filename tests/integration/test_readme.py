"""The docs are the newcomer's map. The README is the front door: short, naming every
function, and every link in it and in `docs/` leads somewhere. The operator manual names every
event's `sam local invoke` line, every variable the functions read, every template parameter,
every `cardmaker` command, every alarm and every metric (with the functions that emit it), so
that it cannot silently fall behind the code; and no page names a function or an alarm the
template does not have."""

from __future__ import annotations

import ast
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
    "docs/deploy.md",
    "docs/events.md",
    "docs/spi-reference.md",
    "docs/design.md",
    "docs/figures.md",
    "docs/testing.md",
)


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
    if event.get("detail-type") == "Scheduled Event":
        return {
            name
            for name, function in _functions().items()
            if any(source["Type"] == "Schedule" for source in function.get("Events", {}).values())
        }
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


def _resources(kind: str) -> set[str]:
    return {name for name, resource in TEMPLATE["Resources"].items() if resource["Type"] == kind}


def _pages() -> dict[str, str]:
    return {
        str(path.relative_to(REPO)): path.read_text(encoding="utf-8") for path in _markdown_files()
    }


def test_every_function_is_named_in_the_readme():
    functions = _resources("AWS::Serverless::Function")
    assert len(functions) >= 4, functions
    for name in sorted(functions):
        assert f"`{name}`" in README, name


def test_every_alarm_is_named_in_the_operator_manual():
    alarms = _resources("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 5, alarms
    for name in sorted(alarms):
        assert f"`{name}`" in MANUAL, name


def test_no_page_names_a_function_or_an_alarm_the_template_does_not_have():
    # Logical ids only: `lambda:InvokeFunction` is an IAM action, not a function
    function_name = re.compile(r"(?<![:\w])([A-Z]\w*Function)\b")
    alarm_name = re.compile(r"\b([A-Z]\w*Alarm)\b")
    functions = _resources("AWS::Serverless::Function")
    alarms = _resources("AWS::CloudWatch::Alarm")
    for page, text in _pages().items():
        assert set(function_name.findall(text)) <= functions, page
        assert set(alarm_name.findall(text)) <= alarms, page


def _metric_names(source: str) -> set[str]:
    """The metric names a module passes to ``add_metric``: string literals, or the literals a
    name, a conditional or a lookup in a dict of names can stand for."""
    tree = ast.parse(source)
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            assigned.setdefault(node.target.id, []).append(node.value)

    def names(expression: ast.expr | None) -> set[str]:
        if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
            return {expression.value}
        if isinstance(expression, ast.Name):
            return {name for value in assigned.get(expression.id, []) for name in names(value)}
        if isinstance(expression, ast.IfExp):
            return names(expression.body) | names(expression.orelse)
        if isinstance(expression, ast.Subscript):
            return names(expression.value)
        if isinstance(expression, ast.Dict):
            return {name for value in expression.values for name in names(value)}
        return set()

    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric":
            name = next((k.value for k in node.keywords if k.arg == "name"), None)
            resolved = names(name if name is not None else node.args[0])
            assert resolved, ast.unparse(node)  # a metric name this test cannot read
            found |= resolved
    return found


def _emitted_metrics() -> dict[str, set[str]]:
    """Each metric the code emits, with the functions that emit it (Powertools' ``ColdStart``
    for those whose handler asks for it)."""
    emitted: dict[str, set[str]] = {}
    for function, properties in _functions().items():
        for source in (REPO / properties["CodeUri"]).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            for name in _metric_names(text):
                emitted.setdefault(name, set()).add(function)
            if "capture_cold_start_metric=True" in text:
                emitted.setdefault("ColdStart", set()).add(function)
    layer = REPO / "layers" / "shared" / "cardmaker"
    for source in layer.rglob("*.py"):  # the layer's metrics: any function may emit them
        for name in _metric_names(source.read_text(encoding="utf-8")):
            emitted.setdefault(name, set()).update(_functions())
    return emitted


def _documented_metrics() -> dict[str, set[str]]:
    """The operator manual's metrics table: each metric with the functions it names."""
    lines = [line.strip() for line in MANUAL.splitlines()]
    start = lines.index("| metric | function | counts |") + 2
    documented: dict[str, set[str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        metrics, functions = line.split("|")[1:3]
        for name in re.findall(r"`(\w+)`", metrics):
            documented[name] = set(re.findall(r"`(\w+)`", functions))
    return documented


def test_the_metrics_table_names_every_metric_the_code_emits_and_no_other():
    emitted = _emitted_metrics()
    assert {"OrderReceived", "DeliveryDelivered", "ColdStart"} <= set(emitted), emitted

    # The documented metrics are exactly the emitted ones, each with the functions that emit it
    assert _documented_metrics() == emitted


def test_metric_names_are_read_from_literals_conditionals_and_tables():
    source = (
        "NAMES = {1: 'FromTable'}\n"
        "def f(flag, key):\n"
        "    event = 'Yes' if flag else 'No'\n"
        "    metrics.add_metric(name=event, unit=1, value=1)\n"
        "    metrics.add_metric(name=NAMES[key], unit=1, value=1)\n"
        "    metrics.add_metric(name='Plain', unit=1, value=1)\n"
    )
    assert _metric_names(source) == {"Yes", "No", "FromTable", "Plain"}
