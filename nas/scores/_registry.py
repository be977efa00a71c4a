"""The score registry and rank arithmetic (torch-free); `nas.scores` re-exports it and registers the
built-ins."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nas.score_names import DEFAULT_AGGREGATION, DEFAULT_SCORES

WORST = float("-inf")  # the score of a candidate that could not be scored: ranks below every scored one


@dataclass(frozen=True)
class Score:
    name: str
    compute: Callable  # (model: nn.Module in train mode, images: float tensor (B, 3, H, W)) -> float
    reference: str  # the paper it follows, for tables and docs
    # Scores that come out of one pass together (AZ-NAS's components): (model, images) -> {name: float} for
    # every score of the group, so a scorer asked for several of them runs the pass once. None: on its own.
    joint: Callable | None = None


SCORES: dict[str, Score] = {}


def register_score(name: str, reference: str):
    """Function decorator: make `compute(model, images) -> float` available as the score `name`."""

    def register(compute: Callable) -> Callable:
        _add(Score(name, compute, reference))
        return compute

    return register


def register_scores(names: Sequence[str], reference: str):
    """Function decorator for scores computed together: `compute(model, images) -> {name: float}` with one
    entry per name. Each name is a score of its own (its `compute` runs the pass and keeps its value)."""

    def register(compute: Callable) -> Callable:
        for name in names:
            _add(Score(name, _one_of(compute, name), reference, joint=compute))
        return compute

    return register


def _one_of(compute: Callable, name: str) -> Callable:
    def one(model, images) -> float:
        return compute(model, images)[name]

    one.__doc__ = f"{name}: one value of {compute.__name__}"
    one.__module__ = compute.__module__
    return one


def _add(score: Score) -> None:
    if score.name in SCORES:
        raise ValueError(
            f"score {score.name!r} is already registered by {SCORES[score.name].compute.__module__}"
        )
    SCORES[score.name] = score


# -- combining scores by rank --

AGGREGATIONS = ("rank_sum", "log_rank")


def ranks(records: Sequence[Mapping[str, float]], name: str) -> np.ndarray:
    """Each record's rank by the score `name`: 1 = lowest, N = highest, ties share their mean rank; an
    unscorable record (-inf, NaN or missing) ranks below every scored one."""
    from scipy.stats import rankdata

    values = np.array([r.get(name, WORST) for r in records], dtype=float)
    values[~np.isfinite(values)] = -np.inf
    return rankdata(values, method="average")


def combined_rank(
    records: Sequence[Mapping[str, float]],
    names: Sequence[str] = DEFAULT_SCORES,
    aggregation: str = DEFAULT_AGGREGATION,
) -> np.ndarray:
    """One number per record from its ranks by `names`, higher is better:

    - "rank_sum": the sum of the ranks (Abdelfattah et al. and Mellor et al. find that scores agree with
      accuracy in rank, not in value);
    - "log_rank": the sum of log(rank / N), AZ-NAS's non-linear rank aggregation (Lee & Ham, CVPR 2024,
      eq. 9): at most 0, reached by a record that is best by every score; a record that is among the worst
      by any one score is pulled far down, where a rank sum lets a good rank elsewhere make up for it."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; choose one of {', '.join(AGGREGATIONS)}")
    total = np.zeros(len(records))
    for name in names:
        r = ranks(records, name)
        total += np.log(r / len(records)) if aggregation == "log_rank" else r
    return total


def order_by_combined_rank(
    records: Sequence[Mapping[str, float]],
    names: Sequence[str] = DEFAULT_SCORES,
    aggregation: str = DEFAULT_AGGREGATION,
) -> list[int]:
    """Indices of `records`, best combined rank first; ties keep their given order (so a seeded sample gives
    one order)."""
    combined = combined_rank(records, names, aggregation)
    return sorted(range(len(records)), key=lambda i: -combined[i])
