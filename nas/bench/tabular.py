"""Strategies compared on a tabular benchmark: every proposal is answered by a table lookup, in-process.

A *query* is one lookup for a new proposal. Candidates answered from a strategy's dedupe cache never reach the
table and are not queries, so with dedupe on, a budget of 200 queries means 200 distinct architectures.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import strategies
from nas.errors import UserError
from search_spaces.base import Architecture, ArchitectureError, SearchSpace
from strategies.objectives import Goal

CHECKPOINTS = (10, 25, 50, 100, 200)  # queries at which the summary reports the best metric so far
TOP_FRACTION = 0.001  # "the table's top 0.1%": the ceil(0.1% of rows) best rows


@dataclass(frozen=True)
class Table:
    path: str
    metric_column: str
    metrics: dict[Architecture, float]  # exact architecture -> metric
    costs: dict[Architecture, dict[str, float]] | None = None  # params, flops per arch (nas/bench/costs.py)

    @property
    def top_count(self) -> int:
        return max(1, math.ceil(TOP_FRACTION * len(self.metrics)))

    @property
    def top_threshold(self) -> float:
        """A metric at least this high is in the table's top 0.1%."""
        return sorted(self.metrics.values(), reverse=True)[self.top_count - 1]

    def lookup(self, arch: Architecture) -> float:
        try:
            return self.metrics[arch]
        except KeyError:
            raise UserError(
                f"table {self.path} has no row for architecture {arch}; a tabular benchmark must list every "
                "architecture the space can propose"
            ) from None


def load_table(path: str | os.PathLike, space: SearchSpace, arch_column: str, metric_column: str) -> Table:
    """Read a CSV or Parquet table mapping architecture strings (parsed by `space.parse`) to a metric."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise UserError(f"table file {path} does not exist; pass --table with a .csv or .parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            # Arch strings must stay strings whatever they look like.
            data = pa_csv.read_csv(
                path, convert_options=pa_csv.ConvertOptions(column_types={arch_column: pa.string()})
            )
        elif suffix in (".parquet", ".pq"):
            data = pq.read_table(path)
        else:
            raise UserError(f"table file {path} must end in .csv or .parquet, not {suffix or 'nothing'}")
    except (pa.ArrowException, OSError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"table file {path} cannot be read as {suffix[1:]}: {message}") from None
    for role, column in (("--arch-column", arch_column), ("--metric-column", metric_column)):
        if column not in data.column_names:
            raise UserError(
                f"table {path} has no column {column!r} ({role}); "
                f"its columns are {', '.join(data.column_names)}"
            )
    if data.num_rows == 0:
        raise UserError(f"table {path} has no rows")
    metrics: dict[Architecture, float] = {}
    first_row: dict[Architecture, int] = {}
    texts = data.column(arch_column).to_pylist()
    values = data.column(metric_column).to_pylist()
    for row, (text, value) in enumerate(zip(texts, values), start=1):
        where = f"table {path} row {row} (1 = first data row)"
        if not isinstance(text, str):
            raise UserError(f"{where}: column {arch_column!r} is empty or not text")
        try:
            arch = space.parse(text)
            space.validate(arch)
        except ArchitectureError as e:
            raise UserError(f"{where}: {arch_column!r} is not a {space.name} architecture: {e}") from None
        try:
            metric = float(value)
        except (TypeError, ValueError):
            metric = math.nan
        if not math.isfinite(metric):
            raise UserError(f"{where}: {metric_column!r} must be a finite number, got {value!r}")
        if arch in metrics:
            raise UserError(f"{where}: architecture {text} already appears in row {first_row[arch]}")
        metrics[arch] = metric
        first_row[arch] = row
    return Table(os.fspath(path), metric_column, metrics)


@dataclass(frozen=True)
class Features:
    """Training-free knowledge of the table's rows for a model-based strategy."""

    order: list[Architecture]  # the scored rows, best combined rank first
    records: dict[Architecture, dict[str, float]]  # row -> {score or cost name: value}


@dataclass(frozen=True)
class BenchmarkResult:
    budget: int
    seeds: tuple[int, ...]
    metrics: dict[str, np.ndarray]  # strategy -> (seeds, budget): the metric of each query, in query order
    cache_hits: dict[str, int]  # strategy -> dedupe answers over all seeds (not queries)
    goal: Goal | None = None  # limits and objectives the strategies pursued
    costs: dict[str, np.ndarray] = field(default_factory=dict)  # strategy -> (seeds, budget, goal's costs)

    def best_so_far(self, strategy: str) -> np.ndarray:
        return np.maximum.accumulate(self.metrics[strategy], axis=1)

    def queries_to_reach(self, strategy: str, threshold: float) -> np.ndarray:
        """Per seed, the first query (1-based) whose metric is >= threshold; inf where none is."""
        hit = self.metrics[strategy] >= threshold
        return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1.0, np.inf)


