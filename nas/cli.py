"""The `nas` command: thin wrappers over the library. Each command lives in its own module under
nas/commands/ and is registered here; user mistakes become one-line errors with exit code 2."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from typer.core import TyperGroup

from nas.errors import UserError

class _Commands(TyperGroup):
    """Every command's user mistakes (UserError) end as one line on stderr and exit code 2, also when the app is
    invoked in-process (tests) rather than through `main`."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as e:
            typer.echo("error: " + " ".join(str(e).split()), err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
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


ResultsDir = Annotated[
    Optional[Path], typer.Option("--results-dir", help="Folder holding run folders.", envvar="NAS_RESULTS_DIR")
]


@app.command()
def search(
    strategy: Annotated[Optional[str], typer.Option(help="random, evolution or rl. [default: evolution]")] = None,
    space: Annotated[Optional[str], typer.Option(help="nasnet or nb201. [default: nasnet]")] = None,
    trials: Annotated[Optional[int], typer.Option(help="Candidates to evaluate. [default: 100]")] = None,
    time_budget: Annotated[
        Optional[float], typer.Option("--time-budget", help="Seconds after which no new candidate starts.")
    ] = None,
    name: Annotated[Optional[str], typer.Option(help="Run name: the folder under --results-dir. [default: STRATEGY-SPACE-SEED]")] = None,
    gpus_per_trial: Annotated[
        Optional[float], typer.Option(help="GPU share per candidate; 0.25 puts 4 on a GPU. [default: 0.25 with GPUs, else 0]")
    ] = None,
    cpus_per_trial: Annotated[Optional[float], typer.Option(help="CPUs per candidate. [default: 1]")] = None,
    concurrency: Annotated[
        Optional[int], typer.Option(help="Candidates in flight. [default: as many as the resources allow]")
    ] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="none or asha (stop weak candidates early).")] = None,
    preset: Annotated[Optional[str], typer.Option(help="Training preset per candidate: smoke, proxy or final. [default: proxy]")] = None,
    data: Annotated[Optional[str], typer.Option(help="CIFAR-10 folder (parquet, cifar-10-batches-py or image folders).", envvar="NAS_DATA")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the strategy and of candidate training. [default: 0]")] = None,
    val_size: Annotated[
        Optional[int], typer.Option(help="Training images held out to rank candidates. [default: 5000]")
    ] = None,
    no_dedupe: Annotated[bool, typer.Option("--no-dedupe", help="Evaluate architectures seen before again.")] = False,
    results_dir: ResultsDir = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML file with any of these settings; flags override it.")] = None,
    address: Annotated[
        Optional[str], typer.Option(help="Ray cluster address (default: start a local Ray).", envvar="RAY_ADDRESS")
    ] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue the run of this name (or folder) where it stopped.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="One log line per candidate instead of a live display.")] = False,
) -> None:
    """Search for an architecture: the strategy proposes, Ray Tune trains candidates in parallel."""
    from nas import config as run_config
    from nas.search import run_search

    flags = {
        "strategy": strategy, "space": space, "trials": trials, "time_budget_s": time_budget, "name": name,
        "gpus_per_trial": gpus_per_trial, "cpus_per_trial": cpus_per_trial, "concurrency": concurrency,
        "scheduler": scheduler, "preset": preset, "data": data, "seed": seed, "address": address, "val_size": val_size,
        "dedupe": False if no_dedupe else None,
    }
    given = {k: v for k, v in flags.items() if v is not None}
    if resume is not None:
        changeable = {"trials", "time_budget_s", "address"}
        fixed = sorted(set(given) - changeable) + (["config"] if config else [])
        if fixed:
            raise UserError(f"--resume continues with the run's saved settings; only --trials, --time-budget and "
                            f"--address may be given with it, not {', '.join('--' + f.replace('_', '-') for f in fixed)}")
        outcome = run_search(resume=resume, results_dir=results_dir, overrides=given, quiet=quiet)
    else:
        values = run_config.load_toml(config) if config else {}
        values.update(given)
        values.setdefault("name", "{}-{}-{}".format(values.get("strategy", "evolution"), values.get("space", "nasnet"),
                                                    values.get("seed", 0)))
        outcome = run_search(run_config.make_config(values), results_dir=results_dir, quiet=quiet)
    _print_outcome(outcome)


@app.command("resume")
def resume_command(
    run: Annotated[str, typer.Argument(help="Run name or folder.")],
    trials: Annotated[Optional[int], typer.Option(help="New total number of candidates.")] = None,
    time_budget: Annotated[Optional[float], typer.Option("--time-budget", help="New total time budget, seconds.")] = None,
    results_dir: ResultsDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Continue an interrupted search (same as `nas search --resume RUN`)."""
    from nas.search import run_search

    overrides = {k: v for k, v in {"trials": trials, "time_budget_s": time_budget}.items() if v is not None}
    _print_outcome(run_search(resume=run, results_dir=results_dir, overrides=overrides, quiet=quiet))


def _print_outcome(outcome) -> None:
    p = outcome.progress
    best = "none" if p.best is None else f"{100 * p.best['val_accuracy']:.2f}% ({p.best['trial_id']})"
    state = "finished" if outcome.finished else f"stopped early; continue with `nas search --resume {outcome.run.name}`"
    typer.echo(f"{outcome.run.path}: {p.completed} completed, {p.failed} failed, {p.stopped} stopped early; "
               f"best validation accuracy {best}; {state}")
    if not outcome.finished:
        raise typer.Exit(130)  # interrupted (Ctrl-C): the shell's code for SIGINT, so scripts can tell


@app.command()
def results(
    run: Annotated[str, typer.Argument(help="Run name or folder.")],
    top: Annotated[int, typer.Option("--top", "-k", help="How many candidates to show.")] = 10,
    output_format: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    results_dir: ResultsDir = None,
) -> None:
    """Show a run's best candidates by validation accuracy."""
    from nas.results import show_results

    show_results(run, top=top, output_format=output_format, results_dir=results_dir)


from nas.commands import pictures as _pictures  # noqa: E402

app.command("show")(_pictures.show)
app.command("plot")(_pictures.plot)

from nas.commands.final import final  # noqa: E402

app.command("final")(final)


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


@app.command()
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
) -> None:
    """Compare strategies on a tabular benchmark in-process: best metric so far, queries to the top 0.1%."""
    from nas.benchmark import benchmark_command

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
    )


@app.command("synthetic-table")
def synthetic_table(
    path: Annotated[str, typer.Argument(help="Where to write the table (.csv or .parquet).")],
    seed: Annotated[int, typer.Option(help="Seed of the landscape and its noise.")] = 0,
) -> None:
    """Write the synthetic 15,625-row NAS-Bench-201-format table (columns arch, val_acc in %)."""
    from nas.synthetic_table import synthetic_nb201_table, write_table

    if not path.lower().endswith((".csv", ".parquet")):
        raise UserError(f"synthetic table path {path!r} must end in .csv or .parquet")
    write_table(synthetic_nb201_table(seed), path)
    typer.echo(f"wrote {path}: 15,625 NB201 cells, seed {seed}")


def main() -> None:
    try:
        app()
    except UserError as e:  # raised outside a command (e.g. while parsing); same one-line form
        typer.echo("error: " + " ".join(str(e).split()), err=True)
        sys.exit(2)
