"""The score registry and rank arithmetic (torch-free); `nas.scores` re-exports it and registers the
built-ins."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_SCORES = ("synflow", "naswot")
WORST = float("-inf")  # the score of a candidate that could not be scored: ranks below every scored one


@dataclass(frozen=True)
class Score:
    name: str
    compute: Callable  # (model: nn.Module in train mode, images: float tensor (B, 3, H, W)) -> float
    reference: str  # the paper it follows, for tables and docs


SCORES: dict[str, Score] = {}


def register_score(name: str, reference: str):
    """Function decorator: make `compute(model, images) -> float` available as the score `name`."""

    def register(compute: Callable) -> Callable:
        if name in SCORES:
            raise ValueError(f"score {name!r} is already registered by {SCORES[name].compute.__module__}")
        SCORES[name] = Score(name, compute, reference)
        return compute

    return register


def combined_rank(
    records: Sequence[Mapping[str, float]], names: Sequence[str] = DEFAULT_SCORES
) -> np.ndarray:
    """The sum over `names` of each record's rank by that score (1 = lowest; ties share their mean rank).
    Higher is better; an unscorable record (-inf or NaN) ranks below every scored one."""
    from scipy.stats import rankdata

    total = np.zeros(len(records))
    for name in names:
        values = np.array([r.get(name, WORST) for r in records], dtype=float)
        values[~np.isfinite(values)] = -np.inf
        total += rankdata(values, method="average")
    return total


def order_by_combined_rank(
    records: Sequence[Mapping[str, float]], names: Sequence[str] = DEFAULT_SCORES
) -> list[int]:
    """Indices of `records`, best combined rank first; ties keep their given order (so a seeded sample gives
    one order)."""
    ranks = combined_rank(records, names)
    return sorted(range(len(records)), key=lambda i: -ranks[i])