def run_one(
    name: str,
    space: SearchSpace,
    table: Table,
    *,
    seed: int,
    budget: int,
    dedupe: bool = True,
    warm_start: Sequence[Architecture] = (),
    goal: Goal | None = None,
    features: Features | None = None,
):
    """The metrics of the first `budget` queries of one strategy on one seed, its dedupe cache hits, and the
    goal's costs of each query (budget, costs); `warm_start` (best first) is proposed first (see
    strategies/base.py); with a goal the strategy sees the table's cost columns. A strategy that takes
    training-free scores (`bo`) gets `features` instead of the warm start when there are some."""
    if features is not None and getattr(strategies.STRATEGIES[name], "uses_scores", False):
        extra = {"warm_start": features.order, "scores": features.records}
    else:
        extra = {"warm_start": warm_start} if warm_start else {}
    if goal is not None:
        extra.update(goal=goal, costs=table.costs.__getitem__)
    strategy = strategies.make_strategy(name, space, seed=seed, dedupe=dedupe, **extra)
    needed = () if goal is None else goal.costs_needed
    out, costs = np.empty(budget), np.empty((budget, len(needed)))
    for q in range(budget):
        try:
            proposal = strategy.ask()
        except strategies.SpaceExhaustedError as e:
            hint = "" if isinstance(e, strategies.InfeasibleError) else "; lower --budget"
            raise UserError(f"{name}, seed {seed}, after {q} queries: {e}{hint}") from None
        out[q] = table.lookup(proposal.arch)
        if needed:
            costs[q] = [table.costs[proposal.arch][c] for c in needed]
        strategy.tell(proposal.id, out[q])
    return out, strategy.cache_hits, costs


_WORKER_CONTEXT: tuple | None = None


def _init_worker(context: tuple) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context


def _run_job(job: tuple[str, int]):
    space, table, budget, dedupe, warm_starts, goal, features = _WORKER_CONTEXT
    name, seed = job
    warm = warm_starts.get(seed, ()) if warm_starts else ()
    return run_one(
        name,
        space,
        table,
        seed=seed,
        budget=budget,
        dedupe=dedupe,
        warm_start=warm,
        goal=goal,
        features=features,
    )


