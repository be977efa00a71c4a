"""Tabular benchmarks under limits and with several objectives (`nas benchmark --max-params`, `--objectives`).

The table's rows get their costs from the engine's builder (nas/bench/costs.py); the strategies then only
propose rows within the limits, and the summary adds, per strategy, the best metric within the limits and the
hypervolume of the front of the queried rows, both compared with random search at the same number of queries.

Hypervolume is computed on objectives normalised over the rows within the limits: (best metric - metric) /
(metric range) and (cost - smallest cost) / (cost range), all in [0, 1], with the reference point (1, ..., 1):
the worst metric and the largest cost within the limits. 1.0 would be one row that is both the best and the
cheapest; the table's own front gives the largest value any search can reach.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# Tables and results are nas.bench.tabular's Table and BenchmarkResult (tabular imports this module).
from nas.errors import UserError
from search_spaces.base import SearchSpace
from strategies.objectives import ACCURACY, Goal, GoalError, hypervolume, pareto_mask

TABLE_COSTS = ("params", "flops")  # what the builder gives a table; latency would need a device per row


def parse_objectives(text: str | None, metric_column: str) -> tuple[str, ...]:
    """'params' or 'val_accuracy,params' (or the metric column's own name first) -> goal objectives."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    if names and names[0] in (ACCURACY, metric_column):
        names = names[1:]
    return (ACCURACY, *names)


def make_goal(
    objectives: str | None,
    *,
    max_params: float | None,
    max_flops: float | None,
    max_latency_ms: float | None,
    metric_column: str,
    available: tuple[str, ...] = TABLE_COSTS,
) -> Goal | None:
    """The goal of a tabular run, or None without limits and objectives; every mistake is one UserError."""
    limits = {
        name: value
        for name, value in (("params", max_params), ("flops", max_flops), ("latency_ms", max_latency_ms))
        if value is not None
    }
    for name, value in limits.items():
        if not math.isfinite(value) or value <= 0:
            raise UserError(f"--max-{name.replace('_', '-')} must be a positive number, got {value:g}")
    try:
        goal = Goal(parse_objectives(objectives, metric_column), limits)
    except GoalError as e:
        raise UserError(f"--objectives: {e}") from None
    unavailable = [c for c in goal.costs_needed if c not in available]
    if unavailable:
        raise UserError(
            f"{', '.join(unavailable)} is not available in tabular mode (it needs the network run on a "
            f"device); "
            f"use {' or '.join(available)}"
        )
    return None if goal.trivial else goal


def attach_costs(table: Any, space: SearchSpace) -> Any:
    from nas.bench.costs import table_costs

    return dataclasses.replace(table, costs=table_costs(space, table.metrics))


def within_limits(table: Any, goal: Goal) -> Any:
    """The rows a search under `goal` may propose; a UserError when there is none."""
    kept = {arch: m for arch, m in table.metrics.items() if goal.feasible(table.costs[arch])}
    if not kept:
        smallest = ", ".join(
            f"smallest {name} {min(c[name] for c in table.costs.values()):,.0f}" for name in goal.limits
        )
        raise UserError(f"no architecture of table {table.path} meets the limits ({smallest}); raise them")
    return dataclasses.replace(table, metrics=kept, costs={a: table.costs[a] for a in kept})


def with_targets(goal: Goal, table: Any) -> Goal:
    """REINFORCE's reward targets for costs without a limit: the median over the rows within the limits."""
    return goal.with_default_targets(list(table.costs.values()))


@dataclass(frozen=True)
class Normaliser:
    """Maps (metric, costs...) rows to the [0, 1] minimisation form the hypervolume is computed in."""

    low: np.ndarray  # per objective: best metric negated, smallest costs
    span: np.ndarray

    @classmethod
    def of(cls, table: Any, goal: Goal) -> Normaliser:
        points = np.array([_point(goal, m, table.costs[a]) for a, m in table.metrics.items()])
        low, high = points.min(0), points.max(0)
        return cls(low, np.where(high > low, high - low, 1.0))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=float) - self.low) / self.span


def _point(goal: Goal, metric: float, costs) -> tuple[float, ...]:
    return goal.point(metric, costs)


