"""The `nas` command: thin wrappers over the library. Each command lives in its own module under
nas/commands/ and is registered here; user mistakes become one-line errors with exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from nas.errors import UserError

app = typer.Typer(
    name="nas",
    help="Neural architecture search over cell search spaces (random, evolution, REINFORCE) on CIFAR-10.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Neural architecture search over cell search spaces (random, evolution, REINFORCE) on CIFAR-10."""


@app.command()
def spaces() -> None:
    """List the registered search spaces and the op registry."""
    import search_spaces
    from search_spaces.ops import OPS

    for name, cls in sorted(search_spaces.SPACES.items()):
        typer.echo(f"{name}: {cls.__doc__.strip().splitlines()[0] if cls.__doc__ else ''}")
    typer.echo(f"ops: {', '.join(sorted(OPS))}")


@app.command("export")
def export_command(
    run: Annotated[str | None, typer.Argument(help="Run name (under --results-dir) or run folder.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Export folder to create.")] = ...,
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="py (default; always written), torchscript, onnx. Repeatable."),
    ] = None,
    rank: Annotated[int | None, typer.Option(help="Export the K-th best completed candidate (default 1).")] = None,
    arch: Annotated[
        str | None, typer.Option(help="Architecture JSON file (or a known cell name) instead of a run's.")
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(help="nas checkpoint with the weights (default: the run's final.pt if it holds this arch)."),
    ] = None,
    results_dir: Annotated[Path | None, typer.Option(help="Folder holding runs.", envvar="NAS_RESULTS_DIR")] = None,
    batch_size: Annotated[int, typer.Option(help="Batch size of the fixed ONNX input shape.")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing export folder.")] = False,
) -> None:
    """Export an architecture with its weights as plain PyTorch code, TorchScript or ONNX."""
    from nas import export

    source = export.resolve_source(run, results_dir, rank, arch, weights)
    if source.warning:
        typer.echo(f"warning: {source.warning}", err=True)
    formats = tuple(dict.fromkeys(f.lower() for f in (fmt or ["py"])))
    result = export.export(source, out, formats, batch_size=batch_size, overwrite=overwrite)
    meta = result.metadata
    accuracy = "n/a" if meta["test_accuracy"] is None else f"{meta['test_accuracy']:.4f}"
    typer.echo(
        f"exported {meta['space']} architecture {meta['arch_hash']} ({meta['params']:,} params, "
        f"test accuracy {accuracy}) to {result.path}: {', '.join(result.files)}"
    )


def main() -> None:
    try:
        app()
    except UserError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
