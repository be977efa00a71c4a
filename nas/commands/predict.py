"""`nas predict`: classify image files with an exported network, printing the top classes per image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import TopKOption
from nas.errors import UserError

BATCH = 256  # images decoded and classified at a time, so any number of files fits in memory


def predict(
    export_dir: Annotated[Path, typer.Argument(help="Export folder (nas export ... -o DIR).")],
    images: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG, ...).")],
    top_k: Annotated[int, TopKOption(help="Classes printed per image, most probable first.")] = 3,
) -> None:
    """Classify images with an exported network: one line per image with its top classes and probabilities."""
    import nas

    if top_k < 1:
        raise UserError(f"--top-k {top_k} must be at least 1")
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        raise UserError(
            f"no image file {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    model = nas.load(export_dir)
    if not hasattr(model, "predict"):
        raise UserError(
            f"{export_dir} holds no model.py with preprocessing (TorchScript only, or an export made before "
            "exports carried it); export it again with `nas export`"
        )
    k = min(top_k, len(model.CLASS_NAMES))
    for start in range(0, len(images), BATCH):
        chunk = images[start : start + BATCH]
        try:
            _, probs = model.predict([str(p) for p in chunk])
        except Exception:
            _, probs = _one_by_one(model, chunk)
        top = probs.topk(k, dim=1)
        for path, values, indices in zip(chunk, top.values.tolist(), top.indices.tolist()):
            ranked = ", ".join(f"{model.CLASS_NAMES[i]} {p:.3f}" for p, i in zip(values, indices))
            typer.echo(f"{path}: {ranked}")


def _one_by_one(model, paths: list[Path]):
    """Classify again image by image to name the file that cannot be read."""
    import torch

    rows = []
    for path in paths:
        try:
            rows.append(model.predict([str(path)])[1])
        except Exception as e:
            raise UserError(
                f"{path} is not a readable image ({type(e).__name__}: {' '.join(str(e).split())})"
            ) from None
    return None, torch.cat(rows)
