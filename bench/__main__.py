"""``python -m bench`` (``make bench``): run every benchmark, each in a fresh interpreter so
that one benchmark's leftovers (moto's state, a large heap for the garbage collector to walk)
cannot skew another's figures."""

import subprocess
import sys

BENCHMARKS = ("bench.spi", "bench.generation", "bench.export")


def main() -> int:
    for module in BENCHMARKS:
        code = f"import sys, {module} as bench; sys.exit(bench.main())"
        result = subprocess.run([sys.executable, "-c", code], check=False)
        if result.returncode:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
