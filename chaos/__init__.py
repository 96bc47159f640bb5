"""``make chaos``: the reliability runs too long for ``make test`` (faults, crashes, load)."""
