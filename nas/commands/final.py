"""`nas final`: train the chosen architecture on all training images and score it on the test set."""

from __future__ import annotations

import enum
import logging
from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import (
    DATA_HELP,
    CountOption,
    Device,
    OutputOption,
    PresetChoice,
    ResultsDir,
    arch_help,
    value,
)
from nas.train.presets import FLIP_MODES

FlipMode = enum.StrEnum("FlipMode", {mode: mode for mode in FLIP_MODES})


def final(
    run: Annotated[
        str | None, typer.Argument(help="Run name or folder; its best candidate is trained.")
    ] = None,
    results_dir: ResultsDir = None,
    arch: Annotated[
        str | None,
        typer.Option(
            show_default="the run's best", help=arch_help().removesuffix(".") + "; trained instead."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        OutputOption(
            "Folder for final.json and final.pt.",
            "the run's folder; else results/final-HASH, or results/finetune-HASH with --init-from",
        ),
    ] = None,
    preset: Annotated[PresetChoice, typer.Option(help="How the network is trained.")] = PresetChoice.final,
    data: Annotated[
        str | None,
        typer.Option(help=DATA_HELP, envvar="NAS_DATA", show_default="the run's data, else cifar10"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds weights, augmentation and batch order.")] = 0,
    device: Device = None,
    image_size: Annotated[
        int | None,
        typer.Option(
            metavar="PIXELS",
            show_default="the run's; else 32 for the CIFAR family, else the median image size, at most 64",
            help="Resize images to N x N pixels.",
        ),
    ] = None,
    test_fraction: Annotated[
        float | None,
        typer.Option(
            show_default="the run's, else 0.2",
            help="Share of each class tested when --data is one folder per class.",
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        CountOption(
            show_default="the preset's final length, which follows the data: docs/training.md",
            help="Train exactly this many epochs.",
        ),
    ] = None,
    flip: Annotated[
        FlipMode | None,
        typer.Option(
            show_default="the preset's: auto",
            help="Random horizontal flips while training; auto: off when the classes are left-right "
            "asymmetric (digits, text).",
        ),
    ] = None,
    init_from: Annotated[
        Path | None,
        typer.Option(
            show_default="fresh weights",
            help="Fine-tune from these trained weights (a final.pt checkpoint or an export folder); "
            "the classifier is replaced when the class count differs.",
        ),
    ] = None,
    pareto_pick: Annotated[
        str | None,
        typer.Option(
            show_default="the most accurate candidate",
            help='Train the most accurate Pareto-front candidate meeting a condition, e.g. "params<1e6".',
        ),
    ] = None,
    rank: Annotated[
        int, typer.Option(min=1, help="The K-th candidate (by accuracy, or within --pareto-pick).")
    ] = 1,
    recipe: Annotated[
        Path | None,
        typer.Option(
            show_default="the preset's",
            help="Recipe TOML (e.g. RUN/best_recipe.toml from nas tune): overrides the preset's values.",
        ),
    ] = None,
) -> None:
    """Train a run's best architecture (or --arch) on the whole training set; write final.json and
    final.pt."""
    from nas.train.final import resolve_preset, resolve_target, run_final
    from nas.viz.error_pictures import draw_error_pictures

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    chosen = resolve_preset(value(preset))  # a bad preset name fails before any data is read
    if recipe is not None:
        from nas.train.recipe import apply_recipe, read_recipe

        # final.json's preset then holds the recipe's values
        chosen = apply_recipe(chosen, read_recipe(recipe))
    if pareto_pick is not None and (run is None or arch is not None):
        from nas.errors import UserError

        raise UserError("--pareto-pick chooses among a RUN's candidates; give a RUN and no --arch")
    from nas.export.folder import load_init

    target = resolve_target(
        run,
        results_dir=results_dir,
        arch_file=arch,
        output=output,
        init=load_init(init_from) if init_from is not None else None,
        pareto_pick=pareto_pick,
        rank=rank,
    )
    run_data = target.data if data is None else {}  # the run's image size belongs to the run's data
    record = run_final(
        target,
        chosen,
        data_path=data if data is not None else run_data.get("data"),
        seed=seed,
        device=device,
        image_size=image_size if image_size is not None else run_data.get("image_size"),
        test_fraction=test_fraction if test_fraction is not None else run_data.get("test_fraction", 0.2),
        epochs=epochs,
        flip=value(flip),
        error_pictures=draw_error_pictures,
    )
    extra = [*record["pictures"], *([record["tensorboard"]] if record["tensorboard"] else [])]
    typer.echo(
        f"test accuracy {record['test_accuracy']:.4f} (flip TTA {record['test_accuracy_tta']:.4f}) on "
        f"{record['test_images']} test images after {record['epochs']} epochs (flips "
        f"{'on' if record['flip'] else 'off'}), {record['wall_s']:.0f} s on {record['device']}; wrote "
        f"{target.folder / 'final.json'}, {target.folder / 'final.pt'}"
        + "".join(f", {target.folder / p}" for p in extra)
    )
