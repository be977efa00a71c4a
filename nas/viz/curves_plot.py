"""Training curves of a run's top candidates (`nas plot RUN --curves`): per epoch, loss and accuracy on the
training batches and on the validation images, so the gap between them (overfitting) is visible, and the
learning rate. One row of panels per candidate, best first."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.ticker import MaxNLocator

from nas.errors import UserError
from nas.runs.folder import RunFolder
from nas.train.curves import trial_curves
from nas.viz.figures import plt, save_figure

TOP = 4  # candidates drawn by default


def plot_curves(run: RunFolder, path: str | os.PathLike, top: int = TOP) -> Path:
    """Draw the curves of the run's `top` best ranked candidates into `path` (PNG or SVG)."""
    ranked = [(rank, t) for rank, t in enumerate(run.ranked(), start=1)][:top]
    drawn = [(rank, t, trial_curves(t)) for rank, t in ranked]
    drawn = [(rank, t, c) for rank, t, c in drawn if c.get("epoch")]
    if not drawn:
        raise UserError(
            f"run {run.name} has no recorded curves: its candidates were trained before curves were "
            "recorded, "
            "or none has completed yet"
        )
    fig, axes = plt.subplots(len(drawn), 3, figsize=(13, 3.0 * len(drawn)), squeeze=False)
    for row, (rank, trial, curves) in zip(axes, drawn):
        epochs = curves["epoch"]
        loss_ax, acc_ax, lr_ax = row
        for key, label, style in (("train_loss", "train", "-"), ("val_loss", "validation", "--")):
            _line(loss_ax, epochs, curves.get(key), label, style)
        for key, label, style in (("train_accuracy", "train", "-"), ("val_accuracy", "validation", "--")):
            _line(
                acc_ax, epochs, [None if v is None else 100 * v for v in curves.get(key) or []], label, style
            )
        _gap_note(acc_ax, curves)
        _line(lr_ax, epochs, curves.get("lr"), "learning rate", "-")
        loss_ax.set_ylabel(f"#{rank} {trial['trial_id']}\nloss")
        acc_ax.set_ylabel("accuracy (%)")
        lr_ax.set_ylabel("learning rate")
        for ax in row:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        loss_ax.legend(fontsize=8)
        acc_ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"{run.name}: training vs validation curves of the top {len(drawn)} candidates "
        "(training figures on augmented batches while learning; validation after each epoch)",
        fontsize=10,
    )
    fig.tight_layout()
    save_figure(fig, path)
    return Path(path)


def _line(ax, epochs, values, label: str, style: str) -> None:
    points = [(e, v) for e, v in zip(epochs, values or []) if v is not None]
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, style, marker="o", markersize=3, label=label)


def _gap_note(ax, curves) -> None:
    """The last epoch's train - validation accuracy: the overfitting gap, in points."""
    train, val = curves.get("train_accuracy") or [], curves.get("val_accuracy") or []
    if train and val and train[-1] is not None and val[-1] is not None:
        gap = 100 * (train[-1] - val[-1])
        ax.set_title(f"gap at the last epoch: {gap:+.1f} points (train - validation)", fontsize=8)
