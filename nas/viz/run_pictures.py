"""The pictures a run folder keeps up to date: RUN/progress.png and RUN/best_cell.png, redrawn together by the
search (nas/searching/driver.py) when it ends, and the caption and architecture of a run's candidate that
`nas show RUN` draws too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.arch_file import arch_from_data
from nas.runs.folder import RunFolder
from nas.viz.cell_diagram import save_cell_diagram
from nas.viz.progress_plot import plot_progress
from search_spaces import Architecture

__all__ = ["candidate_arch", "candidate_caption", "refresh_run_pictures"]


def candidate_caption(run: RunFolder, trial: dict[str, Any], rank: int) -> str:
    params = f", {trial['params'] / 1e6:.2f}M params" if trial.get("params") else ""
    return (
        f"{run.name}: rank {rank} of {len(run.ranked())} completed, validation accuracy "
        f"{100 * trial['val_accuracy']:.2f}%{params} (trial {trial['trial_id']}, hash {trial['arch_hash']})"
    )


def candidate_arch(trial: dict[str, Any]) -> Architecture:
    where = f"trial {trial.get('trial_id')} (is trials.parquet from another version of nas?)"
    return arch_from_data(trial["arch"], where)


def refresh_run_pictures(run: RunFolder) -> list[Path]:
    """Rewrite RUN/progress.png and RUN/best_cell.png (atomically); returns the files written. A run with no
    completed candidate yet gets none, so a search may call this at any point."""
    ranked = run.ranked()
    if not ranked:
        return []
    progress = plot_progress([run], run.progress_plot_path)
    best = ranked[0]
    cell = save_cell_diagram(
        candidate_arch(best),
        run.best_cell_path,
        title=f"Best cell of {run.name}",
        caption=candidate_caption(run, best, 1),
    )
    return [progress, cell]
