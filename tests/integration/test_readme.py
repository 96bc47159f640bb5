"""The README is the newcomer's map: it must name every event, setting, parameter and command
that exists, so that it cannot silently fall behind the code."""

from __future__ import annotations

import json
import re

import typer

from cardmaker.settings import FUNCTION_SETTINGS
from cardmaker_cli.main import app
from local.template import REPO, load_template

README = (REPO / "README.md").read_text(encoding="utf-8")
TEMPLATE = load_template()


def _handled_by(event_file: str) -> set[str]:
    """The functions an event file is meant for, from the event itself."""
    event = json.loads((REPO / "events" / event_file).read_text(encoding="utf-8"))
    if "routeKey" in event:
        return {
            name
            for name, function in TEMPLATE["Resources"].items()
            for source in function.get("Properties", {}).get("Events", {}).values()
            if source["Type"] == "HttpApi"
            and f"{source['Properties']['Method']} {source['Properties']['Path']}"
            == event["routeKey"]
        }
    arns = {record["eventSourceARN"] for record in event["Records"]}
    functions = set()
    for name, function in TEMPLATE["Resources"].items():
        for source in function.get("Properties", {}).get("Events", {}).values():
            if source["Type"] == "DynamoDB":
                table = source["Properties"]["Stream"]["Fn::GetAtt"][0]
                if any(f"{table}/stream/" in arn for arn in arns):
                    functions.add(name)
    return functions


def test_every_sample_event_has_its_sam_local_invoke_line():
    shown = set(re.findall(r"sam local invoke (\w+) -e events/(\w+\.json)", README))
    events = sorted(
        path.name for path in (REPO / "events").glob("*.json") if path.name != "env.json"
    )
    assert events
    for event in events:
        functions = _handled_by(event)
        assert functions, event
        assert {function for function, file in shown if file == event} & functions, event
    assert {file for _, file in shown} <= set(events)  # no line for an event that is gone


def test_every_setting_and_template_parameter_is_documented():
    for settings in FUNCTION_SETTINGS.values():
        for name in settings.variables():
            assert f"`{name}`" in README, name
    for parameter in TEMPLATE["Parameters"]:
        assert f"`{parameter}`" in README, parameter


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
        assert f"`{path}" in README or f"\n{path} " in README or f"$ {path}" in README, path
