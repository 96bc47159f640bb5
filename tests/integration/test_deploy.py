"""The deploy a user follows (docs/deploy.md): samconfig.toml and the make targets around the
project's own SAM CLI. Nothing here reaches AWS: the config is read as the SAM CLI reads it,
validated by `sam validate`, and the targets are run with `make -n` or with a stand-in `sam`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from local.template import REPO, TEMPLATE_PATH, load_template

TEMPLATE = load_template()
SAMCONFIG_PATH = REPO / "samconfig.toml"
SAMCONFIG = tomllib.loads(SAMCONFIG_PATH.read_text(encoding="utf-8"))
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def _section(command: str) -> dict[str, Any]:
    section: dict[str, Any] = SAMCONFIG["default"].get(command, {}).get("parameters", {})
    return section


def _overrides(command: str) -> dict[str, str]:
    """A section's parameter_overrides (`Name=value Name=value`), as a mapping."""
    text = _section(command).get("parameter_overrides", "")
    return dict(pair.split("=", 1) for pair in text.split())


def _retained() -> set[str]:
    return {
        name
        for name, resource in TEMPLATE["Resources"].items()
        if resource.get("DeletionPolicy") == "Retain"
    }


def test_samconfig_is_the_sam_cli_format_with_the_promised_settings():
    assert SAMCONFIG["version"] == 0.1
    assert _section("build") == {"cached": True, "parallel": True}
    assert _section("validate") == {"lint": True}
    deploy = _section("deploy")
    assert deploy["stack_name"]
    assert (deploy["resolve_s3"], deploy["confirm_changeset"]) == (True, True)
    assert _section("sync")["watch"] is True
    assert _section("logs")["tail"] is True
    # the region is the user's profile's: one file for any account
    assert not any("region" in _section(command) for command in SAMCONFIG["default"])


def test_the_deploy_capabilities_are_what_the_template_needs():
    # SAM's transform makes the functions' roles with generated names: CAPABILITY_IAM. A
    # named IAM resource would need CAPABILITY_NAMED_IAM, a nested application or another
    # macro CAPABILITY_AUTO_EXPAND: the template has none, so neither is granted.
    named = {
        name
        for name, resource in TEMPLATE["Resources"].items()
        if resource["Type"].startswith("AWS::IAM::")
        and {"RoleName", "PolicyName", "ManagedPolicyName", "UserName", "GroupName"}
        & set(resource.get("Properties", {}))
    }
    named |= {
        name
        for name, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and "RoleName" in resource.get("Properties", {})
    }
    assert named == set()
    assert TEMPLATE["Transform"] == "AWS::Serverless-2016-10-31"
    assert not [
        r for r in TEMPLATE["Resources"].values() if r["Type"] == "AWS::Serverless::Application"
    ]
    assert _section("deploy")["capabilities"] == "CAPABILITY_IAM"
    assert _section("sync")["capabilities"] == "CAPABILITY_IAM"


def test_only_deploy_logs_and_delete_name_the_production_stack():
    # sam sync skips change sets: it must never find the production stack by default
    production = _section("deploy")["stack_name"]
    # (`sam deploy --guided` saves the region there, never the stack)
    assert "stack_name" not in _section("global")
    assert "stack_name" not in _section("sync")
    assert _section("logs")["stack_name"] == _section("delete")["stack_name"] == production


@pytest.mark.parametrize("command", sorted(SAMCONFIG["default"]))
def test_parameter_overrides_name_only_template_parameters_with_allowed_values(command):
    parameters = TEMPLATE["Parameters"]
    for name, value in _overrides(command).items():
        assert name in parameters, (command, name)
        spec = parameters[name]
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), (command, name, value)
        if "AllowedValues" in spec:
            assert value in [str(allowed) for allowed in spec["AllowedValues"]], (command, name)


def test_a_development_stack_talks_to_the_sandbox():
    assert _overrides("sync")["TopGatewayUrl"] == "https://gw.api.tbsandbox.com/router/rest"


