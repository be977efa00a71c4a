"""`nas search` and `nas resume`: start or continue a search run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import (
    DATA_HELP,
    CountOption,
    PresetChoice,
    ResultsDir,
    SchedulerChoice,
    SpaceChoice,
    StrategyChoice,
    parse_device,
    value,
)
from nas.errors import UserError
from nas.searching.config import SCORED_WARM_START, SearchConfig

# The defaults shown in help are SearchConfig's, so help cannot drift from what a run gets.
DEFAULTS = {
    f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
    for f in dataclasses.fields(SearchConfig)
    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
}

GOAL, DATA, CLUSTER, RUN = "What to search", "Data and training", "Cluster", "The run"

Address = Annotated[
    str | None,
    typer.Option(
        envvar="RAY_ADDRESS",
        show_default="start a local Ray",
        rich_help_panel=CLUSTER,
        help="Ray cluster address; a loopback host (127.0.0.1, localhost) stays on loopback.",
    ),
]
Trials = Annotated[int | None, CountOption(help="Candidates to evaluate.", rich_help_panel=GOAL)]
TimeBudget = Annotated[
    float | None,
    typer.Option(
        "--time-budget",
        metavar="SECONDS",
        show_default="none",
        rich_help_panel=GOAL,
        help="Seconds after which no new candidate starts (those in flight finish).",
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", rich_help_panel=RUN, help="One log line per candidate instead of a live table."
    ),
]


def search(
    ctx: typer.Context,
    strategy: Annotated[
        StrategyChoice, typer.Option(rich_help_panel=GOAL, help="How candidates are proposed.")
    ] = DEFAULTS["strategy"],
    space: Annotated[
        SpaceChoice, typer.Option(rich_help_panel=GOAL, help="The search space (`nas spaces` lists them).")
    ] = DEFAULTS["space"],
    trials: Trials = DEFAULTS["trials"],
    time_budget: TimeBudget = None,
    objectives: Annotated[
        str,
        typer.Option(
            rich_help_panel=GOAL,
            help="val_accuracy, then costs to minimise (params, flops, latency_ms), comma-separated: "
            "a Pareto search.",
        ),
    ] = ",".join(DEFAULTS["objectives"]),
    max_params: Annotated[
        int | None,
        CountOption(
            show_default="no limit",
            rich_help_panel=GOAL,
            help="Propose only networks with at most this many parameters.",
        ),
    ] = None,
    max_flops: Annotated[
        int | None,
        CountOption(
            show_default="no limit",
            rich_help_panel=GOAL,
            help="Propose only networks with at most this many FLOPs.",
        ),
    ] = None,
    max_latency_ms: Annotated[
        float | None,
        typer.Option(
            show_default="no limit",
            rich_help_panel=GOAL,
            help="Propose only networks this fast at batch 1 on this machine (ms).",
        ),
    ] = None,
    warm_start: Annotated[
        int | None,
        CountOption(
            "--warm-start",
            show_default=f"{SCORED_WARM_START} with bo, else 0",
            rich_help_panel=GOAL,
            help="Score this many random cells without training first; the strategy starts from the "
            "best. 0: off.",
        ),
    ] = None,
    record_scores: Annotated[
        bool,
        typer.Option(
            "--record-scores", rich_help_panel=GOAL, help="Record every candidate's training-free scores."
        ),
    ] = DEFAULTS["record_scores"],
    dedupe: Annotated[
        bool,
        typer.Option(
            "--dedupe/--no-dedupe",
            rich_help_panel=GOAL,
            help="Answer architectures seen before from a cache.",
        ),
    ] = DEFAULTS["dedupe"],
    seed: Annotated[
        int, typer.Option(rich_help_panel=GOAL, help="Seed of the strategy and of candidate training.")
    ] = DEFAULTS["seed"],
    preset: Annotated[
        PresetChoice, typer.Option(rich_help_panel=DATA, help="How each candidate is trained.")
    ] = DEFAULTS["preset"],
    data: Annotated[
        str | None,
        typer.Option(envvar="NAS_DATA", show_default="cifar10", rich_help_panel=DATA, help=DATA_HELP),
    ] = None,
    image_size: Annotated[
        int | None,
        typer.Option(
            metavar="PIXELS",
            show_default="32 for the CIFAR family, else the median image size, at most 64",
            rich_help_panel=DATA,
            help="Resize images to N x N pixels.",
        ),
    ] = None,
    val_size: Annotated[
        int | None,
        CountOption(
            show_default="a tenth, at most 5000",
            rich_help_panel=DATA,
            help="Training images held out to rank candidates.",
        ),
    ] = None,
    test_fraction: Annotated[
        float,
        typer.Option(
            rich_help_panel=DATA, help="Share of each class tested when --data is one folder per class."
        ),
    ] = DEFAULTS["test_fraction"],
    address: Address = None,
    device: Annotated[
        str | None,
        typer.Option(
            parser=parse_device,
            metavar="cpu|cuda",
            show_default="cuda when the cluster has GPUs, else cpu",
            rich_help_panel=CLUSTER,
            help="Where candidates train: cpu is --gpus-per-trial 0; cuda needs GPUs (Ray gives each "
            "candidate its own).",
        ),
    ] = None,
    gpus_per_trial: Annotated[
        float | None,
        typer.Option(
            show_default="0.25 with GPUs, else 0",
            rich_help_panel=CLUSTER,
            help="GPU share per candidate; 0.25 puts 4 on a GPU.",
        ),
    ] = None,
    cpus_per_trial: Annotated[
        float, typer.Option(rich_help_panel=CLUSTER, help="CPUs per candidate.")
    ] = DEFAULTS["cpus_per_trial"],
    concurrency: Annotated[
        int | None,
        CountOption(
            show_default="as many as the resources allow",
            rich_help_panel=CLUSTER,
            help="Candidates in flight.",
        ),
    ] = None,
    scheduler: Annotated[
        SchedulerChoice, typer.Option(rich_help_panel=CLUSTER, help="asha stops weak candidates early.")
    ] = DEFAULTS["scheduler"],
    name: Annotated[
        str | None,
        typer.Option(
            show_default="STRATEGY-SPACE-SEED",
            rich_help_panel=RUN,
            help="Run name: the folder under --results-dir.",
        ),
    ] = None,
    results_dir: ResultsDir = None,
    config: Annotated[
        Path | None,
        typer.Option(
            show_default="none",
            rich_help_panel=RUN,
            help="TOML file of search's settings (nas.search's keywords); flags given override it.",
        ),
    ] = None,
    quiet: Quiet = False,
    resume: Annotated[str | None, typer.Option(hidden=True, help="Old spelling of `nas resume RUN`.")] = None,
    recipe: Annotated[
        Path | None,
        typer.Option(
            show_default="the preset's",
            rich_help_panel=DATA,
            help="Recipe TOML (e.g. RUN/best_recipe.toml from nas tune): overrides the preset's values.",
        ),
    ] = None,
    tune: Annotated[
        list[str] | None,
        typer.Option(
            show_default="none",
            rich_help_panel=GOAL,
            help="KEY=V1,V2,...: search this recipe key with the ops (repeatable), e.g. --tune lr=0.1,0.05.",
        ),
    ] = None,
) -> None:
    """Search for an architecture: the strategy proposes, Ray Tune trains candidates in parallel."""
    from nas import api
    from nas.train.recipe import parse_grid, read_recipe

    values = {
        "strategy": value(strategy),
        "space": value(space),
        "trials": trials,
        "time_budget_s": time_budget,
        "name": name,
        "gpus_per_trial": gpus_per_trial,
        "cpus_per_trial": cpus_per_trial,
        "concurrency": concurrency,
        "scheduler": value(scheduler),
        "preset": value(preset),
        "data": data,
        "seed": seed,
        "address": address,
        "val_size": val_size,
        "dedupe": dedupe,
        "objectives": objectives,
        "max_params": max_params,
        "max_flops": max_flops,
        "max_latency_ms": max_latency_ms,
        "warm_start": warm_start,
        "record_scores": record_scores,
        "image_size": image_size,
        "test_fraction": test_fraction,
        "recipe": read_recipe(recipe) if recipe is not None else None,
        "tune": parse_grid(tune, "--tune") if tune else None,
    }
    if device is not None:
        values["gpus_per_trial"] = _gpus_for(
            device, gpus_per_trial if _given(ctx, "gpus_per_trial") else None
        )
        ctx_given = {"gpus_per_trial"}
    else:
        ctx_given = set()
    option = {"time_budget_s": "time_budget"}
    # Only what was given: the defaults shown in help are the TOML file's defaults too, not overrides of it.
    flags = {k: v for k, v in values.items() if k in ctx_given or _given(ctx, option.get(k, k))}
    if resume is not None:
        fixed = sorted(k for k in flags if k not in ("trials", "time_budget_s", "address"))
        fixed += ["config"] if config else []
        if fixed:
            raise UserError(
                f"a resumed run continues with its saved settings; only --trials, --time-budget and "
                f"--address may be given with it, not {', '.join('--' + f.replace('_', '-') for f in fixed)}"
            )
        run = api.open_run(resume, results_dir).resume(
            trials=flags.get("trials"), time_budget_s=time_budget, address=address, quiet=quiet
        )
    else:
        run = api.search(config_file=config, results_dir=results_dir, quiet=quiet, **flags)
    _print_outcome(run.outcome)


def _gpus_for(device: str, gpus_per_trial: float | None) -> float:
    """--device as the GPU share Ray gives each candidate (Ray, not the search, picks which GPU)."""
    if device.startswith("cuda:"):
        raise UserError(
            f"--device {device}: Ray gives each candidate its own GPU; use --device cuda "
            "(and CUDA_VISIBLE_DEVICES to keep a search off some GPUs)"
        )
    if device == "cpu":
        if gpus_per_trial:
            raise UserError(
                f"--device cpu trains on CPUs, but --gpus-per-trial {gpus_per_trial:g} asks for GPUs"
            )
        return 0.0
    if gpus_per_trial == 0:
        raise UserError("--device cuda trains on GPUs, but --gpus-per-trial 0 asks for none")
    return 0.25 if gpus_per_trial is None else gpus_per_trial


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def resume(
    run: Annotated[str, typer.Argument(help="Run name or folder.")],
    trials: Annotated[
        int | None, CountOption(show_default="the run's", help="New total number of candidates.")
    ] = None,
    time_budget: Annotated[
        float | None,
        typer.Option(
            "--time-budget", metavar="SECONDS", show_default="the run's", help="New total time budget."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            envvar="RAY_ADDRESS",
            show_default="the run's, else start a local Ray",
            help="Ray cluster address (a cluster that moved).",
        ),
    ] = None,
    results_dir: ResultsDir = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="One log line per candidate instead of a live table.")
    ] = False,
) -> None:
    """Continue an interrupted search with its saved settings, optionally with a larger budget."""
    from nas import api

    resumed = api.open_run(run, results_dir).resume(
        trials=trials, time_budget_s=time_budget, address=address, quiet=quiet
    )
    _print_outcome(resumed.outcome)


def _print_outcome(outcome) -> None:
    p = outcome.progress
    best = "none" if p.best is None else f"{p.best['val_accuracy']:.4f} ({p.best['trial_id']})"
    state = (
        "finished" if outcome.finished else f"stopped early; continue with `nas resume {outcome.run.name}`"
    )
    typer.echo(
        f"{outcome.run.path}: {p.completed} completed, {p.failed} failed, {p.stopped} stopped early; "
        f"best validation accuracy {best}; {state}"
    )
    if not outcome.finished:
        raise typer.Exit(130)  # interrupted (Ctrl-C): the shell's code for SIGINT, so scripts can tell
