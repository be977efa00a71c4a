"""`nas final`: train the chosen architecture on all training images and score it on the test set."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import ResultsDir


def final(
    run: Annotated[
        str | None, typer.Argument(help="Run name or folder; its best candidate is trained.")
    ] = None,
    results_dir: ResultsDir = None,
    arch: Annotated[
        Path | None,
        typer.Option(
            help="Train this architecture (JSON from search_spaces.to_json) instead of the run's best."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Output folder when no RUN is given (default: results/final-<arch_hash>)."),
    ] = None,
    preset: Annotated[str, typer.Option(help="Training preset: smoke, proxy or final.")] = "final",
    data: Annotated[
        str | None,
        typer.Option(
            help="CIFAR-10 folder: cifar-10-batches-py, train/test.parquet, or "
            "train/<class>/ + test/<class>/ images. Default: download.",
            envvar="NAS_DATA",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds weights, augmentation and batch order.")] = 0,
    device: Annotated[
        str | None, typer.Option(help="cuda, cuda:N or cpu (default: cuda if available).")
    ] = None,
) -> None:
    """Train a run's best architecture (or --arch) on all 50,000 training images; write final.json and
    final.pt."""
    from nas.train.final import resolve_preset, resolve_target, run_final

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    chosen = resolve_preset(preset)  # a bad preset name fails before any data is read
    target = resolve_target(run, results_dir=results_dir, arch_file=arch, output=output)
    record = run_final(target, chosen, data_path=data, seed=seed, device=device)
    typer.echo(
        f"test accuracy {record['test_accuracy']:.4f} (flip TTA {record['test_accuracy_tta']:.4f}) on "
        f"{record['test_images']} test images after {record['epochs']} epochs, {record['wall_s']:.0f} s on "
        f"{record['device']}; wrote {target.folder / 'final.json'} and {target.folder / 'final.pt'}"
    )
