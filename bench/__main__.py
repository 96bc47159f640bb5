"""``python -m bench`` (``make bench``): run every benchmark, each in a fresh interpreter so
that one benchmark's leftovers (moto's state, a large heap for the garbage collector to walk)
cannot skew another's figures, and write their figures into ``docs/figures/bench.md``.

``python -m bench bench.spi`` runs only the benchmarks named (and replaces only their sections
of the figures file)."""

from __future__ import annotations

import sys
from pathlib import Path

from bench import readme
from bench.figures_file import (
    FIGURES_DIR,
    Section,
    parse_output,
    run_module,
    shown,
    write_figures,
)

BENCHMARKS = (
    "bench.spi",
    "bench.generation",
    "bench.export",
    "bench.notify",
    "bench.status_query",
    "bench.notice",
    "bench.top_client",
    "bench.allocation",
    "bench.million",
    "bench.evoucher",
)
FIGURES_FILE = FIGURES_DIR / "bench.md"
PREAMBLE = """\
Written by `make bench` (`bench/__main__.py`), one section per benchmark: do not edit by hand.
What each figure means and what the goals are: [the figures explained](../figures.md).
"""


def main(argv: list[str], figures_file: Path = FIGURES_FILE) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        print(f"bench: unknown benchmarks {sorted(unknown)}; known: {BENCHMARKS}", file=sys.stderr)
        return 2
    sections = []
    code = 0
    for module in chosen:
        code, lines = run_module(f"import sys, {module} as bench; sys.exit(bench.main())")
        figures, context = parse_output(lines)
        sections.append(Section(module, code, figures, context))
        if code:
            break
    command = "make bench" if not argv else "python -m bench " + " ".join(argv)
    write_figures(
        figures_file,
        title="Benchmark figures",
        preamble=PREAMBLE,
        sections=sections,
        command=command,
        order=BENCHMARKS,
    )
    print(f"figures written to {shown(figures_file)}")
    if figures_file == FIGURES_FILE:  # the README shows the committed figures, not a test's
        readme.write(figures_file)
        print(f"performance section of {shown(readme.README)} rewritten from them")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
