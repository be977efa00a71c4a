"""A training run's per-epoch curves (nas.train.trainer.CURVE_KEYS) as JSON text for records, and as
TensorBoard event files: one folder per run under RUN/tensorboard/, so `tensorboard --logdir results/RUN`
shows every candidate and the final run side by side, with the recipe in the HParams tab."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TENSORBOARD_DIR = "tensorboard"  # inside a run folder
# TensorBoard's tag of each curve; train and val sit side by side in one section ("loss", "accuracy").
TAGS = {
    "train_loss": "loss/train",
    "val_loss": "loss/val",
    "train_accuracy": "accuracy/train",
    "val_accuracy": "accuracy/val",
    "lr": "lr",
}


def to_json(curves: Mapping[str, list]) -> str | None:
    """Compact JSON text of the curves (the `curves` column of trials.parquet); None when there are none."""
    if not curves or not curves.get("epoch"):
        return None
    return json.dumps({k: list(v) for k, v in curves.items()}, separators=(",", ":"))


def from_json(text: str | None) -> dict[str, list]:
    """The curves of a record; empty when it has none (failed, or written before curves were recorded)."""
    return json.loads(text) if text else {}


def hparam_values(values: Mapping[str, Any]) -> dict[str, bool | int | float | str]:
    """Recipe values as TensorBoard's HParams tab takes them: numbers, text and booleans; None as "none"."""
    out: dict[str, bool | int | float | str] = {}
    for key, value in values.items():
        if value is None:
            out[key] = "none"
        elif isinstance(value, bool | int | float | str):
            out[key] = value
        else:
            out[key] = str(value)
    return out


def write_tensorboard(
    folder: str | os.PathLike,
    curves: Mapping[str, list],
    hparams: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float | None] | None = None,
) -> Path:
    """Write `curves` as scalars per epoch into `folder` (a new event file; an earlier one from a resumed or
    repeated run is replaced), and `hparams` with the run's final `metrics` for the HParams tab."""
    from torch.utils.tensorboard import SummaryWriter

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("events.out.tfevents.*"):
        old.unlink()  # one run, one record: a rewritten candidate must not show twice
    epochs = curves.get("epoch") or []
    with SummaryWriter(log_dir=str(folder)) as writer:
        for key, tag in TAGS.items():
            for epoch, value in zip(epochs, curves.get(key) or []):
                if value is not None:
                    writer.add_scalar(tag, float(value), int(epoch))
        if hparams:
            final = {f"hparam/{k}": float(v) for k, v in (metrics or {}).items() if v is not None}
            # run_name=".": the HParams record goes into this folder, not a new timestamped one beside it
            writer.add_hparams(hparam_values(hparams), final, run_name=".")
    return folder


def recipe_hparams(preset_dict: Mapping[str, Any], epochs: int, flip: bool | None) -> dict[str, Any]:
    """The HParams of one training run: its preset's training recipe and model size, with the length and flip
    setting as resolved for its data."""
    train, model = preset_dict.get("train", {}), preset_dict.get("model", {})
    keep = (
        "batch_size",
        "lr",
        "momentum",
        "weight_decay",
        "label_smoothing",
        "warmup_epochs",
        "crop_padding",
        "cutout",
        "images_seen",
        "min_steps",
    )
    values: dict[str, Any] = {"preset": preset_dict.get("name")}
    values.update({k: train.get(k) for k in keep})
    values.update(
        epochs=epochs,
        flip=flip,
        channels=model.get("channels"),
        cells_per_stage=model.get("cells_per_stage"),
        drop_path=model.get("drop_path"),
    )
    return values


def trial_curves(row: Mapping[str, Any]) -> dict[str, list]:
    """A trials row's curves; for a candidate stopped early (whose worker sent only its validation
    accuracies) those accuracies alone."""
    curves = from_json(row.get("curves"))
    if not curves and row.get("val_curve"):
        accuracies = list(row["val_curve"])
        curves = {"epoch": list(range(1, len(accuracies) + 1)), "val_accuracy": accuracies}
    return curves


def write_trial_tensorboard(
    run_path: str | os.PathLike,
    row: Mapping[str, Any],
    preset_dict: Mapping[str, Any],
    result: Mapping[str, Any] | None = None,
) -> Path | None:
    """RUN/tensorboard/<trial_id>: one candidate's curves, its recipe and its validation accuracy. A
    convenience: a failure to write is logged, never a failure of the search."""
    import logging

    curves = trial_curves(row)
    if not curves.get("epoch"):
        return None
    flip = (result or {}).get("flip")
    try:
        hparams = recipe_hparams(preset_dict, len(curves["epoch"]), flip)
        hparams.update(arch_hash=row.get("arch_hash"), status=row.get("status"))
        metrics = {"val_accuracy": row.get("val_accuracy")}
        folder = Path(run_path) / TENSORBOARD_DIR / str(row["trial_id"])
        return write_tensorboard(folder, curves, hparams, metrics)
    except Exception as e:
        logging.getLogger(__name__).warning(
            "could not write the TensorBoard files of %s: %s", row["trial_id"], e
        )
        return None
