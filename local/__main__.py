"""``python -m local``: the same as ``python -m local.serve`` (``make serve``)."""

import sys

from local.serve import main

if __name__ == "__main__":
    sys.exit(main())
