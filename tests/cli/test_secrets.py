"""`cardmaker secrets`: the TOP secret's fields from stdin or a hidden prompt, merged into the
local stack's TopSecret (moto), never from argv, never shown; then the SPI function signs
with what was set."""

from __future__ import annotations

import json
import logging
import os
import pty
import select
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cardmaker import runtime
from cardmaker_cli.samples import DEMO_SECRET
from tests.cli.conftest import json_output

NEW_APP_SECRET = "n3w-app-secret-Zq81"
NEW_NOTICE_SECRET = "n0tice-secret-Kp27"
NEW_SESSION_KEY = "r3newed-session-Vb40"
ARGV_SECRET = "s3cr3t-on-argv-Wm55"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TopSecret:
    client: Any
    secret_id: str

    def value(self) -> Any:
        return json.loads(self.raw())

    def raw(self) -> str:
        return self.client.get_secret_value(SecretId=self.secret_id)["SecretString"]

    def put(self, text: str) -> None:
        self.client.put_secret_value(SecretId=self.secret_id, SecretString=text)

    def versions(self) -> int:
        return len(self.client.list_secret_version_ids(SecretId=self.secret_id)["Versions"])


@pytest.fixture
def top_secret(local_stack, monkeypatch):
    """The stack's TopSecret, put back as it was after the test (the stack is shared), with
    the functions' cached reads dropped."""
    secret = TopSecret(local_stack.client("secretsmanager"), local_stack.outputs()["TopSecretArn"])
    before = secret.raw()
    yield secret
    secret.put(before)
    runtime.reset()


def assert_never_shown(result, *values: str, logs: str = "") -> None:
    for value in values:
        assert value not in result.output
        assert value not in logs


# --- stdin ----------------------------------------------------------------------------------


def test_stdin_sets_the_fields_given_and_keeps_the_others(cli, top_secret, caplog):
    before = top_secret.value()
    assert before["session_key"]  # the local stack's demo session
    caplog.set_level(logging.DEBUG)  # botocore logs request and response bodies at DEBUG

    result = cli(
        "secrets", "set", "--json",
        input=json.dumps({"app_secret": NEW_APP_SECRET, "notice_secret": NEW_NOTICE_SECRET}),
    )  # fmt: skip
    logs = caplog.text  # the command's (the checks below read the secret themselves)

    assert result.exit_code == 0, result.output
    after = top_secret.value()
    assert after == {
        **before,
        "app_secret": NEW_APP_SECRET,
        "notice_secret": NEW_NOTICE_SECRET,
    }
    answer = json_output(result)
    assert answer["changed"] == ["app_secret", "notice_secret"]
    assert answer["secret"] == top_secret.secret_id
    current = top_secret.client.describe_secret(SecretId=top_secret.secret_id)
    assert answer["version_id"] in current["VersionIdsToStages"]
    assert "AWSCURRENT" in current["VersionIdsToStages"][answer["version_id"]]
    assert_never_shown(result, NEW_APP_SECRET, NEW_NOTICE_SECRET, logs=logs)


def test_the_human_report_names_the_fields_and_the_version_only(cli, top_secret):
    result = cli("secrets", "set", "--session-key", input='{"session_key": "fresh-sess-7731"}')

    assert result.exit_code == 0, result.output
    assert "session_key set in" in result.stdout
    assert "version" in result.stdout
    assert top_secret.value()["session_key"] == "fresh-sess-7731"
    assert_never_shown(result, "fresh-sess-7731")


