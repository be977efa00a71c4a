"""Training-free scores against validation accuracy: does a score rank this run's candidates as training
did?"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from nas.errors import UserError
from nas.runs.folder import RunFolder
from nas.score_names import DEFAULT_SCORES

SCORE_COLUMNS = (*((f"score_{n}", n) for n in DEFAULT_SCORES), ("combined_rank", "combined rank"))


def spearman_with_accuracy(rows: list[dict[str, Any]], column: str) -> tuple[float | None, int]:
    """Spearman's rho between `column` and val_accuracy over rows that have both (finite); None below 3 rows
    or when either side is constant."""
    from scipy.stats import spearmanr

    pairs = [
        (r[column], r["val_accuracy"])
        for r in rows
        if r.get(column) is not None
        and r.get("val_accuracy") is not None
        and math.isfinite(r[column])
        and r.get("status", "completed") == "completed"
    ]
    if len(pairs) < 3 or len({p[0] for p in pairs}) < 2 or len({p[1] for p in pairs}) < 2:
        return None, len(pairs)
    return float(spearmanr(*zip(*pairs)).statistic), len(pairs)


def run_score_rows(run: RunFolder) -> list[dict[str, Any]]:
    """The run's completed candidates with their default scores: from trials.parquet (a search with
    --warm-start or --record-scores), else from RUN/scores.parquet (`nas score RUN`), and their combined rank
    over these rows."""
    import numpy as np

    from nas.scores import combined_rank

    columns = [c for c, _ in SCORE_COLUMNS[:-1]]
    rows = [t for t in run.trials() if t["status"] == "completed"]
    if not any(all(r.get(c) is not None for c in columns) for r in rows):
        scored = run.path / "scores.parquet"
        if not scored.exists():
            raise UserError(
                f"run {run.name} has no scores: score its candidates with `nas score {run.name}` first, or "
                "search with --record-scores or --warm-start"
            )
        import pyarrow.parquet as pq

        by_trial = {s["trial_id"]: s for s in pq.read_table(scored).to_pylist() if s.get("trial_id")}
        rows = [
            {**r, **{c: by_trial[r["trial_id"]].get(c) for c in columns}}
            for r in rows
            if r["trial_id"] in by_trial
        ]
    rows = [r for r in rows if all(r.get(c) is not None for c in columns)]
    records = [{n: r[f"score_{n}"] for n in DEFAULT_SCORES} for r in rows]
    for row, rank in zip(rows, combined_rank(records) if rows else np.zeros(0)):
        row["combined_rank"] = float(rank)
    return rows


def plot_scores(run: RunFolder, path: str | os.PathLike) -> Path:
    """One panel per score: each completed candidate's score (x) against its validation accuracy (y), with
    Spearman's rho in the panel's title; synflow on a log axis."""
    from nas.viz.figures import plt, save_figure

    rows = run_score_rows(run)
    if len(rows) < 2:
        raise UserError(f"run {run.name} has {len(rows)} completed, scored candidates; plotting needs 2")
    fig, axes = plt.subplots(1, len(SCORE_COLUMNS), figsize=(4.2 * len(SCORE_COLUMNS), 4), sharey=True)
    for ax, (column, label) in zip(axes, SCORE_COLUMNS):
        rho, n = spearman_with_accuracy(rows, column)
        xs = [r[column] for r in rows]
        ax.scatter(xs, [100 * r["val_accuracy"] for r in rows], s=14, alpha=0.7)
        if column == "score_synflow" and min(xs) > 0:
            ax.set_xscale("log")
        ax.set_title(f"{label}: Spearman {'n/a' if rho is None else f'{rho:.2f}'} (n={n})")
        ax.set_xlabel(label + (" (of ranks)" if column == "combined_rank" else " at initialisation"))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation accuracy (%)")
    fig.suptitle(f"{run.name}: training-free scores vs validation accuracy")
    save_figure(fig, path)
    return Path(path)
