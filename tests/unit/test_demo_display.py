"""The demo's progress bars keep their columns while the counts grow and the statuses change,
and a chunk of the demo's order is small enough for the bars to move."""

from __future__ import annotations

import io

from rich.console import Console

from local.demo import DEMO_CHUNK_SIZE, TEMPLATES
from local.demo_display import bar_progress


def rendered(states: dict[str, tuple[int, str]], totals: dict[str, int]) -> list[str]:
    """The bars' lines with each task at (completed, status)."""
    console = Console(file=io.StringIO(), width=110, color_system=None)
    progress = bar_progress(console)
    for name, total in totals.items():
        completed, status = states[name]
        task = progress.add_task(name, total=total, status=status)
        progress.update(task, completed=completed)
    with console.capture() as captured:
        console.print(progress.get_renderable())
    return [line for line in captured.get().splitlines() if line.strip()]


def test_the_count_and_status_columns_keep_their_place():
    totals = {"3010030E02 face 100": 1500, "3010030E05 face 5000": 37}
    before = rendered(dict.fromkeys(totals, (0, "RECEIVED")), totals)
    during = rendered(
        {"3010030E02 face 100": (750, "GENERATING"), "3010030E05 face 5000": (37, "GENERATING")},
        totals,
    )
    after = rendered({name: (total, "WAITING_STOCK") for name, total in totals.items()}, totals)

    def columns(lines: list[str]) -> set[tuple[int, int]]:
        # (where each count ends, where each elapsed time is)
        return {
            (line.index("/") + len(str(total)), line.rindex(":"))
            for line, total in zip(lines, totals.values(), strict=True)
        }

    assert len(columns(before) | columns(during) | columns(after)) == 1, [before, during, after]


def test_every_template_of_the_demo_takes_several_chunks():
    # one chunk per template would take its bar from 0 to 100 % in one step
    assert all(count > DEMO_CHUNK_SIZE for _, count, _ in TEMPLATES if count >= 100)
