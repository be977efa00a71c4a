"""`nas export`: hand an architecture over as plain PyTorch code, TorchScript or ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import ResultsDir


def export(
    run: Annotated[str | None, typer.Argument(help="Run name (under --results-dir) or run folder.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Export folder to create.")] = ...,
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="py (default; always written), torchscript, onnx. Repeatable."),
    ] = None,
    rank: Annotated[
        int | None, typer.Option(help="Export the K-th best completed candidate (default 1).")
    ] = None,
    arch: Annotated[
        str | None, typer.Option(help="Architecture JSON file (or a known cell name) instead of a run's.")
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="nas checkpoint with the weights (default: the run's final.pt if it holds this arch)."
        ),
    ] = None,
    results_dir: ResultsDir = None,
    batch_size: Annotated[int, typer.Option(help="Batch size of the fixed ONNX input shape.")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing export folder.")] = False,
    pareto_pick: Annotated[
        str | None,
        typer.Option(
            help='Export the most accurate Pareto-front candidate meeting a condition, e.g. "params<1e6" '
            "(--rank K: the K-th); 'all' keeps the whole front."
        ),
    ] = None,
) -> None:
    """Export an architecture with its weights as plain PyTorch code, TorchScript or ONNX."""
    from nas.export import folder

    source = folder.resolve_source(run, results_dir, rank, arch, weights, pareto_pick=pareto_pick)
    if source.warning:
        typer.echo(f"warning: {source.warning}", err=True)
    formats = tuple(dict.fromkeys(f.lower() for f in (fmt or ["py"])))
    result = folder.export(source, out, formats, batch_size=batch_size, overwrite=overwrite)
    meta = result.metadata
    accuracy = "n/a" if meta["test_accuracy"] is None else f"{meta['test_accuracy']:.4f}"
    typer.echo(
        f"exported {meta['space']} architecture {meta['arch_hash']} ({meta['params']:,} params, "
        f"test accuracy {accuracy}) to {result.path}: {', '.join(result.files)}"
    )