def test_after_secrets_set_the_spi_verifies_calls_signed_with_the_new_secret(cli, top_secret):
    # Given the platform's secret, set through the command
    stdin = json.dumps({"app_secret": NEW_APP_SECRET})
    assert cli("secrets", "set", "--app-secret", input=stdin).exit_code == 0
    # when the SPI function reads the secret again (a cold start, or SECRET_MAX_AGE_SECONDS)
    runtime.reset()

    # Then a call signed with the new secret is accepted, one signed with the old refused
    new = cli(
        "platform", "send-order", "--card-order-id", "27201",
        env={"TOP_APP_KEY": "12345678", "TOP_APP_SECRET": NEW_APP_SECRET},
    )  # fmt: skip
    assert new.exit_code == 0, new.output
    assert '"success":true' in new.stdout
    old = cli(
        "platform", "send-order", "--card-order-id", "27202",
        env={"TOP_APP_KEY": "12345678", "TOP_APP_SECRET": DEMO_SECRET},
    )  # fmt: skip
    assert old.exit_code == 1
    assert "INVALID_SIGNATURE" in old.stdout


def test_after_secrets_set_deliveries_sign_with_the_new_secret_and_session(
    cli, local_stack, top_secret
):
    # Given the platform's new secret and a renewed session, set through the command, and a
    # gateway that takes only them from now on
    gateway = local_stack.top_gateway
    stdin = json.dumps({"app_secret": NEW_APP_SECRET, "session_key": NEW_SESSION_KEY})
    assert cli("secrets", "set", input=stdin).exit_code == 0
    gateway.rotate(app_secret=NEW_APP_SECRET, session_key=NEW_SESSION_KEY)
    try:
        # an order signed with the new secret, generated
        runtime.reset()
        sent = cli(
            "platform", "send-order", "--card-order-id", "27203", "--template", "3010030E02:2",
            env={"TOP_APP_KEY": "12345678", "TOP_APP_SECRET": NEW_APP_SECRET},
        )  # fmt: skip
        assert sent.exit_code == 0, sent.output
        local_stack.wait_idle(60)

        # When an e-voucher delivery (ma.send: sign and session) is asked for
        delivered = cli(
            "deliveries", "create", "eticket", "--order", "CM-daily-27203",
            "--template", "3010030E02", "--quantity", "1", "--outer-id", "SECRETS-ET-1",
            "--token", "tok-secrets-1", "--wait",
        )  # fmt: skip
    finally:
        gateway.rotate(
            app_secret=local_stack.top.app_secret, session_key=local_stack.top.session_key
        )

    # Then it went through with the new credentials
    assert delivered.exit_code == 0, delivered.output
    assert "DELIVERED" in delivered.stdout
    sends = [
        call
        for call in gateway.calls_of("taobao.eticket.merchant.ma.send")
        if call.business_id == "SECRETS-ET-1"
    ]
    assert sends
    assert sends[-1].sign_valid
    assert sends[-1].params["session"] == NEW_SESSION_KEY
    assert sends[-1].answer is not None
    assert "error_response" not in sends[-1].answer


@pytest.mark.parametrize(
    ("stdin", "flags", "says"),
    [
        ('{"app_secret": ""}', [], "app_secret is empty or blank"),
        ('{"app_secret": "   "}', [], "app_secret is empty or blank"),
        ('{"app_secret": " padded-Wm55"}', [], "starts or ends with spaces"),
        ('{"app_secret": "line-Wm55\\nbreak"}', [], "control character"),
        ('{"app_secret": "tab-Wm55\\tx"}', [], "control character"),
        ('{"app_secret": 123455}', [], "must be a string"),
        ('{"app_secret": "ok-Wm55", "appsecret": "x-Wm55"}', [], "unknown field(s) appsecret"),
        ('{"session_key": "ok-Wm55"}', ["--app-secret"], "exactly the flagged fields"),
        ("app_secret=raw-Wm55", [], "stdin is not a JSON object"),
        ('["list-Wm55"]', [], "stdin is not a JSON object"),
        ("{}", [], "no value given"),
        ("", [], "stdin is not a JSON object"),
    ],
)
def test_a_bad_value_on_stdin_is_refused_and_nothing_is_written(
    cli, top_secret, stdin, flags, says
):
    before, versions = top_secret.raw(), top_secret.versions()

    result = cli("secrets", "set", *flags, input=stdin)

    assert result.exit_code == 1
    assert says in result.stderr
    assert "Traceback" not in result.output
    assert "Wm55" not in result.output  # no value, nor a part of one, is quoted
    assert top_secret.raw() == before
    assert top_secret.versions() == versions


