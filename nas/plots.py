"""Plots of search progress and benchmark curves (matplotlib, no screen needed)."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nas.atomic import atomic_path  # noqa: E402


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write PNG or SVG by the file's suffix, atomically."""
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix, dpi=150, bbox_inches="tight")
    plt.close(fig)


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
