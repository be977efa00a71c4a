"""`nas tune`: search the training recipe of one architecture, through the same Ray Tune path as a search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import ResultsDir


def tune(
    target: Annotated[
        str,
        typer.Argument(
            help="A run (its best candidate), a known cell (e.g. darts_v2) or an architecture file."
        ),
    ],
    grid: Annotated[
        list[str],
        typer.Option(help="KEY=V1,V2,...: values to try (repeatable); every combination is trained."),
    ],
    trials: Annotated[
        int | None, typer.Option(help="Train this many combinations drawn at random instead of all.")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="Training preset the recipe overrides. [default: the run's, else proxy]"),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Image folder, Parquet pair or dataset name. [default: the run's, else cifar10]"),
    ] = None,
    recipe: Annotated[
        Path | None, typer.Option(help="Recipe TOML whose values hold for every combination.")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(help="none or asha (stop weak recipes early).")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Recipes trained at once.")] = None,
    cpus_per_trial: Annotated[float | None, typer.Option(help="CPUs per recipe. [default: 1]")] = None,
    seed: Annotated[int | None, typer.Option(help="Seeds the sample and training. [default: 0]")] = None,
    name: Annotated[str | None, typer.Option(help="Run name. [default: tune-TARGET-SEED]")] = None,
    results_dir: ResultsDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="One log line per recipe.")] = False,
) -> None:
    """Search the training recipe of one architecture; write RUN/best_recipe.toml for --recipe."""
    from nas import api
    from nas.commands.search import _print_outcome
    from nas.train.recipe import parse_grid, read_recipe

    run = api.tune(
        target,
        grid=parse_grid(grid),
        trials=trials,
        results_dir=results_dir,
        quiet=quiet,
        preset=preset,
        data=data,
        recipe=read_recipe(recipe) if recipe is not None else None,
        scheduler=scheduler,
        concurrency=concurrency,
        cpus_per_trial=cpus_per_trial,
        seed=seed,
        name=name,
    )
    best = run.folder.path / "best_recipe.toml"
    if best.exists():
        typer.echo(f"best recipe: {best} (nas final {run.folder.name} --recipe {best})")
    _print_outcome(run.outcome)
