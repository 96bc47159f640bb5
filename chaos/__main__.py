"""``python -m chaos`` (``make chaos``): every scenario module of this package, each in a fresh
interpreter (one local stack per process), printing its figures as ``name=value`` lines and
writing them into ``docs/figures/chaos.md``. Exits non-zero if any scenario finds a broken
invariant (a duplicate, a gap, a lost card...).

``python -m chaos top_faults load`` runs only the scenarios named (and replaces only their
sections of the figures file)."""

from __future__ import annotations

import pkgutil
import sys
import time
from pathlib import Path

from bench.figures_file import (
    FIGURES_DIR,
    Section,
    parse_output,
    run_module,
    shown,
    write_figures,
)

FIGURES_FILE = FIGURES_DIR / "chaos.md"
PREAMBLE = """\
Written by `make chaos` (`chaos/__main__.py`), one section per scenario: do not edit by hand.
What each scenario does and what its figures show: [the figures explained](../figures.md).
"""


def scenarios() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        info.name for info in pkgutil.iter_modules([str(here)]) if not info.name.startswith("_")
    )


def main(argv: list[str], figures_file: Path = FIGURES_FILE) -> int:
    chosen = argv or scenarios()
    unknown = set(chosen) - set(scenarios())
    if unknown:
        print(f"chaos: unknown scenarios {sorted(unknown)}; known: {scenarios()}", file=sys.stderr)
        return 2
    failed = []
    sections = []
    for name in chosen:
        print(f"=== chaos.{name}", flush=True)
        started = time.monotonic()
        code, lines = run_module(f"import sys, chaos.{name} as scenario; sys.exit(scenario.main())")
        print(f"=== chaos.{name}: exit {code} in {time.monotonic() - started:.0f} s")
        figures, context = parse_output(lines)
        sections.append(Section(name, code, figures, context))
        if code:
            failed.append(name)
    # A failed scenario's figures are written too, marked FAILED: they are the evidence.
    command = "make chaos" if not argv else "python -m chaos " + " ".join(argv)
    write_figures(
        figures_file, title="Chaos figures", preamble=PREAMBLE, sections=sections, command=command
    )
    print(f"figures written to {shown(figures_file)}")
    if failed:
        print(f"chaos FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("chaos OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