def table_front_hypervolume(table: Any, goal: Goal, norm: Normaliser) -> float:
    points = norm(np.array([_point(goal, m, table.costs[a]) for a, m in table.metrics.items()]))
    return hypervolume(points[pareto_mask(points)], np.ones(points.shape[1]))


def hypervolume_at(result: Any, norm: Normaliser, checkpoints: list[int]) -> dict[str, np.ndarray]:
    """strategy -> (seeds, checkpoints): hypervolume of the front of the first q queries of each seed."""
    goal = result.goal
    columns = [goal.costs_needed.index(c) for c in goal.cost_objectives]
    out = {}
    for name, metrics in result.metrics.items():
        points = np.concatenate([-metrics[:, :, None], result.costs[name][:, :, columns]], axis=2)
        points = norm(points.reshape(-1, points.shape[2])).reshape(points.shape)
        ones = np.ones(points.shape[2])
        out[name] = np.array([[hypervolume(seed[:q], ones) for q in checkpoints] for seed in points])
    return out


def one_sided_p(better: np.ndarray, worse: np.ndarray) -> float | None:
    """Mann-Whitney U, alternative 'greater'; None without scipy (a test dependency only)."""
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        return None
    if np.array_equal(better, worse):
        return 1.0
    return float(mannwhitneyu(better, worse, alternative="greater").pvalue)


def render_goal_summary(result: Any, table: Any, full_rows: int, checkpoints: list[int]):
    """Best metric within the limits and, with cost objectives, the front's hypervolume; each with a
    one-sided Mann-Whitney U p-value against random search at the same queries."""
    from rich.table import Table as RichTable

    goal = result.goal
    checkpoints = checkpoints or [result.budget]
    last = result.budget
    limits = ", ".join(f"{k} <= {v:,.6g}" for k, v in sorted(goal.limits.items())) or "none"
    caption = [
        (
            f"limits: {limits}; {len(table.metrics):,} of {full_rows:,} rows within them, best "
            f"{max(table.metrics.values()):g}. p: one-sided Mann-Whitney U against random at the same queries"
        )
    ]
    out = RichTable(title=f"under the goal: objectives {','.join(goal.objectives)}")
    out.add_column("strategy")
    out.add_column(f"best within limits @{last}", justify="right")
    out.add_column("p (> random)", justify="right")
    volumes = {}
    if goal.multi:
        norm = Normaliser.of(table, goal)
        volumes = hypervolume_at(result, norm, checkpoints)
        for q in checkpoints:
            out.add_column(f"hypervolume @{q}", justify="right")
        out.add_column("p (> random)", justify="right")
        caption.append(
            f"hypervolume of the queried front, objectives normalised over the rows within the limits; the "
            f"table's own front: {table_front_hypervolume(table, goal, norm):.4f}"
        )
    out.caption = "; ".join(caption)
    best = {name: result.best_so_far(name)[:, last - 1] for name in result.metrics}

    def p_text(values: dict[str, np.ndarray], name: str) -> str:
        if name == "random" or "random" not in values:
            return "-"
        p = one_sided_p(values[name], values["random"])
        return "n/a" if p is None else f"{p:.2g}"

    for name in result.metrics:
        cells = [name, f"{best[name].mean():.3f} ± {best[name].std():.3f}", p_text(best, name)]
        if goal.multi:
            cells += [f"{v.mean():.4f} ± {v.std():.4f}" for v in volumes[name].T]
            cells.append(p_text({k: v[:, -1] for k, v in volumes.items()}, name))
        out.add_row(*cells)
    return out, volumes


def plot_hypervolume(result: Any, table: Any, path) -> None:
    from nas.viz.progress_plot import plot_curves

    norm = Normaliser.of(table, result.goal)
    # From a tenth of the budget on: the first queries would squash the differences that matter.
    first = max(1, result.budget // 10)
    queries = list(range(first, result.budget + 1, max(1, result.budget // 50))) + [result.budget]
    queries = sorted(set(queries))
    volumes = hypervolume_at(result, norm, queries)
    plot_curves(
        {name: (queries, v.mean(0), v.std(0)) for name, v in volumes.items()},
        path,
        xlabel="queries (table lookups of new architectures)",
        ylabel="hypervolume of the queried front (normalised)",
        title=f"{','.join(result.goal.objectives)}: mean ± std over {len(result.seeds)} seeds",
    )
