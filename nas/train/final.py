"""Final training: the chosen architecture trained on the whole training set, then scored once on the test
set (plain and with flip test-time augmentation). The test set is read nowhere else.

With `init` (an InitSource: nas.export.folder.load_init reads one from a checkpoint or an export folder) the
network starts from trained weights instead: transfer
learning onto new data. Every tensor whose name and shape still fit is kept; the classifier is new when the
class count differs (and so is the stem's convolution when a new image size needs another kernel).
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import search_spaces
from nas.arch_file import arch_from_data, read_arch_json
from nas.atomic import write_json
from nas.errors import UserError
from nas.provenance import command_line, versions
from nas.runs.folder import DEFAULT_RESULTS_DIR, RunFolder, open_run
from nas.runs.trial import CandidateStatus
from nas.train.checkpoint import Checkpoint, save_checkpoint
from nas.train.data import load_splits, stratified_sample
from nas.train.data_spec import DataSpec, recorded_spec
from nas.train.device import resolve_device
from nas.train.presets import FLIP_MODES, PRESETS, Preset, fit_preset
from nas.train.trainer import evaluate, predict, train_candidate
from search_spaces import Architecture, ModelConfig, canonical_hash

log = logging.getLogger(__name__)

# (folder, test images, true labels, predicted labels, class names, title) -> names of the files drawn
ErrorPictures = Callable[[Path, Any, Any, Any, Sequence[str], str], list[str]]


@dataclass(frozen=True)
class FinalTarget:
    """What to train and where its record goes."""

    arch: Architecture
    space_options: dict[str, Any]
    folder: Path
    data: dict[str, Any] = field(
        default_factory=dict
    )  # the run's data settings: data, image_size, test_fraction
    init: InitSource | None = None  # trained weights to start from (transfer learning)


@dataclass(frozen=True)
class InitSource:
    """Trained weights to fine-tune: from a nas checkpoint or an export folder, under the engine's names."""

    arch: Architecture
    space_options: dict[str, Any]
    model_config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    path: str


def transfer_weights(model: torch.nn.Module, state_dict: dict[str, torch.Tensor]) -> tuple[int, list[str]]:
    """Copy into `model` every tensor of `state_dict` whose name and shape fit; (kept, names left fresh)."""
    own = model.state_dict()
    fits = {k: v for k, v in state_dict.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    model.load_state_dict(fits, strict=False)
    return len(fits), [k for k in own if k not in fits]


def resolve_target(
    run: str | None,
    *,
    results_dir: str | os.PathLike | None = None,
    arch_file: str | os.PathLike | None = None,
    output: str | os.PathLike | None = None,
    pareto_pick: str | None = None,
    rank: int = 1,
    init: InitSource | None = None,
) -> FinalTarget:
    """The run's best candidate by validation accuracy, the architecture in `arch_file`, or (with only
    `init_from`) the architecture of those weights. The space's options come from the run's config.json when
    there is a run, else the space's defaults. Fine-tuning writes to `output`, default
    `results/finetune-<arch_hash>`, never over a run's own final.pt."""
    if run is None and arch_file is None and init is None:
        raise UserError("name a run (nas final RUN) or an architecture file (nas final --arch FILE.json)")
    folder = open_run(run, results_dir) if run is not None else None
    space_name, space_options, data = None, {}, {}
    if folder is not None:
        config = folder.config()
        space_name, space_options = config.get("space"), dict(config.get("space_options") or {})
        data = {k: config[k] for k in ("data", "image_size", "test_fraction") if config.get(k) is not None}
        spec = recorded_spec(config)
        if spec is not None:  # the size the run's data resolved to, whatever decided it
            data["image_size"] = spec.image_size
    if init is not None and run is None and arch_file is None:
        arch = init.arch
        space_options = init.space_options
    elif arch_file is not None:
        text = read_arch_json(arch_file)
        if space_name is not None and text.get("space") != space_name:
            raise UserError(
                f"{arch_file} is a {text.get('space')!r} architecture but run {folder.name} searched "
                f"{space_name!r}; pass an architecture of that space or leave out RUN"
            )
        arch = arch_from_data(text, str(arch_file), space_options)
    else:
        if pareto_pick is not None:
            from nas.runs.front import pick

            row = pick(folder, pareto_pick, rank)
        else:
            row = folder.candidate(rank)
        arch = arch_from_data(row["arch"], f"run {folder.name}'s chosen candidate", space_options)
    if init is not None:
        if canonical_hash(init.arch) != canonical_hash(arch):
            raise UserError(
                f"--init-from {init.path} holds architecture {canonical_hash(init.arch)}, not the chosen "
                f"{canonical_hash(arch)}; pass weights trained for this architecture or leave out RUN/--arch"
            )
        arch, space_options = init.arch, init.space_options  # its own block order: the weights follow it
    if output is not None:
        target = Path(output)
    elif init is not None:
        target = Path(results_dir or DEFAULT_RESULTS_DIR) / f"finetune-{canonical_hash(arch)}"
    elif folder is not None:
        target = folder.path
    else:
        target = Path(results_dir or DEFAULT_RESULTS_DIR) / f"final-{canonical_hash(arch)}"
    return FinalTarget(arch, space_options, target, data, init)


def run_final(
    target: FinalTarget,
    preset: str | Preset = "final",
    *,
    data_path: str | os.PathLike | None = None,
    seed: int = 0,
    device: str | None = None,
    image_size: int | None = None,
    test_fraction: float = 0.2,
    epochs: int | None = None,
    flip: str | None = None,
    error_pictures: ErrorPictures | None = None,
) -> dict[str, Any]:
    """Train, test, then write final.pt and final.json (in that order, each atomically) into `target.folder`.
    Returns the record. Nothing is written when training fails. The length is the preset's final one
    (`TrainConfig.for_final`: `final_scale` times a candidate's); `epochs` sets exactly that many instead;
    `flip` ("on", "off", "auto") overrides the preset's flip setting. Also writes the curves as TensorBoard
    files (FOLDER/tensorboard/final) and, given `error_pictures` (the commands pass
    `nas.viz.error_pictures.draw_error_pictures`), the pictures of the test errors."""
    preset = resolve_preset(preset)
    if epochs is not None:
        if epochs < 1:
            raise UserError(f"--epochs {epochs} must be at least 1")
        preset = replace(preset, train=preset.train.with_epochs(epochs))
    else:
        preset = replace(preset, train=preset.train.for_final())
    if flip is not None:
        if flip not in FLIP_MODES:
            raise UserError(f"--flip {flip}: choose one of {', '.join(FLIP_MODES)}")
        preset = replace(preset, train=replace(preset.train, flip=flip))
    dev = resolve_device(device)
    space = search_spaces.make_space(target.arch.space, **target.space_options)
    data = load_splits(
        data_path,
        seed=seed,
        val_size=0,
        train_subset=preset.train.train_subset,
        include_test=True,
        image_size=image_size,
        test_fraction=test_fraction,
    )
    preset = _fit_preset(preset, data.data_spec, target.init)
    test_x, test_y = data.test_images, data.test_labels
    if preset.train.test_subset is not None and preset.train.test_subset < len(test_y):
        keep = stratified_sample(test_y, preset.train.test_subset, np.random.default_rng(seed))
        test_x, test_y = test_x[keep], test_y[keep]

    def build() -> torch.nn.Module:
        return space.build(target.arch, preset.model)

    transfer: dict[str, Any] | None = None
    build_first = build
    if target.init is not None:
        init = target.init
        kept_fresh: list[tuple[int, list[str]]] = []

        def build_first() -> torch.nn.Module:
            model = build()
            kept_fresh.append(transfer_weights(model, init.state_dict))
            return model

    start = time.perf_counter()
    result = train_candidate(build_first, preset, data, device=dev, seed=seed)
    if result.status != CandidateStatus.COMPLETED:
        raise UserError(f"final training failed: {result.error}; nothing was written")
    if target.init is not None and kept_fresh:
        kept, fresh = kept_fresh[0]
        transfer = {"init_from": target.init.path, "tensors_kept": kept, "tensors_fresh": fresh}
    model = build()
    model.load_state_dict(result.state_dict)
    eval_batch = preset.train.eval_batch_size
    norm = {"mean": data.mean, "std": data.std}
    predicted = predict(model, test_x, device=dev, batch_size=eval_batch, **norm)
    test_accuracy = float((predicted == test_y).mean())  # evaluate()'s figure, from the same predictions
    test_accuracy_tta = evaluate(model, test_x, test_y, device=dev, batch_size=eval_batch, tta=True, **norm)
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
        "flip": result.flip,
        "curves": {k: list(v) for k, v in result.curves.items()},
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
        "dataset": {
            **data.data_spec.to_dict(),
            "train_images": len(data.train_labels),
            "test_images": len(data.test_labels),
        },
        "transfer": transfer,
        "versions": versions(),
        "command": command_line(),
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
            data_spec=data.data_spec,
        ),
    )
    title = f"{target.arch.space} {canonical_hash(target.arch)}, preset {preset.name}, seed {seed}"
    # Paths relative to the folder; final.json last: it marks the final run done.
    record["pictures"] = (
        []
        if error_pictures is None
        else _error_pictures(error_pictures, folder.path, test_x, test_y, predicted, data, title)
    )
    record["tensorboard"] = _tensorboard(folder.path, record, preset)
    write_json(folder.final_record_path, record)
    return record