# --- argv -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [f"--app-secret={ARGV_SECRET}"],
        ["--app-secret", ARGV_SECRET],
        [ARGV_SECRET],
        [f"--session-key={ARGV_SECRET}"],
        ["--secret", ARGV_SECRET],
    ],
)
def test_a_secret_on_the_command_line_is_refused_and_never_echoed(cli, top_secret, args):
    before, versions = top_secret.raw(), top_secret.versions()

    result = cli("secrets", "set", *args, input=json.dumps({"app_secret": NEW_APP_SECRET}))

    assert result.exit_code == 2
    assert "takes no values on the command line" in result.output
    assert_never_shown(result, ARGV_SECRET, NEW_APP_SECRET)
    assert top_secret.raw() == before
    assert top_secret.versions() == versions


# --- the current value ----------------------------------------------------------------------


def test_a_current_value_that_is_not_a_json_object_is_kept_unless_replace(cli, top_secret):
    top_secret.put("plain-text-secret-Wm55")
    versions = top_secret.versions()
    stdin = json.dumps({"app_secret": NEW_APP_SECRET})

    refused = cli("secrets", "set", input=stdin)

    assert refused.exit_code == 1
    assert "not a JSON object: nothing written" in refused.stderr
    assert "--replace" in refused.stderr
    assert_never_shown(refused, "plain-text-secret-Wm55", NEW_APP_SECRET)
    assert top_secret.raw() == "plain-text-secret-Wm55"
    assert top_secret.versions() == versions

    replaced = cli("secrets", "set", "--replace", input=stdin)

    assert replaced.exit_code == 0, replaced.output
    assert top_secret.value() == {"app_secret": NEW_APP_SECRET}


def test_show_lists_which_fields_are_set_never_their_values(cli, top_secret):
    top_secret.put(json.dumps({"app_secret": "shown-Wm55", "session_key": "", "extra": "x-Wm55"}))

    result = cli("secrets", "show", "--json")

    assert result.exit_code == 0, result.output
    assert json_output(result)["fields"] == {
        "app_secret": True,
        "session_key": False,
        "notice_secret": False,
        "extra": True,
    }
    table = cli("secrets", "show")
    assert "app_secret" in table.stdout
    assert "empty" in table.stdout
    assert "Wm55" not in result.output + table.output


# --- a deployed stack, found by its outputs -------------------------------------------------


def test_a_stack_named_by_stack_is_found_by_its_cloudformation_outputs(
    cli, local_stack, top_secret, monkeypatch
):
    # Given a CloudFormation stack (moto) whose TopSecretArn output names the secret
    session = local_stack.session()
    cloudformation = session.client("cloudformation", endpoint_url=local_stack.moto_url)
    cloudformation.create_stack(
        StackName="cardmaker-secrets-test",
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"TopSecretArn": {"Value": top_secret.secret_id}},
            }
        ),
    )
    for name, value in {
        "AWS_ENDPOINT_URL": local_stack.moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)

    result = cli(
        "--stack", "cardmaker-secrets-test", "--region", "us-east-1",
        "secrets", "set", "--notice-secret",
        input=json.dumps({"notice_secret": NEW_NOTICE_SECRET}),
    )  # fmt: skip

    cloudformation.delete_stack(StackName="cardmaker-secrets-test")
    assert result.exit_code == 0, result.output
    assert top_secret.value()["notice_secret"] == NEW_NOTICE_SECRET
    assert_never_shown(result, NEW_NOTICE_SECRET)


# --- the hidden prompt, on a real terminal --------------------------------------------------


