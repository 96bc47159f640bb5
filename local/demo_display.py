"""What ``make demo`` shows: story lines, live progress bars and the closing summary (rich).

The story itself is in local/demo.py; this module only draws. On a terminal the bars move
while the stack works; elsewhere (CI logs, tests) rich draws no live bars, so each stage's
bars are printed once, final, when the stage ends, and every story line and the summary are
plain printed text either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table

# Wide enough for a delivery id and every summary column in a log file, where rich would
# otherwise assume 80 columns.
LOG_WIDTH = 110
# The bars' columns keep their place as the counts grow and the statuses change: the count
# column fits "999999/999999", the status column the longest status (WAITING_STOCK).
COUNT_WIDTH = 13
STATUS_WIDTH = 13


@dataclass(frozen=True)
class GatewayCall:
    """One call the fake TOP gateway received, as far as the summary cares."""

    method: str
    sign_valid: bool
    answered_ok: bool


@dataclass(frozen=True)
class LifecycleStep:
    """Where the order was after one step, by the maker's word and the platform's
    (``cardorder.status.query``)."""

    step: str
    order_status: str
    platform_status: str
    logistics_company: str | None = None
    logistics_order_id: str | None = None


@dataclass(frozen=True)
class DemoSummary:
    """Everything the closing tables show; views are the API's own answers."""

    order: dict[str, Any]  # GET /orders/{id}
    generation_seconds: float
    deliveries: list[tuple[dict[str, Any], float]]  # GET /deliveries/{id}, seconds to final
    lifecycle: list[LifecycleStep]  # the platform's status query after each step
    gateway_calls: list[GatewayCall] | None  # None: an external gateway, nothing recorded
    replay_making_card_no: str
    total_seconds: float


def demo_console(file: Any) -> Console:
    """A console on ``file`` that draws live bars only when ``file`` is a terminal."""
    console = Console(file=file, highlight=False)
    if not console.is_terminal:
        console = Console(file=file, highlight=False, width=LOG_WIDTH)
    return console


class Bars:
    """Progress bars of one stage (generation, deliveries), keyed by the caller's ids."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def add(self, key: str, label: str, total: int, status: str = "") -> None:
        """A bar for ``key``: ``label`` on the left, ``total`` units to reach."""
        self._tasks[key] = self._progress.add_task(label, total=total, status=status)

    def update(self, key: str, completed: int, status: str) -> None:
        """Move ``key``'s bar to ``completed`` units, showing ``status`` beside it."""
        self._progress.update(self._tasks[key], completed=completed, status=status)


class DemoDisplay:
    """The demo's output: ``out`` for the story and summary, ``err`` for a failure."""

    def __init__(self, out: Console, err: Console) -> None:
        self.out = out
        self.err = err

    def step(self, text: str) -> None:
        """A numbered step of the story."""
        self.out.print(text, markup=False, soft_wrap=True)

    def note(self, text: str) -> None:
        """A detail under the current step."""
        self.out.print(f"   {text}", markup=False, soft_wrap=True)

    @contextmanager
    def bars(self) -> Iterator[Bars]:
        """Live bars while the block runs; printed once, final, where there is no terminal."""
        with bar_progress(self.out) as progress:
            yield Bars(progress)

    def summary(self, summary: DemoSummary) -> None:
        """The closing tables: order, templates, deliveries, gateway calls, replay, time."""
        tables = [
            ("Order", _order_table(summary)),
            ("Cards per template", _templates_table(summary.order)),
            ("Deliveries", _deliveries_table(summary.deliveries)),
            (
                "Lifecycle: the order, and what cardorder.status.query answered",
                _lifecycle_table(summary),
            ),
        ]
        if summary.gateway_calls is not None:
            tables.append(
                ("Fake TOP gateway: calls received", _gateway_table(summary.gateway_calls))
            )
        for title, table in tables:
            self.out.print()
            self.out.print(title, style="bold", markup=False)
            self.out.print(table)
        self.out.print()
        self.out.print(
            f"replayed cardorder.make -> the same answer, making_card_no "
            f"{summary.replay_making_card_no}",
            markup=False,
        )
        self.out.print(f"total elapsed: {summary.total_seconds:.1f} s", markup=False)

    def ok(self) -> None:
        """The last line of a demo that went as expected."""
        self.out.print("demo OK", markup=False)

    def failure(self, reason: str, captured: str, trace: str = "") -> None:
        """Why the demo failed, then what the local stack printed (functions' logs)."""
        # Raw text: a reason or a log line may hold brackets that rich would read as markup.
        self.err.out(f"demo FAILED: {reason}", highlight=False)
        if trace:
            self.err.out(trace.rstrip("\n"), highlight=False)
        if captured:
            self.err.out("--- the local stack's output ---", highlight=False)
            self.err.out(captured.rstrip("\n"), highlight=False)


