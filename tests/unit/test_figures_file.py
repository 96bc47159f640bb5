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
import bench.readme as bench_readme
import chaos.__main__ as chaos_main
from bench.figures_file import (
    Figure,
    Machine,
    Section,
    parse_output,
    read_sections,
    write_figures,
)
from bench.goals import Goal, report
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
            if name.startswith("goal_"):  # a goal's verdict: explained once, as goal_<figure>
                assert f"`{name[5:]}`" in explained, name
                continue
            assert f"`{name}`" in explained, name


def test_a_goal_line_is_a_figure_saying_met_or_missed_with_its_comparison(
    capsys: pytest.CaptureFixture[str],
):
    # When a benchmark reports its goals
    report(
        (Goal("sign_vs_hmac_floor_ratio", ">=", 0.7), 0.8249),
        (Goal("spi_vs_put_item_ratio", "<=", 2.0), 2.31),
    )

    # Then each is one name=value line, met or missed, parsed as a figure whose value says why
    figures, context = parse_output(capsys.readouterr().out.splitlines())
    assert context == []
    assert figures == [
        Figure("goal_sign_vs_hmac_floor_ratio", "met (0.82 >= 0.7)"),
        Figure("goal_spi_vs_put_item_ratio", "missed (2.31 > 2)"),
    ]


def test_the_readme_performance_section_is_written_from_the_figures_file(tmp_path: Path):
    # Given a run's figures, one goal met and one missed
    figures_file = tmp_path / "bench.md"
    lines = [
        "sign_per_s=230000\n",
        "hmac_floor_per_s=400000\n",
        "sign_vs_hmac_floor_ratio=0.58  (goal >= 0.7)\n",
        "goal_sign_vs_hmac_floor_ratio=missed (0.58 < 0.7)\n",
        "top_client_vs_raw_ratio=0.97  (goal >= 0.9)\n",
        "goal_top_client_vs_raw_ratio=met (0.97 >= 0.9)\n",
    ]
    figures, context = parse_output(lines)
    write_figures(
        figures_file,
        title="Benchmark figures",
        preamble="",
        sections=[Section("bench.top_client", 0, figures, context)],
        command="make bench",
        when=WHEN,
        machine=MACHINE,
    )
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{bench_readme.BEGIN}\nstale\n{bench_readme.END}\n\nrest\n")

    # When the README is rewritten from them
    bench_readme.write(figures_file, readme)

    # Then its section shows every goal with its verdict and the figures beside it, and
    # nothing else in the README changed
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"# Title\n\n{bench_readme.BEGIN}\n")
    assert text.endswith(f"{bench_readme.END}\n\nrest\n")
    assert "stale" not in text
    assert "1 of 2 goals met" in text
    assert (
        "| `bench.top_client` | `sign_vs_hmac_floor_ratio`: 0.58 < 0.7 | **missed** | "
        "`sign_per_s` 230000, `hmac_floor_per_s` 400000, `top_client_vs_raw_ratio` 0.97 |"
    ) in text
    assert "| `top_client_vs_raw_ratio`: 0.97 >= 0.9 | met |" in text
    assert "Runs: 2026-11-22 12:30 UTC, passed (exit 0); CPython 3.13.1" in text


def test_the_readme_shows_the_committed_figures():
    # make bench rewrites both; a hand edit of either shows here
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(bench_readme.BEGIN) : readme.index(bench_readme.END)]
    assert section + bench_readme.END == bench_readme.render(REPO / "docs" / "figures" / "bench.md")


def test_every_benchmark_goal_has_its_summary_line_in_the_committed_figures():
    bench = read_sections(REPO / "docs" / "figures" / "bench.md")
    for module, text in bench.items():
        goals = re.findall(r"^\| `(\w+)` \| [^|]* \| \(goal ", text, re.MULTILINE)
        for figure in goals:
            assert (
                f"| `goal_{figure}` | met (" in text or f"| `goal_{figure}` | missed (" in text
            ), (
                module,
                figure,
            )
