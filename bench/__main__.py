"""``python -m bench`` (``make bench``): run every benchmark."""

import sys

from bench import generation, spi


def main() -> int:
    return spi.main() or generation.main()


if __name__ == "__main__":
    sys.exit(main())
