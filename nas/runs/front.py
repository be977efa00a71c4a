"""A run's Pareto front, and picking a candidate from it by a condition such as "params<1e6".

The front is over the run's objectives (validation accuracy and the costs it minimised); a run that searched
for accuracy alone is shown against its parameters. Only completed candidates with every objective recorded
take part.

Conditions are one small grammar, parsed without eval: `NAME OP NUMBER`, several joined by commas or `and`;
NAME is val_accuracy (a fraction in [0, 1]), params, flops or latency_ms; OP is <, <=, > or >=; NUMBER is a
decimal or scientific number with an optional k, M or G suffix (thousand, million, billion). `all` (or an
empty condition) keeps the whole front. Among the front members meeting the condition, rank 1 is
the most accurate.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any

from nas.errors import UserError
from strategies.objectives import ACCURACY, COSTS

FIELDS = (ACCURACY, *COSTS)
OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
SUFFIXES = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_CONDITION = re.compile(
    r"^\s*(?P<name>[a-z_]+)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<suffix>[kKMG]?)\s*$"
)


@dataclass(frozen=True)
class Condition:
    name: str
    op: str
    value: float

    def holds(self, row: dict[str, Any]) -> bool:
        value = row.get(self.name)
        return value is not None and OPERATORS[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value:g}"


def parse_conditions(text: str | None) -> list[Condition]:
    if text is None or text.strip().lower() in ("", "all"):
        return []
    out = []
    for part in re.split(r",|\band\b", text):
        match = _CONDITION.match(part)
        if match is None:
            raise UserError(
                f"--pareto-pick: cannot read {part.strip()!r}; write NAME OP NUMBER such as params<1e6 or "
                f"val_accuracy>=0.9 (NAME: {', '.join(FIELDS)}; OP: <, <=, >, >=), joined by commas"
            )
        if match["name"] not in FIELDS:
            raise UserError(f"--pareto-pick: unknown name {match['name']!r}; choose from {', '.join(FIELDS)}")
        value = float(match["number"]) * SUFFIXES[match["suffix"]]
        out.append(Condition(match["name"], match["op"], value))
    return out


def run_objectives(run) -> tuple[str, ...]:
    objectives = tuple(run.config().get("objectives") or (ACCURACY,))
    return objectives if len(objectives) > 1 else (ACCURACY, "params")


def pareto_front(run, objectives: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The non-dominated completed candidates, most accurate first (ties: earlier proposal)."""
    from strategies.objectives import pareto_mask

    objectives = objectives or run_objectives(run)
    rows = [r for r in run.ranked() if all(r.get(name) is not None for name in objectives)]
    if not rows:
        return []
    points = [[-r[ACCURACY], *(r[name] for name in objectives[1:])] for r in rows]
    return [row for row, keep in zip(rows, pareto_mask(points)) if keep]


def pick(run, condition: str | None, rank: int = 1) -> dict[str, Any]:
    """The rank-th most accurate front member meeting `condition`."""
    conditions = parse_conditions(condition)
    if rank < 1:
        raise UserError(f"--rank {rank} is out of range: ranks start at 1 (the most accurate)")
    front = pareto_front(run)
    if not front:
        raise UserError(f"run {run.name} has no completed candidates with {', '.join(run_objectives(run))}")
    meeting = [row for row in front if all(c.holds(row) for c in conditions)]
    wanted = " and ".join(map(str, conditions)) or "all"
    if not meeting:
        raise UserError(
            f"no candidate on the Pareto front of run {run.name} ({len(front)} candidates) meets {wanted}; "
            "see them with `nas results RUN --pareto`"
        )
    if rank > len(meeting):
        raise UserError(f"--rank {rank} is out of range: {len(meeting)} front candidates meet {wanted}")
    return meeting[rank - 1]
