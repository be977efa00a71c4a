"""`nas results`: a run's best candidates as a rich table, CSV or JSON."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nas.commands.options import ResultsDir
from nas.errors import UserError
from nas.search.run_folder import open_run

COLUMNS = ("rank", "trial_id", "val_accuracy", "params", "flops", "wall_s", "arch_hash", "arch")
FORMATS = ("table", "csv", "json")


def top_candidates(run_name: str, top: int, results_dir=None) -> list[dict]:
    if top < 1:
        raise UserError(f"--top {top} must be at least 1")
    run = open_run(run_name, results_dir)
    return [
        {"rank": rank, **{c: row[c] for c in COLUMNS[1:]}}
        for rank, row in enumerate(run.ranked()[:top], start=1)
    ]


def show_results(run_name: str, *, top: int = 10, output_format: str = "table", results_dir=None) -> None:
    if output_format not in FORMATS:
        raise UserError(f"--format {output_format!r} is not one of {', '.join(FORMATS)}")
    rows = top_candidates(run_name, top, results_dir)
    if output_format == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif output_format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table(title=f"{run_name}: best {len(rows)} by validation accuracy")
        for column in ("rank", "trial", "val acc %", "params (M)", "MFLOPs", "train s", "hash"):
            table.add_column(column, justify="right" if column not in ("trial", "hash") else "left")
        for row in rows:
            table.add_row(
                str(row["rank"]),
                row["trial_id"],
                f"{100 * row['val_accuracy']:.2f}",
                "-" if row["params"] is None else f"{row['params'] / 1e6:.3f}",
                "-" if row["flops"] is None else f"{row['flops'] / 1e6:.1f}",
                "-" if row["wall_s"] is None else f"{row['wall_s']:.1f}",
                row["arch_hash"],
            )
        Console().print(table)


def results(
    run: Annotated[str, typer.Argument(help="Run name or folder.")],
    top: Annotated[int, typer.Option("--top", "-k", help="How many candidates to show.")] = 10,
    output_format: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    results_dir: ResultsDir = None,
) -> None:
    """Show a run's best candidates by validation accuracy."""
    show_results(run, top=top, output_format=output_format, results_dir=results_dir)