def _error_pictures(
    draw: ErrorPictures, folder: Path, images, labels, predicted, data, title: str
) -> list[str]:
    """The pictures of the test errors; pictures are a convenience, so a failure to draw is logged, never a
    failure of the finished final run."""
    try:
        return draw(folder, images, labels, predicted, data.data_spec.class_names, title)
    except Exception as e:
        log.warning("could not draw the error pictures in %s: %s", folder, e)
        return []


def _tensorboard(folder: Path, record: dict[str, Any], preset: Preset) -> str | None:
    from nas.train.curves import TENSORBOARD_DIR, recipe_hparams, write_tensorboard

    try:
        hparams = recipe_hparams(preset.to_dict(), record["epochs"], record["flip"])
        metrics = {"test_accuracy": record["test_accuracy"], "train_loss": record["final_train_loss"]}
        write_tensorboard(folder / TENSORBOARD_DIR / "final", record["curves"], hparams, metrics)
        return f"{TENSORBOARD_DIR}/final"
    except Exception as e:
        log.warning("could not write the TensorBoard files in %s: %s", folder, e)
        return None


def _fit_preset(preset: Preset, spec: DataSpec, init: InitSource | None) -> Preset:
    """The preset fitted to the data; when fine-tuning, at the size of the network the weights come from
    (channels, cells, stem width, norm), with the preset's training regularisers (drop-path, dropout,
    auxiliary head)."""
    fitted = fit_preset(preset, spec)
    if init is None:
        return fitted
    model = replace(
        init.model_config,
        num_classes=fitted.model.num_classes,
        image_size=fitted.model.image_size,
        stem_stride=fitted.model.stem_stride,
        drop_path=fitted.model.drop_path,
        dropout=fitted.model.dropout,
        auxiliary=fitted.model.auxiliary,
    )
    return replace(fitted, model=model)


def resolve_preset(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset]


__all__ = [
    "FinalTarget",
    "InitSource",
    "resolve_preset",
    "resolve_target",
    "run_final",
    "transfer_weights",
]
