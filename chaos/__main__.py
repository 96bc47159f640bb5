"""``python -m chaos`` (``make chaos``): every scenario module of this package, each in a fresh
interpreter (one local stack per process), printing its figures as ``name=value`` lines.
Exits non-zero if any scenario finds a broken invariant (a duplicate, a gap, a lost card...).

``python -m chaos top_faults load`` runs only the scenarios named."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def scenarios() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        info.name for info in pkgutil.iter_modules([str(here)]) if not info.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    chosen = argv or scenarios()
    unknown = set(chosen) - set(scenarios())
    if unknown:
        print(f"chaos: unknown scenarios {sorted(unknown)}; known: {scenarios()}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        print(f"=== chaos.{name}", flush=True)
        started = time.monotonic()
        code = f"import sys, chaos.{name} as scenario; sys.exit(scenario.main())"
        result = subprocess.run([sys.executable, "-c", code], check=False)
        print(f"=== chaos.{name}: exit {result.returncode} in {time.monotonic() - started:.0f} s")
        if result.returncode:
            failed.append(name)
    if failed:
        print(f"chaos FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("chaos OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
