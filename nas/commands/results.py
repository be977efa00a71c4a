"""`nas results`: a run's best candidates as a rich table, CSV or JSON."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nas.commands.options import ResultsDir, TableFormat, TopKOption, human_count, value
from nas.errors import UserError
from nas.runs.folder import open_run

COLUMNS = (
    "rank",
    "trial_id",
    "val_accuracy",
    "params",
    "flops",
    "latency_ms",
    "wall_s",
    "arch_hash",
    "arch",
    "recipe",
)
FORMATS = tuple(f.value for f in TableFormat)


def top_candidates(run_name: str, top: int, results_dir=None, *, pareto: bool = False) -> list[dict]:
    """The best `top` completed candidates by validation accuracy; with `pareto`, the non-dominated ones under
    the run's objectives (nas/runs/front.py), most accurate first."""
    if top < 1:
        raise UserError(f"--top-k {top} must be at least 1")
    run = open_run(run_name, results_dir)
    if pareto:
        from nas.runs.front import pareto_front

        chosen = pareto_front(run)[:top]
    else:
        chosen = run.ranked()[:top]
    return [
        {"rank": rank, **{c: row.get(c) for c in COLUMNS[1:-1]}, "recipe": recipe_text(row)}
        for rank, row in enumerate(chosen, start=1)
    ]


def recipe_text(row) -> str:
    """The candidate's recipe columns as "lr=0.05 norm=none" ("" when trained with the preset as it is)."""
    values = {k[len("recipe_") :]: v for k, v in row.items() if k.startswith("recipe_") and v is not None}
    return " ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items())


def show_results(
    run_name: str, *, top: int = 10, output_format: str = "table", results_dir=None, pareto: bool = False
) -> None:
    output_format = value(output_format)
    if output_format not in FORMATS:
        raise UserError(f"--format {output_format!r} is not one of {', '.join(FORMATS)}")
    rows = top_candidates(run_name, top, results_dir, pareto=pareto)
    if output_format == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif output_format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    else:
        if pareto:
            from nas.runs.front import run_objectives

            objectives = ", ".join(run_objectives(open_run(run_name, results_dir)))
            title = f"{run_name}: Pareto front over {objectives}, {len(rows)} candidates"
        else:
            title = f"{run_name}: best {len(rows)} by validation accuracy"
        table = Table(title=title)
        # Accuracy as a fraction, as in CSV, JSON, trials.parquet and --pareto-pick; counts as 25.3k, 1.21M.
        recipes = any(row["recipe"] for row in rows)  # a column only for runs that tuned or set a recipe
        headers = ("rank", "trial", "val accuracy", "params", "FLOPs", "latency ms", "train s", "hash")
        for column in headers + (("recipe",) if recipes else ()):
            table.add_column(column, justify="right" if column not in ("trial", "hash", "recipe") else "left")
        for row in rows:
            table.add_row(
                str(row["rank"]),
                row["trial_id"],
                f"{row['val_accuracy']:.4f}",
                human_count(row["params"]),
                human_count(row["flops"]),
                "-" if row["latency_ms"] is None else f"{row['latency_ms']:.2f}",
                "-" if row["wall_s"] is None else f"{row['wall_s']:.1f}",
                row["arch_hash"],
                *((row["recipe"],) if recipes else ()),
            )
        Console().print(table)


def results(
    run: Annotated[str, typer.Argument(help="Run name or folder.")],
    top_k: Annotated[int, TopKOption(help="How many candidates to show.")] = 10,
    output_format: Annotated[
        TableFormat, typer.Option("--format", help="A table to read, or CSV or JSON to process.")
    ] = TableFormat.table,
    results_dir: ResultsDir = None,
    pareto: Annotated[
        bool, typer.Option("--pareto", help="Only the non-dominated candidates under the run's objectives.")
    ] = False,
) -> None:
    """Show a run's best candidates by validation accuracy (or its Pareto front)."""
    show_results(run, top=top_k, output_format=value(output_format), results_dir=results_dir, pareto=pareto)
