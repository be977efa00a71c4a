"""`nas score`: training-free scores of one architecture, of a run's candidates, or of random cells."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from nas.commands.options import (
    DATA_HELP,
    CountOption,
    Device,
    OutputOption,
    PresetChoice,
    ResultsDir,
    SpaceChoice,
    TopKOption,
    value,
)
from nas.errors import UserError


def _read_target(text: str, space_name: str | None):
    """An architecture JSON file, a known cell name, or a string in a space's notation (NB201's |op~0|...)."""
    import search_spaces
    from nas.arch_file import is_known_cell, read_arch_file
    from search_spaces.known_cells import KNOWN_CELLS

    if Path(text).is_file() or is_known_cell(text):
        return read_arch_file(text)
    try:
        return search_spaces.make_space(space_name or "nb201").parse(text)
    except search_spaces.ArchitectureError as e:
        raise UserError(
            f"{text!r} is not an architecture file, a known cell ({', '.join(sorted(KNOWN_CELLS))}) "
            f"or a cell string of the {space_name or 'nb201'} space: {e}"
        ) from None


def score(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[ARCH|RUN]",
            help="An architecture (JSON file, known cell, or NB201 string), or a run whose candidates to "
            "score.",
        ),
    ] = None,
    trials: Annotated[
        int | None,
        CountOption(
            min=1,
            show_default="none: score ARCH or RUN",
            help="Score this many random distinct cells of --space.",
        ),
    ] = None,
    space: Annotated[
        SpaceChoice | None,
        typer.Option(show_default="nb201", help="Space of --trials, or of a cell string."),
    ] = None,
    preset: Annotated[
        PresetChoice | None,
        typer.Option(
            show_default="the run's, else proxy", help="Network size to score at, as this preset trains."
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            envvar="NAS_DATA",
            show_default="the run's, else cifar10",
            help=DATA_HELP + " One batch is scored.",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            show_default="the run's, else 0", help="Seed of the batch, the initialisation and --trials."
        ),
    ] = None,
    batch_size: Annotated[int, CountOption(min=2, help="Images in the scoring batch.")] = 64,
    device: Device = None,
    top_k: Annotated[int, TopKOption(help="Rows of the table (all are written).")] = 20,
    output: Annotated[
        Path | None,
        OutputOption("Parquet file to write.", "RUN/scores.parquet, else results/scores-*.parquet"),
    ] = None,
    cache: Annotated[
        bool, typer.Option("--cache/--no-cache", help="Reuse scores computed before (keyed by all inputs).")
    ] = True,
    results_dir: ResultsDir = None,
) -> None:
    """Score architectures without training them (the default scores and their combined rank); no GPU
    needed."""
    import search_spaces
    from nas.runs.folder import DEFAULT_RESULTS_DIR, open_run
    from nas.train.presets import PRESETS

    sample, space, preset = trials, value(space), value(preset)
    if (target is None) == (sample is None):
        raise UserError("say what to score: an ARCH, a RUN, or --trials N random cells (exactly one)")
    if device is not None:
        from nas.train.device import resolve_device

        device = str(resolve_device(device))  # cuda, cuda:N or cpu, and one this machine has
    if output is not None and output.suffix != ".parquet":
        raise UserError(f"-o {output}: scores are written as Parquet; name the file .parquet")
    recorded: list[dict[str, Any]] = []
    split_seed, val_size, space_options = seed or 0, 0, {}  # no run: the batch comes from all training images
    if sample is not None:
        from nas.scores.scorer import sample_distinct

        space_name = space or "nb201"
        archs = sample_distinct(search_spaces.make_space(space_name), sample, seed=seed or 0)
        default_out = (
            Path(results_dir or DEFAULT_RESULTS_DIR)
            / f"scores-{space_name}-sample{sample}-seed{seed or 0}.parquet"
        )
    elif Path(target).is_file() or not _is_run(target, results_dir):
        archs = [_read_target(target, space)]
        space_name = archs[0].space
        default_out = (
            Path(results_dir or DEFAULT_RESULTS_DIR)
            / f"scores-{search_spaces.canonical_hash(archs[0])}.parquet"
        )
    else:
        run = open_run(target, results_dir)
        saved = run.config()
        space_name, space_options = saved["space"], saved.get("space_options") or {}
        preset, data = preset or saved["preset"], data or saved.get("data")
        split_seed, val_size = saved.get("seed", 0) if seed is None else seed, saved.get("val_size", 5000)
        recorded = sorted(run.trials(), key=lambda t: t["proposal"])
        if not recorded:
            raise UserError(f"run {run.name} has no candidates yet")
        archs = [search_spaces.arch_from_json(t["arch"], **space_options) for t in recorded]
        default_out = run.path / "scores.parquet"
    output = output or default_out

    from nas.scores import DEFAULT_SCORES, combined_rank
    from nas.scores.scorer import Scorer, score_batch

    images = score_batch(data, seed=split_seed, size=batch_size, val_size=val_size)
    scorer = Scorer(
        search_spaces.make_space(space_name, **space_options),
        PRESETS[preset or "proxy"].model,
        images,
        seed=split_seed,
        device=device,
        cache_dir="default" if cache else None,
    )
    started = time.perf_counter()
    records = scorer.score_many(archs)
    wall = time.perf_counter() - started
    ranks = combined_rank(records)
    rows = []
    for i, (arch, record) in enumerate(zip(archs, records)):
        row = {
            "arch": search_spaces.to_json(arch),
            "arch_hash": search_spaces.canonical_hash(arch),
            **{f"score_{n}": record[n] for n in DEFAULT_SCORES},
            "combined_rank": float(ranks[i]),
            "error": record["error"],
            "seconds": record["seconds"],
        }
        if recorded:
            row.update(trial_id=recorded[i]["trial_id"], val_accuracy=recorded[i]["val_accuracy"])
        rows.append(row)
    _write(output, rows)
    _print_table(rows, archs, top_k, bool(recorded))
    computed = scorer.computed
    per_cell = f"{scorer.compute_s / computed:.3f} s per cell computed" if computed else "all from the cache"
    typer.echo(
        f"scored {len(archs)} cells ({computed} computed, {len(archs) - computed} from the cache) "
        f"in {wall:.1f} s on {scorer.device.type}: {per_cell}; "
        f"{preset or 'proxy'} preset network, batch of {len(images)}"
    )
    if recorded:
        typer.echo(_correlations(rows))
    typer.echo(f"wrote {output}")


def _is_run(name: str, results_dir) -> bool:
    from nas.runs.folder import open_run

    try:
        return (open_run(name, results_dir).config_path).exists()
    except UserError:
        return False


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nas.atomic import atomic_path

    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows), tmp)


def _correlations(rows: list[dict[str, Any]]) -> str:
    from nas.viz.score_plot import spearman_with_accuracy

    parts = []
    from nas.scores import DEFAULT_SCORES

    for column in (*(f"score_{n}" for n in DEFAULT_SCORES), "combined_rank"):
        rho, n = spearman_with_accuracy(rows, column)
        parts.append(f"{column.removeprefix('score_')} {'n/a' if rho is None else f'{rho:+.3f}'}")
    return f"Spearman with validation accuracy over {n} completed candidates: " + ", ".join(parts)


def _print_table(rows: list[dict[str, Any]], archs, top: int, with_accuracy: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from nas.scores import DEFAULT_AGGREGATION, DEFAULT_SCORES

    order = sorted(range(len(rows)), key=lambda i: -rows[i]["combined_rank"])[:top]
    how = "sum of log(rank / N)" if DEFAULT_AGGREGATION == "log_rank" else "rank sum"
    table = Table(title=f"best {len(order)} of {len(rows)} by the {how} of {', '.join(DEFAULT_SCORES)}")
    for column in (
        "combined",
        *DEFAULT_SCORES,
        *(("trial", "val accuracy") if with_accuracy else ()),
        "hash",
        "cell",
    ):
        table.add_column(column, justify="left" if column in ("trial", "hash", "cell") else "right")
    for i in order:
        row = rows[i]
        accuracy = row.get("val_accuracy")
        extra = (row["trial_id"], "-" if accuracy is None else f"{accuracy:.4f}") if with_accuracy else ()
        text = str(archs[i])
        table.add_row(
            f"{row['combined_rank']:.4g}",
            *("unscorable" if row["error"] else f"{row[f'score_{n}']:.4g}" for n in DEFAULT_SCORES),
            *extra,
            row["arch_hash"],
            text if len(text) <= 80 else text[:77] + "...",
        )
    Console().print(table)
