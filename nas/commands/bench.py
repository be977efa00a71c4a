"""`nas benchmark` and `nas synthetic-table`: strategies against a tabular benchmark, in-process."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from nas.errors import UserError


def benchmark(
    table: Annotated[str, typer.Option(help="CSV or Parquet table: architecture and metric per row.")],
    space: Annotated[str, typer.Option(help="Search space whose parser reads the arch column.")] = "nb201",
    arch_column: Annotated[str, typer.Option(help="Column of architecture strings.")] = "arch",
    metric_column: Annotated[str, typer.Option(help="Column of the metric to maximise.")] = "val_acc",
    metric_unit: Annotated[str, typer.Option(help="Unit of the metric, for the plot's axis.")] = "%",
    strategies: Annotated[str, typer.Option(help="Comma-separated strategies.")] = "random,evolution,rl",
    seeds: Annotated[int, typer.Option(help="Seeds per strategy: 0..N-1.")] = 100,
    budget: Annotated[int, typer.Option(help="Queries (lookups of new architectures) per seed.")] = 200,
    dedupe: Annotated[bool, typer.Option(help="Answer repeats of evaluated archs from a cache.")] = True,
    output: Annotated[str | None, typer.Option(help="Write the raw curves here (.parquet).")] = None,
    plot: Annotated[str | None, typer.Option(help="Draw mean best-so-far curves (.png, .svg).")] = None,
    workers: Annotated[int, typer.Option(help="Processes running seeds in parallel (same results).")] = (
        os.cpu_count() or 1
    ),
    objectives: Annotated[
        str | None,
        typer.Option(
            help="Metric plus costs to minimise, e.g. val_accuracy,params (or flops): Pareto search."
        ),
    ] = None,
    max_params: Annotated[
        float | None, typer.Option(help="Propose only rows with at most this many parameters.")
    ] = None,
    max_flops: Annotated[
        float | None, typer.Option(help="Propose only rows with at most this many FLOPs.")
    ] = None,
    max_latency_ms: Annotated[
        float | None, typer.Option(help="Latency limit (not available in tabular mode: needs a device).")
    ] = None,
    warm_start: Annotated[
        int,
        typer.Option(
            "--warm-start",
            help="Score N random cells per seed with the real networks (cached) and start every strategy "
            "from the best. 0: off.",
        ),
    ] = 0,
    score_data: Annotated[
        str | None, typer.Option(help="CIFAR-10 folder for the scoring batch.", envvar="NAS_DATA")
    ] = None,
    scores: Annotated[
        str | None,
        typer.Option(
            help="Training-free scores of every row for bo: a .csv/.parquet file (arch + score columns) or "
            "'compute' (scored here, cached)."
        ),
    ] = None,
) -> None:
    """Compare strategies on a tabular benchmark in-process: best metric so far, queries to the top 0.1%."""
    from nas.bench.tabular import benchmark_command

    benchmark_command(
        table=table,
        space=space,
        arch_column=arch_column,
        metric_column=metric_column,
        metric_unit=metric_unit,
        strategies=strategies,
        seeds=seeds,
        budget=budget,
        dedupe=dedupe,
        output=output,
        plot=plot,
        workers=workers,
        objectives=objectives,
        max_params=max_params,
        max_flops=max_flops,
        max_latency_ms=max_latency_ms,
        warm_start=warm_start,
        score_data=score_data,
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
