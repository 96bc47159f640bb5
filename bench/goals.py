"""The benchmarks' goals, and the one summary line per goal that ``make bench`` prints:
``goal_<figure>=met (0.82 >= 0.7)`` or ``goal_<figure>=missed (0.40 < 0.5)``, a figure like
any other (``name=value``), so that the figures file and the README show every verdict."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Comparison = Literal[">=", "<="]
_HOLDS: dict[Comparison, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}
_FAILS: dict[Comparison, str] = {">=": "<", "<=": ">"}


@dataclass(frozen=True)
class Goal:
    """``figure`` must be ``comparison`` ``target``."""

    figure: str
    comparison: Comparison
    target: float

    def describe(self) -> str:
        """The note printed after the figure: ``(goal >= 0.9)``."""
        return f"(goal {self.comparison} {self.target:g})"

    def met(self, value: float) -> bool:
        return _HOLDS[self.comparison](value, self.target)

    def verdict(self, value: float, digits: int = 2) -> str:
        """``goal_<figure>=met (0.82 >= 0.7)``, or ``missed (0.40 < 0.5)``."""
        shown = f"{value:.{digits}f}"
        if self.met(value):
            return f"goal_{self.figure}=met ({shown} {self.comparison} {self.target:g})"
        return f"goal_{self.figure}=missed ({shown} {_FAILS[self.comparison]} {self.target:g})"


def report(*measured: tuple[Goal, float], digits: int = 2) -> None:
    """Print one summary line per goal."""
    for goal, value in measured:
        print(goal.verdict(value, digits))