def run_benchmark(
    space: SearchSpace,
    table: Table,
    names: Sequence[str],
    *,
    seeds: int,
    budget: int,
    dedupe: bool = True,
    workers: int = 1,
    warm_starts: dict[int, list[Architecture]] | None = None,
    goal: Goal | None = None,
    features: Features | None = None,
) -> BenchmarkResult:
    """Each strategy on seeds 0..seeds-1, `budget` queries each, one query at a time (concurrency 1);
    with `warm_starts`, every strategy of seed s starts from `warm_starts[s]` (nas.bench.warm_start); with
    `features`, a strategy that takes scores (`bo`) gets them.

    Runs are independent, so `workers` > 1 spreads them over processes with identical results. Workers are
    forked: they inherit the imported modules and the table instead of loading them again (seconds each).
    """
    jobs = [(name, seed) for name in names for seed in range(seeds)]
    goal = None if goal is None or goal.trivial else goal
    if goal is not None and table.costs is None:
        raise ValueError("a goal needs the table's costs (nas.bench.costs.table_costs)")
    context = (space, table, budget, dedupe, warm_starts, goal, features)
    if workers > 1 and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(
            min(workers, len(jobs)),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(context,),
        ) as pool:
            outcomes = list(pool.map(_run_job, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    else:
        _init_worker(context)
        outcomes = [_run_job(job) for job in jobs]
    metrics, hits, costs = {}, {}, {}
    for name in names:
        mine = [outcome for (job_name, _), outcome in zip(jobs, outcomes) if job_name == name]
        metrics[name] = np.stack([values for values, _, _ in mine])
        hits[name] = sum(cache_hits for _, cache_hits, _ in mine)
        costs[name] = np.stack([cost for _, _, cost in mine])
    return BenchmarkResult(budget, tuple(range(seeds)), metrics, hits, goal, costs if goal else {})


@dataclass(frozen=True)
class Summary:
    strategy: str
    best_at: dict[int, tuple[float, float]]  # checkpoint -> (mean, std over seeds) of the best metric so far
    median_to_top: float  # median over seeds of queries to the top 0.1%; inf when most seeds never got there
    never_reached: int  # seeds that did not reach the top 0.1% within the budget


def checkpoints_for(budget: int) -> list[int]:
    return [q for q in CHECKPOINTS if q <= budget]


def summarize(result: BenchmarkResult, table: Table) -> list[Summary]:
    rows = []
    for name in result.metrics:
        best = result.best_so_far(name)
        to_top = result.queries_to_reach(name, table.top_threshold)
        rows.append(
            Summary(
                name,
                {
                    q: (float(best[:, q - 1].mean()), float(best[:, q - 1].std()))
                    for q in checkpoints_for(result.budget)
                },
                float(np.median(to_top)),
                int(np.isinf(to_top).sum()),
            )
        )
    return rows


def write_curves(result: BenchmarkResult, path: str | os.PathLike) -> None:
    """Long form, one row per strategy, seed and query:
    strategy, seed, query (1-based), metric, best_so_far."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nas.atomic import atomic_path

    columns: dict[str, list] = {"strategy": [], "seed": [], "query": [], "metric": [], "best_so_far": []}
    queries = np.arange(1, result.budget + 1)
    for name, values in result.metrics.items():
        best = result.best_so_far(name)
        for i, seed in enumerate(result.seeds):
            columns["strategy"] += [name] * result.budget
            columns["seed"] += [seed] * result.budget
            columns["query"] += queries.tolist()
            columns["metric"] += values[i].tolist()
            columns["best_so_far"] += best[i].tolist()
    fields = [
        ("strategy", pa.string()),
        ("seed", pa.int64()),
        ("query", pa.int64()),
        ("metric", pa.float64()),
        ("best_so_far", pa.float64()),
    ]
    if result.goal is not None:  # the queried rows' costs, one column per cost the goal uses
        for i, name in enumerate(result.goal.costs_needed):
            columns[name] = np.concatenate(
                [result.costs[s][:, :, i].ravel() for s in result.metrics]
            ).tolist()
            fields.append((name, pa.float64()))
    schema = pa.schema(fields)
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(columns, schema=schema), tmp)


def plot_best_so_far(result: BenchmarkResult, table: Table, path: str | os.PathLike, *, unit: str) -> None:
    from nas.viz.progress_plot import plot_curves

    x = np.arange(1, result.budget + 1)
    curves = {
        name: (x, result.best_so_far(name).mean(0), result.best_so_far(name).std(0))
        for name in result.metrics
    }
    unit_text = f" ({unit})" if unit else ""
    plot_curves(
        curves,
        path,
        xlabel="queries (table lookups of new architectures)",
        ylabel=f"best {table.metric_column} so far{unit_text}",
        title=f"mean ± std over {len(result.seeds)} seeds: {Path(table.path).name}",
    )


def _format_queries(value: float, budget: int) -> str:
    return f"> {budget}" if math.isinf(value) else f"{value:g}"


def render_summary(
    rows: list[Summary], result: BenchmarkResult, table: Table, *, dedupe: bool, wall_s: float, workers: int
):
    """A rich table of the summary, with a caption carrying what the numbers rest on."""
    from rich.table import Table as RichTable

    checkpoints = checkpoints_for(result.budget)
    out = RichTable(
        title=f"{Path(table.path).name}: {len(table.metrics):,} rows, top 0.1% = {table.top_count} rows "
        f"with {table.metric_column} >= {table.top_threshold:g}",
        caption=f"mean ± std over {len(result.seeds)} seeds (0..{len(result.seeds) - 1}), "
        f"budget {result.budget} "
        f"queries, dedupe {'on' if dedupe else 'off'}; {wall_s:.1f} s on {workers} process(es)",
    )
    out.add_column("strategy")
    for q in checkpoints:
        out.add_column(f"best @{q}", justify="right")
    out.add_column("median queries to top 0.1%", justify="right")
    out.add_column("never reached", justify="right")
    out.add_column("cache answers", justify="right")
    for row in rows:
        out.add_row(
            row.strategy,
            *(f"{row.best_at[q][0]:.3f} ± {row.best_at[q][1]:.3f}" for q in checkpoints),
            _format_queries(row.median_to_top, result.budget),
            f"{row.never_reached}/{len(result.seeds)}",
            str(result.cache_hits[row.strategy]),
        )
    return out


def benchmark_command(
    *,
    table: str,
    space: str,
    arch_column: str,
    metric_column: str,
    metric_unit: str,
    strategies: str,
    seeds: int,
    budget: int,
    dedupe: bool,
    output: str | None,
    plot: str | None,
    workers: int = 1,
    warm_start: int = 0,
    score_data: str | None = None,
    scores: str | None = None,
    objectives: str | None = None,
    max_params: float | None = None,
    max_flops: float | None = None,
    max_latency_ms: float | None = None,
) -> BenchmarkResult:
    """`nas benchmark`: check every option, load the table, run, print, then write the files."""
    import time

    from rich.console import Console

    import search_spaces
    import strategies as strategy_registry

    names = [n.strip() for n in strategies.split(",") if n.strip()]
    unknown = [n for n in names if n not in strategy_registry.STRATEGIES]
    if not names or unknown:
        raise UserError(
            f"--strategies: unknown strategy {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from {', '.join(sorted(strategy_registry.STRATEGIES))}"
        )
    if len(set(names)) != len(names):
        raise UserError(f"--strategies lists a strategy twice: {strategies}")
    if seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {seeds}")
    if budget < 1:
        raise UserError(f"--budget must be at least 1, got {budget}")
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if warm_start < 0:
        raise UserError(f"--warm-start must be 0 (off) or a number of cells to score, got {warm_start}")
    if output is not None and not output.lower().endswith(".parquet"):
        raise UserError(f"--output {output!r} must end in .parquet")
    if plot is not None and not plot.lower().endswith((".png", ".svg")):
        raise UserError(f"--plot {plot!r} must end in .png or .svg")
    try:
        search_space = search_spaces.make_space(space)
    except search_spaces.UnknownSpaceError as e:
        raise UserError(f"--space: {e}") from None
    from nas.bench import budgeted

    goal = budgeted.make_goal(
        objectives,
        max_params=max_params,
        max_flops=max_flops,
        max_latency_ms=max_latency_ms,
        metric_column=metric_column,
    )
    loaded = load_table(table, search_space, arch_column, metric_column)
    full = loaded
    if goal is not None:
        full = budgeted.attach_costs(loaded, search_space)
        loaded = budgeted.within_limits(full, goal)  # what the summary measures against
        goal = budgeted.with_targets(goal, loaded)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped to a file or a log: do not wrap the table to 80 columns
    features = None
    if scores is not None:
        from nas.bench.warm_start import table_features

        features = table_features(search_space, full, scores, score_data, arch_column)
        console.print(
            f"scores for bo: {len(features.order)} rows with {', '.join(features.score_names)}"
            + (
                f" ({features.computed} computed now in {features.scoring_s:.1f} s)"
                if features.computed
                else ""
            )
        )
    # A table listing part of the space (a sample of NB201): strategies propose only its rows.
    from nas.bench.table_space import covering_space

    search_space = covering_space(search_space, list(loaded.metrics))
    warm = None
    if warm_start:
        from nas.bench.warm_start import score_warm_starts

        warm = score_warm_starts(search_space, seeds, warm_start, score_data)
        console.print(
            f"warm start: {warm_start} cells per seed, {warm.cells} distinct, {warm.computed} scored now "
            f"({warm.cells - warm.computed} from the cache) in {warm.scoring_s:.1f} s on {warm.device}"
            + (f", {warm.scoring_s / warm.computed:.3f} s per cell" if warm.computed else "")
            + "; the time below is the queries only"
        )

    start = time.perf_counter()
    result = run_benchmark(
        search_space,
        full,
        names,
        seeds=seeds,
        budget=budget,
        dedupe=dedupe,
        workers=workers,
        warm_starts=warm.by_seed if warm else None,
        goal=goal,
        features=features and Features(features.order, features.records),
    )
    wall_s = time.perf_counter() - start
    console.print(
        render_summary(
            summarize(result, loaded), result, loaded, dedupe=dedupe, wall_s=wall_s, workers=workers
        )
    )
    if goal is not None:
        console.print(
            budgeted.render_goal_summary(result, loaded, len(full.metrics), checkpoints_for(result.budget))[0]
        )
    if output:
        write_curves(result, output)
        print(f"wrote {output}")
    if plot:
        if goal is not None and goal.multi:
            budgeted.plot_hypervolume(result, loaded, plot)
        else:
            plot_best_so_far(result, loaded, plot, unit=metric_unit)
        print(f"wrote {plot}")
    return result