def bar_progress(console: Console) -> Progress:
    """The bars' columns: label, bar, count and status at fixed widths, elapsed time."""
    return Progress(
        TextColumn("   {task.description}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(table_column=Column(width=COUNT_WIDTH, justify="right")),
        TextColumn("{task.fields[status]}", table_column=Column(width=STATUS_WIDTH, no_wrap=True)),
        TimeElapsedColumn(),
        console=console,
        # The functions print to stdout too (their logs are kept aside by the demo): the
        # bars must not capture and show them.
        redirect_stdout=False,
        redirect_stderr=False,
    )


def _order_table(summary: DemoSummary) -> Table:
    order = summary.order
    table = Table()
    for column in ("card_order_id", "own_sign", "making_card_no", "status", "cards", "elapsed"):
        table.add_column(column, justify="right" if column in {"cards", "elapsed"} else "left")
    table.add_row(
        str(order["card_order_id"]),
        order["own_sign"],
        order["making_card_no"],
        order["status"],
        f"{order['cards_generated']}/{order['card_count']}",
        f"{summary.generation_seconds:.1f} s",
    )
    return table


def _templates_table(order: dict[str, Any]) -> Table:
    table = Table()
    table.add_column("template_no")
    table.add_column("card_name")
    table.add_column("par value (fen)", justify="right")
    table.add_column("requested", justify="right")
    table.add_column("generated", justify="right")
    for template in order["templates"]:
        table.add_row(
            template["template_no"],
            template["card_name"],
            template["par_value"],
            str(template["requested"]),
            str(template["generated"]),
        )
    return table


def _deliveries_table(deliveries: list[tuple[dict[str, Any], float]]) -> Table:
    table = Table()
    table.add_column("delivery_id")
    table.add_column("type")
    table.add_column("template_no")
    table.add_column("quantity", justify="right")
    table.add_column("status")
    table.add_column("card outcomes")
    table.add_column("elapsed", justify="right")
    for view, seconds in deliveries:
        table.add_row(
            view["delivery_id"],
            view["type"],
            view["template_no"],
            str(view["quantity"]),
            view["status"],
            outcome_counts(view),
            f"{seconds:.1f} s",
        )
    return table


def _lifecycle_table(summary: DemoSummary) -> Table:
    table = Table()
    for column in ("after", "order status", "status.query", "waybill"):
        table.add_column(column)
    for step in summary.lifecycle:
        waybill = (
            f"{step.logistics_company} {step.logistics_order_id}"
            if step.logistics_order_id
            else "-"
        )
        table.add_row(step.step, step.order_status, step.platform_status, waybill)
    return table


def _gateway_table(calls: list[GatewayCall]) -> Table:
    table = Table()
    table.add_column("method")
    table.add_column("calls", justify="right")
    table.add_column("signature valid", justify="right")
    table.add_column("answered ok", justify="right")
    for method in sorted({call.method for call in calls}):
        received = [call for call in calls if call.method == method]
        table.add_row(
            method,
            str(len(received)),
            f"{sum(call.sign_valid for call in received)}/{len(received)}",
            f"{sum(call.answered_ok for call in received)}/{len(received)}",
        )
    return table


def outcome_counts(view: dict[str, Any]) -> str:
    """A delivery's per-card outcomes counted, e.g. ``BOUND 3`` (``-`` before any)."""
    counts = Counter(card["outcome"] for card in view.get("cards", []))
    return ", ".join(f"{outcome} {count}" for outcome, count in sorted(counts.items())) or "-"
