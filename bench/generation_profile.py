"""``python -m bench.generation_profile``: where card generation's CPU time goes, per card.

cProfile over the generator's own ``make_cards`` in its batch size (the work that
``generate_vs_aesgcm_floor_ratio`` times), the top entries by own time, in microseconds per
card. Calls that ``map`` makes from C (the AES-GCM ``encrypt`` of every card, ``str`` of
every number) are not seen by cProfile: their time is their caller's. Not part of
``make bench`` (profiling slows what it watches); its output before and after a change is kept
in ``docs/figures/generation-profile.md``.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time

from cardmaker import Sealer
from cardmaker.cards.card_secrets import ChunkSecrets
from cardmaker.cards.numbering import CardNumberer, CardNumberScheme
from cardmaker.generation.service import SEAL_BATCH, make_cards

CARDS = 100_000
TOP = 12


def main() -> int:
    numberer = CardNumberer(CardNumberScheme(), os.urandom(32))
    data_key = os.urandom(32)
    secrets, sealer = ChunkSecrets(data_key, 16), Sealer(data_key)
    profile = cProfile.Profile(time.process_time)  # CPU time: the machine may be shared
    profile.enable()
    for first in range(0, CARDS, SEAL_BATCH):
        make_cards(numberer, secrets, sealer, first, SEAL_BATCH)
    profile.disable()
    stats = pstats.Stats(profile)
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    print(f"profile: make_cards, {CARDS} cards in batches of {SEAL_BATCH}, us per card")
    print(f"{'own':>7} {'total':>7} {'calls':>8}  function")
    for (path, line, name), (_, calls, own, total, _) in rows[:TOP]:
        where = f"{os.path.basename(path)}:{line}({name})" if line else name
        print(f"{own / CARDS * 1e6:7.3f} {total / CARDS * 1e6:7.3f} {calls:8d}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
