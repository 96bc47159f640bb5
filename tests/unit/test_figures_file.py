"""The figures files are written by the runs from their ``name=value`` lines, never by hand:
the writer is fed given lines here (no benchmark or scenario runs)."""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bench.__main__ as bench_main
import chaos.__main__ as chaos_main
from bench.figures_file import (
    Figure,
    Machine,
    Section,
    parse_output,
    read_sections,
    write_figures,
)
from local.template import REPO

MACHINE = Machine(python="CPython 3.13.1", cores=2, architecture="arm64", commit="abc1234")
WHEN = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
GENERATION_OUTPUT = [
    "generation: 200000 cards, best of 3\n",
    "generate_cards_per_s=594000\n",
    "generate_vs_aesgcm_floor_ratio=0.35  (goal >= 0.5)\n",
    "\n",
    "# healthy run: 12 writes, 3 TOP calls\n",
    "statuses=200:40 400:373\n",
    "goal spi_vs_put_item_ratio <= 2.0: met\n",
]


def test_name_value_lines_are_the_figures_and_the_rest_is_context():
    # When a module's output is read
    figures, context = parse_output(GENERATION_OUTPUT)

    # Then each name=value line is a figure (a note after two spaces kept apart, a value with
    # single spaces kept whole), and every other non-empty line is context, in order
    assert figures == [
        Figure("generate_cards_per_s", "594000"),
        Figure("generate_vs_aesgcm_floor_ratio", "0.35", "(goal >= 0.5)"),
        Figure("statuses", "200:40 400:373"),
    ]
    assert context == [
        "generation: 200000 cards, best of 3",
        "# healthy run: 12 writes, 3 TOP calls",
        "goal spi_vs_put_item_ratio <= 2.0: met",
    ]


def test_the_file_is_written_from_given_lines_with_when_where_and_how(tmp_path: Path):
    # Given a benchmark's output
    figures, context = parse_output(GENERATION_OUTPUT)
    path = tmp_path / "docs" / "figures" / "bench.md"

    # When its figures are written
    write_figures(
        path,
        title="Benchmark figures",
        preamble="Written by `make bench`.",
        sections=[Section("bench.generation", 0, figures, context)],
        command="make bench",
        when=WHEN,
        machine=MACHINE,
    )

    # Then the file holds the run's date, command, Python, cores and commit, and the figures
    text = path.read_text(encoding="utf-8")
    assert text.startswith(
        "# Benchmark figures\n\nWritten by `make bench`.\n\n## bench.generation\n"
    )
    assert (
        "Run 2026-11-22 12:30 UTC by `make bench`: passed (exit 0); CPython 3.13.1, 2 cores "
        "(arm64), commit abc1234." in text
    )
    assert "| `generate_cards_per_s` | 594000 |" in text
    assert "| `generate_vs_aesgcm_floor_ratio` | 0.35 | (goal >= 0.5) |" in text
    assert "| `statuses` | 200:40 400:373 |" in text
    assert "# healthy run: 12 writes, 3 TOP calls" in text
    assert not list(path.parent.glob(".*.part"))  # written whole, then moved into place


def test_a_partial_run_replaces_only_its_own_sections(tmp_path: Path):
    # Given a file with two scenarios' sections, one of them transcribed by hand
    path = tmp_path / "chaos.md"
    path.write_text(
        "# Chaos figures\n\nold preamble\n\n"
        "## crashes\n\nFrom the previous run.\n\n| `gaps` | 0 | |\n\n"
        "## load\n\nFrom the previous run.\n\n| `spi_calls` | 2006 | |\n",
        encoding="utf-8",
    )

    # When a run of one scenario writes its figures (and it failed)
    write_figures(
        path,
        title="Chaos figures",
        preamble="new preamble",
        sections=[Section("load", 1, [Figure("spi_calls", "1999")], [])],
        command="python -m chaos load",
        when=WHEN,
        machine=MACHINE,
    )

    # Then that scenario's section is replaced (marked FAILED), the other is kept as it was
    sections = read_sections(path)
    assert list(sections) == ["crashes", "load"]
    assert sections["crashes"] == "## crashes\n\nFrom the previous run.\n\n| `gaps` | 0 | |\n"
    assert "| `spi_calls` | 1999 |" in sections["load"]
    assert "2006" not in sections["load"]
    assert "by `python -m chaos load`: FAILED (exit 1)" in sections["load"]
    assert path.read_text(encoding="utf-8").startswith("# Chaos figures\n\nnew preamble\n\n")


def test_make_chaos_writes_every_scenarios_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # Given scenarios that print figures, one of them breaking an invariant
    def run(code: str) -> tuple[int, list[str]]:
        found = re.search(r"chaos\.(\w+) as scenario", code)
        assert found
        name = found[1]
        return (1 if name == "load" else 0), [f"# {name}\n", f"{name}_figure=7\n"]

    monkeypatch.setattr(chaos_main, "run_module", run)
    path = tmp_path / "chaos.md"

    # When make chaos runs
    code = chaos_main.main([], figures_file=path)

    # Then every scenario has its section, the broken one marked FAILED, and the run fails
    assert code == 1
    sections = read_sections(path)
    assert list(sections) == chaos_main.scenarios()
    for name, text in sections.items():
        assert f"| `{name}_figure` | 7 |" in text
        assert "by `make chaos`" in text
        assert platform.python_version() in text
        assert f"{os.cpu_count()} cores" in text
    assert "FAILED (exit 1)" in sections["load"]
    assert "chaos FAILED: load" in capsys.readouterr().err


def test_make_bench_writes_its_figures_and_stops_at_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Given a second benchmark that fails
    ran = []

    def run(code: str) -> tuple[int, list[str]]:
        found = re.search(r"import sys, ([\w.]+) as bench", code)
        assert found
        module = found[1]
        ran.append(module)
        return (1 if module == "bench.generation" else 0), [f"{module[6:]}_ratio=1.00\n"]

    monkeypatch.setattr(bench_main, "run_module", run)
    path = tmp_path / "bench.md"

    # When make bench runs
    code = bench_main.main([], figures_file=path)

    # Then it stops there, and the file holds what ran, in the benchmarks' order
    assert code == 1
    assert ran == ["bench.spi", "bench.generation"]
    sections = read_sections(path)
    assert list(sections) == ["bench.spi", "bench.generation"]
    assert "| `spi_ratio` | 1.00 |" in sections["bench.spi"]
    assert "FAILED (exit 1)" in sections["bench.generation"]


def test_the_committed_figures_files_cover_every_benchmark_and_scenario():
    bench = read_sections(REPO / "docs" / "figures" / "bench.md")
    chaos = read_sections(REPO / "docs" / "figures" / "chaos.md")
    assert list(bench) == list(bench_main.BENCHMARKS)
    assert sorted(chaos) == chaos_main.scenarios()
    # and every benchmark figure is explained next to them
    explained = (REPO / "docs" / "figures.md").read_text(encoding="utf-8")
    for text in bench.values():
        for name in re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE):
            assert f"`{name}`" in explained, name
