"""`make` says what it installs and how long the first run takes, instead of minutes of
silent `pip install --quiet`; `make serve` has its JSON logs one variable away."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(*arguments: str) -> str:
    # -n: the commands make would run, none of them run; -B: as on a fresh clone. Not the
    # outer make's flags and level when the suite runs under `make test` (they would add its
    # "Entering/Leaving directory" lines).
    answer = subprocess.run(
        ["make", "--no-print-directory", "-n", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={key: value for key, value in os.environ.items() if not key.startswith("MAKE")},
    )
    return answer.stdout


def test_the_first_run_says_it_is_installing_and_how_long_it_takes(tmp_path):
    venv = tmp_path / "venv"
    commands = dry_run("-B", f"{venv}/.installed", f"VENV={venv}").splitlines()

    said = [line for line in commands if line.startswith("echo ")]
    assert said, commands
    assert "installing" in said[0]
    assert "first run only: about 2 minutes" in said[0]
    # said before the venv is made and pip starts
    assert commands.index(said[0]) < next(i for i, line in enumerate(commands) if "-m venv" in line)


def test_make_serve_logs_quietly_unless_asked_for_json(tmp_path):
    # -o: the venv counts as installed (nothing to install in a dry run)
    venv = (f"VENV={tmp_path}", "-o", f"{tmp_path}/.installed")
    quiet = dry_run(*venv, "serve").splitlines()[-1]
    as_json = dry_run(*venv, "serve", "LOGS=json").splitlines()[-1]

    assert quiet.endswith("-m local.serve")
    assert as_json.endswith("-m local.serve --json-logs")
