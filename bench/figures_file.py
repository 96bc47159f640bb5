"""The figures files under ``docs/figures/``: what ``make bench`` and ``make chaos`` measured,
written by the runs themselves so that no figure is ever copied by hand.

A run's modules print their figures as ``name=value`` lines (a note may follow the value
after two spaces: ``ratio=0.91  (goal >= 0.8)``); every other non-empty line is context.
Each module gets a section of its own, headed by when, where and how it ran. A run of some
modules (``python -m chaos load``) replaces their sections and keeps the others as they were.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES_DIR = REPO / "docs" / "figures"
_FIGURE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<rest>.*)$")
_SECTION = "## "
_MAX_CONTEXT_LINES = 40


@dataclass(frozen=True)
class Figure:
    """One ``name=value`` line: the value, and what followed it after two spaces."""

    name: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Machine:
    """Where a run happened: enough to tell whether two files' figures can be compared."""

    python: str
    cores: int | None
    architecture: str
    commit: str

    @classmethod
    def this_one(cls) -> Machine:
        return cls(
            python=f"{platform.python_implementation()} {platform.python_version()}",
            cores=os.cpu_count(),
            architecture=platform.machine(),
            commit=_commit(),
        )


@dataclass(frozen=True)
class Section:
    """One module's figures from one run."""

    module: str
    exit_code: int
    figures: list[Figure] = field(default_factory=list)
    context: list[str] = field(default_factory=list)


def parse_output(lines: Iterable[str]) -> tuple[list[Figure], list[str]]:
    """A module's stdout split into its figures and the rest (context, kept in order)."""
    figures: list[Figure] = []
    context: list[str] = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip()
        match = _FIGURE.match(line)
        if match:
            value, _, note = match["rest"].partition("  ")
            figures.append(Figure(match["name"], value.strip(), note.strip()))
        elif line.strip():
            context.append(line)
    return figures, context


def render_section(section: Section, *, command: str, when: datetime, machine: Machine) -> str:
    """A section of the figures file, in Markdown."""
    outcome = "passed (exit 0)" if section.exit_code == 0 else f"FAILED (exit {section.exit_code})"
    cores = "?" if machine.cores is None else str(machine.cores)
    lines = [
        f"{_SECTION}{section.module}",
        "",
        f"Run {when.astimezone(UTC):%Y-%m-%d %H:%M} UTC by `{command}`: {outcome}; "
        f"{machine.python}, {cores} cores ({machine.architecture}), commit {machine.commit}.",
        "",
        "| figure | value | note |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{f.name}` | {_cell(f.value)} | {_cell(f.note)} |" for f in section.figures]
    if not section.figures:
        lines.append("| (none printed) | | |")
    if section.context:
        shown = section.context[:_MAX_CONTEXT_LINES]
        left = len(section.context) - len(shown)
        lines += ["", "What it printed besides the figures:", "", "```text", *shown]
        if left:
            lines.append(f"... ({left} more lines)")
        lines.append("```")
    return "\n".join(lines) + "\n"


def write_figures(
    path: Path,
    *,
    title: str,
    preamble: str,
    sections: Sequence[Section],
    command: str,
    order: Sequence[str] = (),
    when: datetime | None = None,
    machine: Machine | None = None,
) -> None:
    """Write ``sections`` into the figures file at ``path``, replacing their earlier versions
    and keeping every other module's section as it was; sections follow ``order``, then any
    other module by name."""
    when = when or datetime.now(UTC)
    machine = machine or Machine.this_one()
    kept = read_sections(path) if path.exists() else {}
    for section in sections:
        kept[section.module] = render_section(section, command=command, when=when, machine=machine)
    rank = {module: index for index, module in enumerate(order)}
    modules = sorted(kept, key=lambda module: (rank.get(module, len(rank)), module))
    body = "\n".join(kept[module] for module in modules)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(f"# {title}\n\n{preamble.strip()}\n\n{body}", encoding="utf-8")
    temporary.replace(path)  # a run killed while writing leaves the old file whole


def read_sections(path: Path) -> dict[str, str]:
    """The sections of an existing figures file, by module (the text before the first one,
    title and preamble, is rewritten on every run)."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith(_SECTION):
            current = line[len(_SECTION) :].strip()
            sections[current] = ""
        if current is not None:
            sections[current] += line
    return {module: text.rstrip("\n") + "\n" for module, text in sections.items()}


def run_module(code: str) -> tuple[int, list[str]]:
    """Run ``code`` in a fresh interpreter, echoing its stdout line by line as it comes, and
    return its exit code and the lines (stderr goes straight through)."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}  # progress stays live through the pipe
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=environment,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
    return process.returncode, lines


def shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it (for messages)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"
