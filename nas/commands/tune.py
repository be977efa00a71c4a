"""`nas tune`: search the training recipe of one architecture, through the same Ray Tune path as a search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import CountOption, PresetChoice, ResultsDir, SchedulerChoice, value
from nas.commands.search import Quiet


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
        int | None,
        CountOption(show_default="every combination", help="Train this many combinations drawn at random."),
    ] = None,
    preset: Annotated[
        PresetChoice | None,
        typer.Option(show_default="the run's, else proxy", help="Training preset the recipe overrides."),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            show_default="the run's, else cifar10", help="Image folder, Parquet pair or dataset name."
        ),
    ] = None,
    recipe: Annotated[
        Path | None,
        typer.Option(show_default="none", help="Recipe TOML whose values hold for every combination."),
    ] = None,
    scheduler: Annotated[
        SchedulerChoice | None,
        typer.Option(show_default="none", help="asha stops weak recipes early."),
    ] = None,
    concurrency: Annotated[
        int | None,
        CountOption(show_default="as many as the resources allow", help="Recipes trained at once."),
    ] = None,
    cpus_per_trial: Annotated[float, typer.Option(help="CPUs per recipe.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seeds the sample and training.")] = 0,
    name: Annotated[
        str | None,
        typer.Option(show_default="tune-TARGET-SEED", help="Run name: the folder under --results-dir."),
    ] = None,
    results_dir: ResultsDir = None,
    quiet: Quiet = False,
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
        preset=value(preset),
        data=data,
        recipe=read_recipe(recipe) if recipe is not None else None,
        scheduler=value(scheduler),
        concurrency=concurrency,
        cpus_per_trial=cpus_per_trial,
        seed=seed,
        name=name,
    )
    best = run.folder.path / "best_recipe.toml"
    if best.exists():
        typer.echo(f"best recipe: {best} (nas final {run.folder.name} --recipe {best})")
    _print_outcome(run.outcome)
