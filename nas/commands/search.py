"""`nas search` and `nas resume`: start or continue a search run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import ResultsDir
from nas.errors import UserError


def search(
    strategy: Annotated[str | None, typer.Option(help="bo, random, evolution or rl. [default: bo]")] = None,
    space: Annotated[str | None, typer.Option(help="nasnet or nb201. [default: nasnet]")] = None,
    trials: Annotated[int | None, typer.Option(help="Candidates to evaluate. [default: 100]")] = None,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", help="Seconds after which no new candidate starts.")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Run name: the folder under --results-dir. [default: STRATEGY-SPACE-SEED]"),
    ] = None,
    gpus_per_trial: Annotated[
        float | None,
        typer.Option(help="GPU share per candidate; 0.25 puts 4 on a GPU. [default: 0.25 with GPUs, else 0]"),
    ] = None,
    cpus_per_trial: Annotated[float | None, typer.Option(help="CPUs per candidate. [default: 1]")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Candidates in flight. [default: as many as the resources allow]")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(help="none or asha (stop weak candidates early).")] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="Training preset per candidate: smoke, cpu, proxy or final. [default: proxy]"),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="Image folder (train/<class>/ + test/<class>/, or <class>/), train/test.parquet, "
            "cifar-10-batches-py, or a dataset name (cifar10, cifar100, svhn, fashionmnist, mnist). "
            "(default: cifar10)",
            envvar="NAS_DATA",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the strategy and of candidate training. [default: 0]")
    ] = None,
    val_size: Annotated[
        int | None,
        typer.Option(help="Training images held out to rank candidates (default: a tenth, at most 5000)."),
    ] = None,
    no_dedupe: Annotated[
        bool, typer.Option("--no-dedupe", help="Evaluate architectures seen before again.")
    ] = False,
    results_dir: ResultsDir = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file with any of these settings; flags override it.")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address (default: start a local Ray).", envvar="RAY_ADDRESS"),
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue the run of this name (or folder) where it stopped.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="One log line per candidate instead of a live display.")
    ] = False,
    objectives: Annotated[
        str | None,
        typer.Option(help="val_accuracy plus costs to minimise: params, flops, latency_ms (Pareto search)."),
    ] = None,
    max_params: Annotated[
        int | None, typer.Option(help="Propose only networks with at most this many parameters.")
    ] = None,
    max_flops: Annotated[
        int | None, typer.Option(help="Propose only networks with at most this many FLOPs.")
    ] = None,
    max_latency_ms: Annotated[
        float | None, typer.Option(help="Propose only networks this fast at batch 1 on this machine (ms).")
    ] = None,
    warm_start: Annotated[
        int | None,
        typer.Option(
            "--warm-start",
            help="Score this many random cells without training first; the strategy starts from the best. "
            "[default: 0, off]",
        ),
    ] = None,
    record_scores: Annotated[
        bool, typer.Option("--record-scores", help="Record every candidate's training-free scores.")
    ] = False,
    image_size: Annotated[
        int | None,
        typer.Option(
            help="Resize images to N x N pixels (default: 32 for the CIFAR family, else the median image "
            "size, at most 64)."
        ),
    ] = None,
    test_fraction: Annotated[
        float | None,
        typer.Option(help="Share of each class tested when --data is one folder per class (default: 0.2)."),
    ] = None,
    recipe: Annotated[
        Path | None,
        typer.Option(
            help="Recipe TOML (e.g. RUN/best_recipe.toml from nas tune): overrides the preset's values."
        ),
    ] = None,
    tune: Annotated[
        list[str] | None,
        typer.Option(
            help="KEY=V1,V2,...: search this recipe key with the ops (repeatable), e.g. --tune lr=0.1,0.05."
        ),
    ] = None,
) -> None:
    """Search for an architecture: the strategy proposes, Ray Tune trains candidates in parallel."""
    from nas import api
    from nas.train.recipe import parse_grid, read_recipe

    flags = {
        "strategy": strategy,
        "space": space,
        "trials": trials,
        "time_budget_s": time_budget,
        "name": name,
        "gpus_per_trial": gpus_per_trial,
        "cpus_per_trial": cpus_per_trial,
        "concurrency": concurrency,
        "scheduler": scheduler,
        "preset": preset,
        "data": data,
        "seed": seed,
        "address": address,
        "val_size": val_size,
        "dedupe": False if no_dedupe else None,
        "objectives": objectives,
        "max_params": max_params,
        "max_flops": max_flops,
        "max_latency_ms": max_latency_ms,
        "warm_start": warm_start,
        "record_scores": True if record_scores else None,
        "image_size": image_size,
        "test_fraction": test_fraction,
        "recipe": read_recipe(recipe) if recipe is not None else None,
        "tune": parse_grid(tune, "--tune") if tune else None,
    }
    if resume is not None:
        given = sorted(k for k, v in flags.items() if v is not None)
        fixed = [k for k in given if k not in ("trials", "time_budget_s", "address")]
        fixed += ["config"] if config else []
        if fixed:
            raise UserError(
                f"--resume continues with the run's saved settings; only --trials, --time-budget and "
                f"--address may be given with it, not {', '.join('--' + f.replace('_', '-') for f in fixed)}"
            )
        run = api.open_run(resume, results_dir).resume(
            trials=trials, time_budget_s=time_budget, address=address, quiet=quiet
        )
    else:
        run = api.search(config_file=config, results_dir=results_dir, quiet=quiet, **flags)
    _print_outcome(run.outcome)


def resume(
    run: Annotated[str, typer.Argument(help="Run name or folder.")],
    trials: Annotated[int | None, typer.Option(help="New total number of candidates.")] = None,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", help="New total time budget, seconds.")
    ] = None,
    results_dir: ResultsDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Continue an interrupted search (same as `nas search --resume RUN`)."""
    from nas import api

    resumed = api.open_run(run, results_dir).resume(trials=trials, time_budget_s=time_budget, quiet=quiet)
    _print_outcome(resumed.outcome)


def _print_outcome(outcome) -> None:
    p = outcome.progress
    best = "none" if p.best is None else f"{100 * p.best['val_accuracy']:.2f}% ({p.best['trial_id']})"
    state = (
        "finished"
        if outcome.finished
        else f"stopped early; continue with `nas search --resume {outcome.run.name}`"
    )
    typer.echo(
        f"{outcome.run.path}: {p.completed} completed, {p.failed} failed, {p.stopped} stopped early; "
        f"best validation accuracy {best}; {state}"
    )
    if not outcome.finished:
        raise typer.Exit(130)  # interrupted (Ctrl-C): the shell's code for SIGINT, so scripts can tell
