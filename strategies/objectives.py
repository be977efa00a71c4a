"""Search goals beyond accuracy: hard limits on an architecture's cost, and several objectives at once.

A `Goal` names the objectives (validation accuracy first, then costs to minimise: `params`, `flops`,
`latency_ms`), the hard limits on costs, and the targets of the scalarised reward. It is torch-free: the costs
of an architecture come from a function handed to the strategy (`search_spaces.cost` builds the network; a
tabular benchmark reads them from its table).

* **Limits** are hard: a strategy never proposes an architecture whose cost exceeds one (strategies/base.py
  draws again).
* **Pareto ranking** (Deb et al. 2002, NSGA-II): a candidate dominates another when it is no worse in every
  objective and better in one; rank 0 is the non-dominated front, rank 1 the front once rank 0 is removed, and
  so on. Crowding distance (the perimeter of the box spanned by a point's neighbours on its front, per
  objective normalised by the front's range; boundary points get infinity) breaks ties in favour of less
  crowded regions.
* **Scalarised reward** for REINFORCE, MnasNet's (Tan et al. 2019, eq. 2, the soft-constraint setting):
  reward = accuracy × Π_c (cost_c / target_c)^w with w = -0.07 for every cost objective. A network twice the
  target cost is worth 0.07 · ln 2 ≈ 4.7% less accuracy, half the target cost 4.7% more. The target of each
  cost is its limit when there is one, otherwise one the caller resolves (the search uses the median cost of
  uniform samples of the space; see nas/searching/budget.py).
* **Hypervolume**: the volume dominated by a front up to a reference point, in the minimisation form.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

ACCURACY = "val_accuracy"  # the objective every goal maximises first
COSTS = ("params", "flops", "latency_ms")  # costs an architecture has without training; all minimised
MNAS_WEIGHT = -0.07  # w of MnasNet's reward (Tan et al. 2019, sec. 3: alpha = beta = -0.07)


class GoalError(ValueError):
    """A goal that cannot be pursued: unknown objective, negative limit, missing target."""


@dataclass(frozen=True)
class Goal:
    objectives: tuple[str, ...] = (ACCURACY,)  # val_accuracy first, then costs to minimise
    limits: Mapping[str, float] = field(default_factory=dict)  # cost -> largest allowed value (inclusive)
    targets: Mapping[str, float] = field(default_factory=dict)  # cost objective -> MnasNet target T
    weight: float = MNAS_WEIGHT  # w in accuracy * (cost / T)^w

    def __post_init__(self) -> None:
        objectives = tuple(self.objectives)
        object.__setattr__(self, "objectives", objectives)
        if not objectives or objectives[0] != ACCURACY:
            raise GoalError(f"objectives must start with {ACCURACY}, got {','.join(objectives) or 'none'}")
        unknown = [o for o in objectives[1:] if o not in COSTS]
        if unknown:
            raise GoalError(
                f"unknown objective {', '.join(unknown)}; after {ACCURACY} choose among {', '.join(COSTS)}"
            )
        if len(set(objectives)) != len(objectives):
            raise GoalError(f"objectives list one twice: {','.join(objectives)}")
        for name, value in self.limits.items():
            if name not in COSTS:
                raise GoalError(f"unknown limit {name}; limits exist for {', '.join(COSTS)}")
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise GoalError(f"the limit on {name} must be a positive number, got {value!r}")
        for name in self.cost_objectives:
            if name in self.targets and not self.targets[name] > 0:
                raise GoalError(f"the target of {name} must be positive, got {self.targets[name]!r}")
        if not math.isfinite(self.weight):
            raise GoalError(f"the reward weight must be finite, got {self.weight!r}")

    @property
    def cost_objectives(self) -> tuple[str, ...]:
        return self.objectives[1:]

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    @property
    def trivial(self) -> bool:
        """Accuracy alone, no limits: what a strategy without a goal does."""
        return not self.multi and not self.limits

    @property
    def costs_needed(self) -> tuple[str, ...]:
        return tuple(c for c in COSTS if c in self.limits or c in self.cost_objectives)

    def feasible(self, costs: Mapping[str, float]) -> bool:
        return all(costs[name] <= limit for name, limit in self.limits.items())

    def target(self, name: str) -> float:
        if name in self.targets:
            return float(self.targets[name])
        if name in self.limits:
            return float(self.limits[name])
        raise GoalError(f"the scalarised reward needs a target for {name}: give a limit or a target")

    def reward(self, accuracy: float, costs: Mapping[str, float]) -> float:
        """MnasNet's scalarised reward; plain accuracy when there is no cost objective."""
        factor = 1.0
        for name in self.cost_objectives:
            factor *= (max(float(costs[name]), 1e-12) / self.target(name)) ** self.weight
        return accuracy * factor

    def point(self, accuracy: float, costs: Mapping[str, float]) -> tuple[float, ...]:
        """The candidate as a point to minimise: (-accuracy, cost, ...)."""
        return (-float(accuracy), *(float(costs[name]) for name in self.cost_objectives))

    def with_default_targets(self, samples: Sequence[Mapping[str, float]]) -> Goal:
        """This goal with a target for every cost objective: its limit when it has one, else the median of
        that cost over `samples` (costs of architectures drawn uniformly from the space)."""
        targets = dict(self.targets)
        for name in self.cost_objectives:
            if name not in targets:
                targets[name] = (
                    float(self.limits[name])
                    if name in self.limits
                    else float(np.median([s[name] for s in samples]))
                )
        return replace(self, targets=targets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "objectives": list(self.objectives),
            "limits": dict(sorted(self.limits.items())),
            "targets": {k: float(v) for k, v in sorted(self.targets.items())},
            "weight": self.weight,
        }


