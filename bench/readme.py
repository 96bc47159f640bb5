"""The README's performance section, written from the last run's figures file
(``docs/figures/bench.md``), never by hand: ``make bench`` rewrites it after every run, and
``python -m bench.readme`` rewrites it from the file as it is. A test checks that the README
and the figures file agree.

The section lies between two markers in README.md; it lists every goal the run checked (its
``goal_<figure>=met|missed (value op target)`` line) with the figure beside its baseline, and
says when and where the run was.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.figures_file import FIGURES_DIR, REPO, read_sections

README = REPO / "README.md"
BEGIN = "<!-- performance: written by make bench (bench/readme.py) from docs/figures/bench.md -->"
END = "<!-- performance: end -->"
_GOAL = re.compile(r"^\| `goal_(?P<figure>\w+)` \| (?P<verdict>met|missed) \((?P<text>[^)]*)\) \|")
_FIGURE = re.compile(r"^\| `(?P<name>\w+)` \| (?P<value>[^|]*) \|", re.MULTILINE)
_RUN = re.compile(r"^Run (?P<when>.+? UTC) by `(?P<command>[^`]+)`: (?P<rest>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Checked:
    """One goal of one benchmark, as its section of the figures file records it."""

    module: str
    figure: str
    verdict: str  # met / missed
    comparison: str  # "0.82 >= 0.7"
    beside: list[tuple[str, str]]  # the section's other figures: what the ratio compares
    run: str


def checked_goals(figures_file: Path) -> list[Checked]:
    """Every goal line of every section, in the file's order."""
    found = []
    for module, text in read_sections(figures_file).items():
        run = _RUN.search(text)
        when = f"{run['when']}, {run['rest'].rstrip('.')}" if run else "unknown run"
        figures = [
            (match["name"], match["value"].strip())
            for match in _FIGURE.finditer(text)
            if not match["name"].startswith("goal_")
        ]
        for line in text.splitlines():
            goal = _GOAL.match(line)
            if goal:
                beside = [(name, value) for name, value in figures if name != goal["figure"]]
                found.append(
                    Checked(module, goal["figure"], goal["verdict"], goal["text"], beside, when)
                )
    return found


def render(figures_file: Path) -> str:
    """The section's Markdown, markers included."""
    goals = checked_goals(figures_file)
    met = sum(goal.verdict == "met" for goal in goals)
    lines = [
        BEGIN,
        "",
        f"{met} of {len(goals)} goals met in the last `make bench` run "
        "(ratios against a baseline measured in the same run; every figure, and the machine "
        "each ran on, in [docs/figures/bench.md](docs/figures/bench.md); what they mean in "
        "[docs/figures.md](docs/figures.md)):",
        "",
        "| benchmark | goal | verdict | measured beside |",
        "| --- | --- | --- | --- |",
    ]
    for goal in goals:
        beside = ", ".join(f"`{name}` {value}" for name, value in goal.beside)
        verdict = "met" if goal.verdict == "met" else "**missed**"
        lines.append(
            f"| `{goal.module}` | `{goal.figure}`: {goal.comparison} | {verdict} | {beside} |"
        )
    runs = sorted({goal.run for goal in goals})
    lines += ["", "Runs: " + "; ".join(runs) + "." if runs else "No run recorded.", "", END]
    return "\n".join(lines)


def rewritten(readme: str, section: str) -> str:
    """``readme`` with its performance section replaced by ``section``."""
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + section + readme[end:]


def write(figures_file: Path = FIGURES_DIR / "bench.md", readme: Path = README) -> None:
    text = readme.read_text(encoding="utf-8")
    readme.write_text(rewritten(text, render(figures_file)), encoding="utf-8")


if __name__ == "__main__":
    write()
    sys.exit(0)
