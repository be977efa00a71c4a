"""Matplotlib set up once for files, not screens: the one module that picks the backend and imports pyplot.
Every picture of `nas.viz` is made with this `plt` and written with `save_figure`."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nas.atomic import atomic_path

__all__ = ["plt", "save_figure"]


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write PNG or SVG by the file's suffix, atomically, and free the figure."""
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix, dpi=150, bbox_inches="tight")
    plt.close(fig)