class Terminal:
    """The command run on a pseudo-terminal (its controlling tty: getpass reads there)."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'layers' / 'shared'}{os.pathsep}{REPO}"}
        command = [sys.executable, "-c", "from cardmaker_cli.main import main; main()", *args]
        with warnings.catch_warnings():
            # Python 3.12+ warns on forking a threaded process (the local stack's threads):
            # the child only changes directory and execs, touching no lock another thread holds.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.chdir(REPO)
            os.execve(sys.executable, command, env)
        self.screen = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            ready, _, _ = select.select([self.fd], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"{text!r} never shown; the screen: {self.screen!r}")
            self.screen += self._read()

    def type(self, line: str) -> None:
        """Typed once the prompt is shown in full: getpass turns echo off, flushing what was
        typed before, and only then writes the prompt's last character."""
        os.write(self.fd, (line + "\n").encode())

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                self.screen += self._read()
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.screen += self._drain()
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError(f"the command did not end; the screen: {self.screen!r}")

    def _read(self) -> str:
        try:
            return os.read(self.fd, 4096).decode(errors="replace")
        except OSError:  # the child closed the terminal
            return ""

    def _drain(self) -> str:
        text = ""
        while select.select([self.fd], [], [], 0.1)[0]:
            chunk = self._read()
            if not chunk:
                break
            text += chunk
        return text


def test_the_prompt_asks_each_field_hidden_twice_and_an_empty_answer_keeps_it(
    state_file, top_secret
):
    before = top_secret.value()
    terminal = Terminal("--local-state", str(state_file), "secrets", "set")

    terminal.expect("app_secret (empty: keep): ")
    terminal.type(NEW_APP_SECRET)
    terminal.expect("app_secret again: ")
    terminal.type(NEW_APP_SECRET)
    terminal.expect("session_key (empty: keep): ")
    terminal.type("")  # kept
    terminal.expect("notice_secret (empty: keep): ")
    terminal.type(NEW_NOTICE_SECRET)
    terminal.expect("notice_secret again: ")
    terminal.type(NEW_NOTICE_SECRET)

    assert terminal.finish() == 0, terminal.screen
    assert "app_secret, notice_secret set in" in terminal.screen
    assert NEW_APP_SECRET not in terminal.screen  # not echoed as typed, nor printed
    assert NEW_NOTICE_SECRET not in terminal.screen
    assert top_secret.value() == {
        **before,
        "app_secret": NEW_APP_SECRET,
        "notice_secret": NEW_NOTICE_SECRET,
    }


def test_two_different_entries_at_the_prompt_write_nothing(state_file, top_secret):
    before, versions = top_secret.raw(), top_secret.versions()
    terminal = Terminal("--local-state", str(state_file), "secrets", "set", "--app-secret")

    terminal.expect("app_secret (empty: keep): ")
    terminal.type(NEW_APP_SECRET)
    terminal.expect("app_secret again: ")
    terminal.type("typo-" + NEW_APP_SECRET)

    assert terminal.finish() == 1, terminal.screen
    assert "the two app_secret entries differ: nothing written" in terminal.screen
    assert NEW_APP_SECRET not in terminal.screen
    assert top_secret.raw() == before
    assert top_secret.versions() == versions


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("   ", "app_secret is empty or blank"),
        ("tab\there-Wm55", "holds a control character (a newline, a tab...)"),
    ],
)
def test_a_bad_value_at_the_prompt_is_refused_and_nothing_is_written(
    state_file, top_secret, typed, says
):
    before, versions = top_secret.raw(), top_secret.versions()
    terminal = Terminal("--local-state", str(state_file), "secrets", "set", "--app-secret")

    terminal.expect("app_secret (empty: keep): ")
    terminal.type(typed)

    assert terminal.finish() == 1, terminal.screen
    assert f"{says}: nothing written" in terminal.screen
    assert "Wm55" not in terminal.screen
    assert top_secret.raw() == before
    assert top_secret.versions() == versions
