"""Pictures of searches under a goal: the fronts found by several strategies over a table's architectures."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from nas.viz.figures import plt, save_figure


def plot_fronts(
    table_points: np.ndarray,
    fronts: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    limit: float | None = None,
) -> None:
    """Every architecture of a table as a grey dot (x = cost, y = metric), each strategy's queried front as a
    step line with its points, and an optional vertical limit line."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(
        table_points[:, 0], table_points[:, 1], s=2, color="#bbbbbb", alpha=0.5, label="all architectures"
    )
    for name, front in fronts.items():
        order = front[np.argsort(front[:, 0])]
        (line,) = ax.step(order[:, 0], order[:, 1], where="post", linewidth=1.8, label=f"{name} front")
        ax.scatter(order[:, 0], order[:, 1], s=18, color=line.get_color(), zorder=3)
    if limit is not None:
        ax.axvline(limit, color="black", linestyle=":", linewidth=1.2, label="limit")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    low = np.percentile(table_points[:, 1], 5)
    ax.set_ylim(low, table_points[:, 1].max() + 0.3)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)
