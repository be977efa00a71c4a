"""Final training: the chosen architecture trained on all 50,000 training images, then scored once on the
10,000 test images (plain and with flip test-time augmentation). The test set is read nowhere else."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import search_spaces
from nas.arch_file import arch_from_data, read_arch_json
from nas.atomic import write_json
from nas.errors import UserError
from nas.search.candidate import CandidateStatus
from nas.search.run_folder import DEFAULT_RESULTS_DIR, RunFolder, open_run
from nas.train.checkpoint import Checkpoint, save_checkpoint
from nas.train.data import load_splits, stratified_sample
from nas.train.device import resolve_device
from nas.train.presets import PRESETS, Preset
from nas.train.trainer import evaluate, train_candidate
from search_spaces import Architecture, canonical_hash


@dataclass(frozen=True)
class FinalTarget:
    """What to train and where its record goes."""

    arch: Architecture
    space_options: dict[str, Any]
    folder: Path


def resolve_target(
    run: str | None,
    *,
    results_dir: str | os.PathLike | None = None,
    arch_file: str | os.PathLike | None = None,
    output: str | os.PathLike | None = None,
) -> FinalTarget:
    """The run's best candidate by validation accuracy, or the architecture in `arch_file`. The space's
    options come from the run's config.json when there is a run, else the space's defaults."""
    if run is None and arch_file is None:
        raise UserError("name a run (nas final RUN) or an architecture file (nas final --arch FILE.json)")
    folder = open_run(run, results_dir) if run is not None else None
    space_name, space_options = None, {}
    if folder is not None:
        config = folder.config()
        space_name, space_options = config.get("space"), dict(config.get("space_options") or {})
    if arch_file is not None:
        text = read_arch_json(arch_file)
        if space_name is not None and text.get("space") != space_name:
            raise UserError(
                f"{arch_file} is a {text.get('space')!r} architecture but run {folder.name} searched "
                f"{space_name!r}; pass an architecture of that space or leave out RUN"
            )
        arch = arch_from_data(text, str(arch_file), space_options)
    else:
        row = folder.candidate(1)
        arch = arch_from_data(row["arch"], f"run {folder.name}'s best candidate", space_options)
    if folder is not None:
        target = folder.path
    else:
        target = (
            Path(output)
            if output is not None
            else Path(results_dir or DEFAULT_RESULTS_DIR) / f"final-{canonical_hash(arch)}"
        )
    return FinalTarget(arch, space_options, target)


def run_final(
    target: FinalTarget,
    preset: str | Preset = "final",
    *,
    data_path: str | os.PathLike | None = None,
    seed: int = 0,
    device: str | None = None,
) -> dict[str, Any]:
    """Train, test, then write final.pt and final.json (in that order, each atomically) into `target.folder`.
    Returns the record. Nothing is written when training fails."""
    preset = resolve_preset(preset)
    dev = resolve_device(device)
    space = search_spaces.make_space(target.arch.space, **target.space_options)
    data = load_splits(
        data_path, seed=seed, val_size=0, train_subset=preset.train.train_subset, include_test=True
    )
    test_x, test_y = data.test_images, data.test_labels
    if preset.train.test_subset is not None and preset.train.test_subset < len(test_y):
        keep = stratified_sample(test_y, preset.train.test_subset, np.random.default_rng(seed))
        test_x, test_y = test_x[keep], test_y[keep]

    def build() -> torch.nn.Module:
        return space.build(target.arch, preset.model)

    start = time.perf_counter()
    result = train_candidate(build, preset, data, device=dev, seed=seed)
    if result.status != CandidateStatus.COMPLETED:
        raise UserError(f"final training failed: {result.error}; nothing was written")
    model = build()
    model.load_state_dict(result.state_dict)
    eval_batch = preset.train.eval_batch_size
    test_accuracy = evaluate(model, test_x, test_y, device=dev, batch_size=eval_batch)
    test_accuracy_tta = evaluate(model, test_x, test_y, device=dev, batch_size=eval_batch, tta=True)
    wall_s = time.perf_counter() - start

    record = {
        "test_accuracy": test_accuracy,
        "test_accuracy_tta": test_accuracy_tta,
        "test_images": len(test_y),
        "train_images": len(data.train_labels),
        "params": result.params,
        "flops": result.flops,
        "epochs": result.epochs,
        "final_train_loss": result.loss,
        "wall_s": wall_s,
        "train_wall_s": result.wall_s,
        "images_per_s": result.images_per_s,
        "batch_size": result.batch_size,
        "cuda_graph": result.cuda_graph,
        "device": result.device,
        "torch_version": str(torch.__version__),  # TorchVersion would not load with weights_only
        "python_version": platform.python_version(),
        "host": f"{platform.node()} ({os.cpu_count()} CPUs)",
        "seed": seed,
        "arch": target.arch.to_dict(),
        "arch_hash": canonical_hash(target.arch),
        "space_options": target.space_options,
        "preset": preset.to_dict(),
        "data": data.source,
        "command": " ".join(sys.argv),
        "finished_at": time.time(),
    }
    folder = RunFolder(target.folder)
    save_checkpoint(
        folder.final_checkpoint_path,
        Checkpoint(
            arch=target.arch,
            space_options=target.space_options,
            model_config=preset.model,
            state_dict=dict(result.state_dict),
            metadata={
                k: record[k]
                for k in ("test_accuracy", "test_accuracy_tta", "seed", "device", "torch_version")
            }
            | {"preset": preset.name},
        ),
    )
    write_json(folder.final_record_path, record)
    return record


def resolve_preset(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset]


__all__ = ["FinalTarget", "resolve_preset", "resolve_target", "run_final"]