# -- Pareto arithmetic, all in the minimisation form --


def pareto_ranks(points: Sequence[Sequence[float]]) -> np.ndarray:
    """NSGA-II non-dominated sorting: 0 for the front, 1 for the front of the rest, ..."""
    p = np.asarray(points, dtype=float).reshape(len(points), -1)
    n = len(p)
    if n == 0:
        return np.zeros(0, dtype=int)
    no_worse = (p[:, None, :] <= p[None, :, :]).all(-1)
    better = (p[:, None, :] < p[None, :, :]).any(-1)
    dominates = no_worse & better  # dominates[i, j]: i dominates j
    dominated_by = dominates.sum(0)
    ranks = np.full(n, -1)
    rank, current = 0, np.flatnonzero(dominated_by == 0)
    while current.size:
        ranks[current] = rank
        dominated_by = dominated_by - dominates[current].sum(0)
        dominated_by[ranks >= 0] = -1
        current = np.flatnonzero(dominated_by == 0)
        rank += 1
    return ranks


def pareto_mask(points: Sequence[Sequence[float]]) -> np.ndarray:
    """True for the non-dominated points (exact duplicates of a front point are on the front too). One pass
    over the points sorted by their sum against the front found so far: fast for the 15,625 rows of a
    table."""
    p = np.asarray(points, dtype=float).reshape(len(points), -1)
    mask = np.zeros(len(p), dtype=bool)
    front: list[int] = []
    for i in np.argsort(p.sum(1), kind="stable"):
        if front:
            f = p[front]
            if ((f <= p[i]).all(1) & (f < p[i]).any(1)).any():
                continue
        front.append(int(i))
        mask[i] = True
    return mask


def crowding_distances(points: Sequence[Sequence[float]], ranks: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of every point within its own front."""
    p = np.asarray(points, dtype=float).reshape(len(points), -1)
    distance = np.zeros(len(p))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        if len(members) <= 2:
            distance[members] = np.inf
            continue
        for m in range(p.shape[1]):
            order = members[np.argsort(p[members, m], kind="stable")]
            values = p[order, m]
            span = values[-1] - values[0]
            distance[order[0]] = distance[order[-1]] = np.inf
            if span > 0:
                distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Volume dominated by `points` and bounded by `reference` (minimisation); points not strictly better than
    the reference in every objective add nothing. Exact, by slicing along the last objective (fine for the few
    hundred points of a search)."""
    ref = np.asarray(reference, dtype=float)
    p = np.asarray(points, dtype=float).reshape(-1, len(ref))
    p = p[(p < ref).all(1)]
    if len(p) == 0:
        return 0.0
    p = p[pareto_mask(p)]
    return _hv(np.unique(p, axis=0), ref)


def _hv(p: np.ndarray, ref: np.ndarray) -> float:
    if p.shape[1] == 1:
        return float(ref[0] - p[:, 0].min())
    if p.shape[1] == 2:
        order = p[np.argsort(p[:, 0], kind="stable")]
        volume, best_y = 0.0, ref[1]
        for x, y in order:
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return float(volume)
    order = p[np.argsort(p[:, -1], kind="stable")]
    volume = 0.0
    for i in range(len(order)):
        upper = order[i + 1, -1] if i + 1 < len(order) else ref[-1]
        depth = upper - order[i, -1]
        if depth > 0:
            slab = order[: i + 1, :-1]
            volume += depth * _hv(slab[pareto_mask(slab)], ref[:-1])
    return float(volume)