def test_sam_validate_lints_with_the_committed_config():
    sam = os.environ.get("SAM_CLI") or shutil.which("sam")
    assert sam, "the SAM CLI is missing: run the tests with `make test`, which installs it"
    result = subprocess.run(
        [
            sam,
            "validate",
            "--config-file",
            str(SAMCONFIG_PATH),
            "--region",
            "us-east-1",
            "--template-file",
            str(TEMPLATE_PATH),
            "--debug",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout
    assert "--lint" in result.stderr  # the config file's lint = true was applied


def _make(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert MAKE
    return subprocess.run(
        [MAKE, "--no-print-directory", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={key: value for key, value in os.environ.items() if not key.startswith("MAKE")},
    )


def _sam_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(".venv-sam/bin/sam ")]


@needs_make
def test_the_first_deploy_is_guided_and_the_next_ones_are_not(tmp_path):
    # -o build: `make build` is not what is under test here (nor run)
    first = _make("-n", "-o", "build", "deploy")
    assert first.returncode == 0, first.stderr
    assert _sam_lines(first.stdout) == [
        ".venv-sam/bin/sam deploy --config-file samconfig.toml --guided"
    ]
    answered = tmp_path / "samconfig.toml"
    answered.write_text(
        SAMCONFIG_PATH.read_text(encoding="utf-8").replace(
            "[default.deploy.parameters]\n",
            '[default.deploy.parameters]\nparameter_overrides = "TopAppKey=12345678"\n',
        ),
        encoding="utf-8",
    )
    later = _make("-n", "-o", "build", "deploy", f"SAMCONFIG={answered}")
    assert _sam_lines(later.stdout) == [f".venv-sam/bin/sam deploy --config-file {answered}"]
    again = _make("-n", "-o", "build", "deploy", f"SAMCONFIG={answered}", "GUIDED=1")
    assert _sam_lines(again.stdout) == [
        f".venv-sam/bin/sam deploy --config-file {answered} --guided"
    ]


@needs_make
def test_deploy_builds_first():
    database = _make("-p", "-n", "-o", "build", "deploy").stdout
    assert re.search(r"^deploy: build\b", database, re.MULTILINE)


@needs_make
def test_logs_tail_the_stack_or_one_function():
    assert _sam_lines(_make("-n", "logs").stdout) == [
        ".venv-sam/bin/sam logs --config-file samconfig.toml --tail"
    ]
    assert _sam_lines(_make("-n", "logs", "FUNCTION=CardDeliveryFunction").stdout) == [
        ".venv-sam/bin/sam logs --config-file samconfig.toml --tail --name CardDeliveryFunction"
    ]


@needs_make
@pytest.mark.parametrize(
    ("arguments", "refusal"),
    [
        ((), "needs SYNC_STACK"),
        ((f"SYNC_STACK={_section('deploy')['stack_name']}",), "refuses"),
        (("SYNC_STACK=cardmaker-prod", "STACK=cardmaker-prod"), "refuses"),
    ],
)
def test_sync_refuses_without_a_development_stack_or_with_the_production_one(
    arguments, refusal, tmp_path
):
    # run for real (no -n): the refusal comes before anything is installed or called
    result = _make("sync", *arguments, f"SAM_VENV={tmp_path / 'no-venv'}")
    assert result.returncode != 0
    assert refusal in result.stdout
    assert not (tmp_path / "no-venv").exists()


@needs_make
def test_sync_watches_a_development_stack():
    assert _sam_lines(_make("-n", "sync", "SYNC_STACK=cardmaker-dev").stdout) == [
        ".venv-sam/bin/sam sync --config-file samconfig.toml --stack-name cardmaker-dev --watch"
    ]


@needs_make
def test_delete_says_what_it_keeps_before_deleting(tmp_path):
    venv = tmp_path / "sam"
    venv.mkdir()
    (venv / ".installed").touch()
    result = _make("-s", "delete", f"SAM_VENV={venv}", "SAM=echo sam-called")
    assert result.returncode == 0, result.stderr
    before, _, after = result.stdout.partition("sam-called delete --config-file samconfig.toml")
    assert after.strip() == ""
    kept = set(re.findall(r"\b[A-Z][A-Za-z]+(?:Table|Key|Secret)\b", before))
    assert (
        kept
        == _retained()
        == {
            "OrdersTable",
            "CardsTable",
            "DeliveriesTable",
            "EticketTable",
            "AuditTable",
            "CardDataKey",
            "CardNumberSecret",
            "TopSecret",
        }
    )


GUIDE = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")


def test_the_guide_names_every_parameter_the_guided_deploy_asks_for():
    for parameter in TEMPLATE["Parameters"]:
        assert f"`{parameter}`" in GUIDE, parameter


def test_the_guide_says_what_a_delete_keeps():
    deleting = GUIDE[GUIDE.index("## Deleting") :]
    for name in sorted(_retained()):
        assert f"`{name}`" in deleting, name


def test_the_guide_runs_the_make_targets_and_the_smoke_order_is_a_test_order():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in ("deploy", "sync", "logs", "delete"):
        assert f"make {target}" in GUIDE, target
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    smoke = re.findall(r"cardmaker --stack \S+ platform send-order [^\n]*", GUIDE)
    assert smoke
    assert all("--own-sign daily" in line for line in smoke)


def test_no_page_tells_to_paste_a_secret_on_the_command_line():
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    for page in pages:
        text = " ".join(page.read_text(encoding="utf-8").split())
        for found in re.finditer(r"--secret-string", text):
            # only the guide's warning against it
            assert page.name == "deploy.md", page
            assert "Do not paste" in text[max(0, found.start() - 80) : found.start()], page
