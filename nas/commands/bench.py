"""`nas benchmark` and `nas synthetic-table`: strategies against a tabular benchmark, in-process."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from nas.commands.options import (
    STRATEGIES_METAVAR,
    CountOption,
    OutputOption,
    SpaceChoice,
    parse_strategies,
    value,
)
from nas.errors import UserError


def benchmark(
    table: Annotated[str, typer.Option(help="CSV or Parquet table: architecture and metric per row.")],
    space: Annotated[
        SpaceChoice, typer.Option(help="Search space whose parser reads the arch column.")
    ] = SpaceChoice.nb201,
    arch_column: Annotated[str, typer.Option(help="Column of architecture strings.")] = "arch",
    metric_column: Annotated[str, typer.Option(help="Column of the metric to maximise.")] = "val_acc",
    metric_unit: Annotated[str, typer.Option(help="Unit of the metric, for the plot's axis.")] = "%",
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            parser=parse_strategies,
            metavar=STRATEGIES_METAVAR,
            show_default="random,evolution,rl",
            help="Strategies to compare: comma-separated, or --strategy once per strategy.",
        ),
    ] = None,
    seeds: Annotated[int, CountOption(min=1, help="Seeds per strategy: 0..N-1.")] = 100,
    trials: Annotated[
        int, CountOption(min=1, help="Candidates (lookups of new architectures) per seed.")
    ] = 200,
    dedupe: Annotated[
        bool, typer.Option("--dedupe/--no-dedupe", help="Answer repeats of evaluated archs from a cache.")
    ] = True,
    output: Annotated[
        str | None, OutputOption("Write the raw curves here (.parquet).", "not written")
    ] = None,
    plot: Annotated[
        str | None, typer.Option(show_default="not drawn", help="Draw mean best-so-far curves (.png, .svg).")
    ] = None,
    workers: Annotated[
        int,
        CountOption(
            min=1, show_default="the CPU count", help="Processes running seeds in parallel (same results)."
        ),
    ] = (os.cpu_count() or 1),
    objectives: Annotated[
        str | None,
        typer.Option(
            show_default="the metric alone",
            help="Metric plus costs to minimise, e.g. val_accuracy,params (or flops): Pareto search.",
        ),
    ] = None,
    max_params: Annotated[
        int | None,
        CountOption(show_default="no limit", help="Propose only rows with at most this many parameters."),
    ] = None,
    max_flops: Annotated[
        int | None,
        CountOption(show_default="no limit", help="Propose only rows with at most this many FLOPs."),
    ] = None,
    max_latency_ms: Annotated[
        float | None,
        typer.Option(
            show_default="no limit", help="Latency limit (not available in tabular mode: needs a device)."
        ),
    ] = None,
    warm_start: Annotated[
        int,
        CountOption(
            "--warm-start",
            help="Score N random cells per seed with the real networks (cached) and start every strategy "
            "from the best. 0: off.",
        ),
    ] = 0,
    data: Annotated[
        str | None,
        typer.Option(
            envvar="NAS_DATA",
            show_default="cifar10",
            help="Images for --warm-start's scoring batch: a CIFAR-10 folder or Parquet pair.",
        ),
    ] = None,
    scores: Annotated[
        str | None,
        typer.Option(
            show_default="none",
            help="Training-free scores of every row for bo: a .csv/.parquet file (arch + score columns) or "
            "'compute' (scored here, cached).",
        ),
    ] = None,
) -> None:
    """Compare strategies on a tabular benchmark in-process: best metric so far, queries to the top 0.1%."""
    from nas.bench.tabular import benchmark_command

    benchmark_command(
        table=table,
        space=value(space),
        arch_column=arch_column,
        metric_column=metric_column,
        metric_unit=metric_unit,
        strategies=",".join(
            dict.fromkeys(n for part in (strategy or ["random,evolution,rl"]) for n in part.split(","))
        ),
        seeds=seeds,
        budget=trials,
        dedupe=dedupe,
        output=output,
        plot=plot,
        workers=workers,
        objectives=objectives,
        max_params=max_params,
        max_flops=max_flops,
        max_latency_ms=max_latency_ms,
        warm_start=warm_start,
        score_data=data,
        scores=scores,
    )


def synthetic_table(
    path: Annotated[str, typer.Argument(help="Where to write the table (.csv or .parquet).")],
    seed: Annotated[int, typer.Option(help="Seed of the landscape and its noise.")] = 0,
) -> None:
    """Write the synthetic 15,625-row NAS-Bench-201-format table (columns arch, val_acc in %)."""
    from nas.bench.synthetic_table import synthetic_nb201_table, write_table

    if not path.lower().endswith((".csv", ".parquet")):
        raise UserError(f"synthetic table path {path!r} must end in .csv or .parquet")
    write_table(synthetic_nb201_table(seed), path)
    typer.echo(f"wrote {path}: 15,625 NB201 cells, seed {seed}")
