"""Plots of search progress and benchmark curves (matplotlib, no screen needed)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import UserError
from nas.runs.folder import RunFolder
from nas.runs.trial import METRIC, CandidateStatus, is_ranked, rank_key
from nas.viz.figures import plt, save_figure


def plot_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]],
    path: str | os.PathLike,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
) -> None:
    """One line per name: (x, mean, std or None); std is drawn as a band of ±1 std."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, (x, mean, std) in curves.items():
        x, mean = np.asarray(x), np.asarray(mean)
        (line,) = ax.plot(x, mean, label=name, linewidth=2)
        if std is not None:
            std = np.asarray(std)
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


# -- search progress --


@dataclass(frozen=True)
class PlottedRun:
    """One run's candidates, split the way the progress plot shows them."""

    label: str
    completed: list[dict[str, Any]]  # in the order their results arrived
    stopped: list[dict[str, Any]]
    failed: int
    start: float  # unix time of the run's first result, any status

    @classmethod
    def of(cls, run: RunFolder) -> PlottedRun:
        trials = sorted(
            run.trials(),
            key=lambda t: (t.get("finished_at") is None, t.get("finished_at") or 0.0, t.get("proposal") or 0),
        )
        try:
            config = run.config()
        except UserError:
            config = {}  # a folder of trials without its config still plots; the label just says less
        strategy = config.get("strategy") or next((t["strategy"] for t in trials if t.get("strategy")), "?")
        times = [t["finished_at"] for t in trials if t.get("finished_at") is not None]
        return cls(
            label=f"{config.get('name') or run.name} ({strategy})",
            completed=[t for t in trials if is_ranked(t)],
            stopped=[
                t for t in trials if t["status"] == CandidateStatus.STOPPED and t.get(METRIC) is not None
            ],
            failed=sum(t["status"] == CandidateStatus.FAILED for t in trials),
            start=min(times, default=0.0),
        )

    def best_so_far(self) -> np.ndarray:
        return np.maximum.accumulate([100 * t["val_accuracy"] for t in self.completed])

    def minutes(self) -> np.ndarray:
        return np.array([((t.get("finished_at") or self.start) - self.start) / 60 for t in self.completed])

    def winner(self) -> dict[str, Any]:
        return min(self.completed, key=rank_key)


