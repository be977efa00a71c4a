"""`nas export`: hand an architecture over as plain PyTorch code, TorchScript or ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import CountOption, ModelFormat, OutputOption, ResultsDir, arch_help, value


def export(
    run: Annotated[str | None, typer.Argument(help="Run name (under --results-dir) or run folder.")] = None,
    output: Annotated[Path, OutputOption("Export folder to create.")] = ...,
    model_format: Annotated[
        list[ModelFormat] | None,
        typer.Option(
            "--model-format",
            "-f",
            show_default="py",
            help="Formats to write besides model.py (always written). Repeatable.",
        ),
    ] = None,
    rank: Annotated[
        int | None,
        typer.Option(min=1, show_default="1", help="Export the K-th best completed candidate."),
    ] = None,
    arch: Annotated[
        str | None,
        typer.Option(show_default="the run's", help=arch_help().removesuffix(".") + "; instead of a run's."),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            show_default="the run's final.pt when it holds this architecture, else fresh weights",
            help="nas checkpoint with the weights.",
        ),
    ] = None,
    results_dir: ResultsDir = None,
    batch_size: Annotated[int, CountOption(help="Batch size of the fixed ONNX input shape.")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing export folder.")] = False,
    pareto_pick: Annotated[
        str | None,
        typer.Option(
            show_default="the most accurate candidate",
            help='Export the most accurate Pareto-front candidate meeting a condition, e.g. "params<1e6" '
            "(--rank K: the K-th); 'all' keeps the whole front.",
        ),
    ] = None,
) -> None:
    """Export an architecture with its weights as plain PyTorch code, TorchScript or ONNX."""
    from nas.export import folder

    source = folder.resolve_source(run, results_dir, rank, arch, weights, pareto_pick=pareto_pick)
    if source.warning:
        typer.echo(f"warning: {source.warning}", err=True)
    formats = tuple(dict.fromkeys(value(f) for f in (model_format or ["py"])))
    result = folder.export(source, output, formats, batch_size=batch_size, overwrite=overwrite)
    meta = result.metadata
    accuracy = "n/a" if meta["test_accuracy"] is None else f"{meta['test_accuracy']:.4f}"
    typer.echo(
        f"exported {meta['space']} architecture {meta['arch_hash']} ({meta['params']:,} params, "
        f"test accuracy {accuracy}) to {result.path}: {', '.join(result.files)}"
    )