def plot_progress(runs: Sequence[RunFolder], path: str | os.PathLike, title: str = "") -> Path:
    """Best validation accuracy so far against completed candidates and against wall time, one line per run,
    and every candidate's accuracy against its size with each run's winner starred. Raises UserError when no
    run has a completed candidate."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    progress = [PlottedRun.of(run) for run in runs]
    if not any(p.completed for p in progress):
        names = ", ".join(run.name for run in runs)
        raise UserError(
            f"nothing to plot: no completed candidates yet in {names}; wait for results or check trials"
        )
    fig, (by_count, by_time, by_size) = plt.subplots(1, 3, figsize=(16, 4.8))
    cost, scale, cost_label = cost_axis(runs)
    colours = plt.get_cmap("tab10")
    for i, p in enumerate(progress):
        colour = colours(i % 10)
        if not p.completed:
            by_count.plot([], [], color=colour, label=f"{p.label}: no completed candidates")
            continue
        best = p.best_so_far()
        label = f"{p.label}: best {best[-1]:.2f}%"
        by_count.step(np.arange(1, len(best) + 1), best, where="post", color=colour, linewidth=2, label=label)
        by_time.step(p.minutes(), best, where="post", color=colour, linewidth=2, label=label)

        sized = [t for t in p.completed if t.get(cost)]
        by_size.scatter(
            [t[cost] / scale for t in sized],
            [100 * t["val_accuracy"] for t in sized],
            s=22,
            color=colour,
            alpha=0.7,
        )
        stopped = [t for t in p.stopped if t.get(cost)]
        by_size.scatter(
            [t[cost] / scale for t in stopped],
            [100 * t["val_accuracy"] for t in stopped],
            s=22,
            facecolors="none",
            edgecolors=colour,
            alpha=0.8,
        )
        win = p.winner()
        if win.get(cost):
            by_size.scatter(
                [win[cost] / scale],
                [100 * win["val_accuracy"]],
                marker="*",
                s=280,
                color=colour,
                edgecolors="black",
                linewidths=0.8,
                zorder=5,
            )

        draw_front(by_size, runs[i], p, cost, scale, colour)

    # Colour already names the run (left panels); this key only says what the marker shapes mean.
    grey = "#666666"
    by_size.legend(
        handles=[
            Line2D([], [], linestyle="", marker="o", color=grey, label="completed"),
            Line2D(
                [],
                [],
                linestyle="",
                marker="o",
                markerfacecolor="none",
                color=grey,
                label="stopped early (partial training)",
            ),
            Line2D(
                [],
                [],
                linestyle="",
                marker="*",
                markersize=14,
                markeredgecolor="black",
                color=grey,
                label="best of its run",
            ),
            Line2D([], [], color=grey, linewidth=1.5, label="Pareto front"),
            Line2D([], [], color=grey, linestyle=":", label="limit"),
        ],
        fontsize=8,
        loc="best",
    )
    by_count.set_xlabel("completed candidates (in order of arrival)")
    by_time.set_xlabel("wall time since the first result (minutes)")
    by_size.set_xlabel(f"{cost_label} (log scale)")
    if any(t.get(cost) for p in progress for t in p.completed + p.stopped):
        by_size.set_xscale("log")  # only with something to scale: an empty log axis is an error in matplotlib
    # Plain numbers on the log axis; minor ticks labelled at 2, 3 and 5 only so they never run together.
    by_size.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    by_size.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: f"{x:g}" if f"{x:.0e}"[0] in "235" else ""))
    for ax in (by_count, by_time):
        ax.set_ylabel("best validation accuracy so far (%)")
        ax.legend(fontsize=8, loc="lower right")
    by_size.set_ylabel("validation accuracy (%)")
    by_count.set_title("best so far vs candidates")
    by_time.set_title("best so far vs wall time")
    by_size.set_title(f"all candidates: accuracy vs {cost}, Pareto front")
    for ax in (by_count, by_time, by_size):
        ax.grid(alpha=0.3)
    counts = "; ".join(
        f"{p.label}: {len(p.completed)} completed, {len(p.stopped)} stopped early, "
        f"{p.failed} failed (not shown)"
        for p in progress
    )
    fig.text(0.5, -0.02, counts, ha="center", va="top", fontsize=9, color="#444444", wrap=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    return Path(path)


COST_AXES = {  # cost -> (scale, axis label)
    "params": (1e6, "parameters (millions)"),
    "flops": (1e6, "MFLOPs per image"),
    "latency_ms": (1.0, "latency at batch 1 (ms)"),
}


def cost_axis(runs: Sequence[RunFolder]) -> tuple[str, float, str]:
    """The cost the accuracy panel is drawn against: the first run's first cost objective, else parameters."""
    for run in runs:
        try:
            objectives = run.config().get("objectives") or []
        except UserError:
            continue
        if len(objectives) > 1 and objectives[1] in COST_AXES:
            return (objectives[1], *COST_AXES[objectives[1]])
    return ("params", *COST_AXES["params"])


def draw_front(ax, run: RunFolder, progress: PlottedRun, cost: str, scale: float, colour) -> None:
    """The run's non-dominated candidates in accuracy and `cost` as a step line, and its limit on `cost`."""
    from strategies.objectives import pareto_mask

    sized = [t for t in progress.completed if t.get(cost)]
    if sized:
        points = np.array([[-t["val_accuracy"], t[cost]] for t in sized])
        front = points[pareto_mask(points)]
        front = front[np.argsort(front[:, 1])]
        ax.step(front[:, 1] / scale, -100 * front[:, 0], where="post", color=colour, linewidth=1.5, alpha=0.9)
    try:
        limit = run.config().get(f"max_{cost}")
    except UserError:
        limit = None
    if limit:
        ax.axvline(limit / scale, color=colour, linestyle=":", linewidth=1.2)
