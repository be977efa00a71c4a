"""Warm starts for the tabular benchmark: the training-free scores come from the real networks, the metrics
from the table.

For each seed, `n` distinct cells are drawn (seeded by the seed, as a search's warm start is) and ordered by
the default combination of their scores (nas.score_names); every strategy of that seed starts from that list.
The networks are the space's at the benchmark's own size (NB201: C=16, N=5, the networks behind its tables) on
one batch of CIFAR-10 training images, initialised with seed 0 whatever the strategy's seed, so each cell has
one score: it is computed once and kept in the disk cache (`$NAS_CACHE_DIR/scores`), and a space is scored at
most once across runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from search_spaces.base import Architecture, ModelConfig, SearchSpace

BENCHMARK_MODELS = {"nb201": ModelConfig(channels=16, cells_per_stage=5)}  # Dong & Yang 2020, sec. 2.1
SAMPLE_SEED_OFFSET = 0x5C0  # as nas.searching.warm_start: the sample's RNG stream, apart from the strategy's


@dataclass(frozen=True)
class WarmStarts:
    by_seed: dict[int, list[Architecture]]  # seed -> cells, best combined rank first
    cells: int  # distinct cells scored or read from the cache
    computed: int  # of which computed now (the rest came from the cache)
    scoring_s: float  # wall time of the scoring, reported apart from the queries
    device: str


def score_warm_starts(
    space: SearchSpace, seeds: int, n: int, data: str | None, *, device: str | None = None
) -> WarmStarts:
    import search_spaces
    from nas.errors import UserError
    from nas.scores import order_by_combined_rank
    from nas.scores.scorer import Scorer, sample_distinct, score_batch

    model = BENCHMARK_MODELS.get(space.name)
    if model is None:
        raise UserError(
            f"--warm-start scores the benchmark's real networks, and the size of the {space.name} networks "
            f"behind a table is not known; spaces with one: {', '.join(sorted(BENCHMARK_MODELS))}"
        )
    started = time.perf_counter()
    # The whole training set: the table's networks were trained on all of it.
    scorer = Scorer(space, model, score_batch(data, seed=0, val_size=0), seed=0, device=device)
    samples = {seed: sample_distinct(space, n, seed=seed + SAMPLE_SEED_OFFSET) for seed in range(seeds)}
    records = {}
    for archs in samples.values():
        for arch in archs:
            h = search_spaces.canonical_hash(arch)
            if h not in records:
                records[h] = scorer.score(arch)
    by_seed = {}
    for seed, archs in samples.items():
        mine = [records[search_spaces.canonical_hash(a)] for a in archs]
        by_seed[seed] = [archs[i] for i in order_by_combined_rank(mine)]
    return WarmStarts(
        by_seed, len(records), scorer.computed, time.perf_counter() - started, scorer.device.type
    )


@dataclass(frozen=True)
class TableFeatures:
    order: list[Architecture]  # the table's rows, best combined rank of the scores first
    records: dict[Architecture, dict[str, float]]  # row -> its scores and its parameter count
    score_names: tuple[str, ...]
    computed: int  # rows scored now (the rest came from the file or the cache)
    scoring_s: float


def table_features(
    space: SearchSpace, table, source: str, data: str | None, arch_column: str
) -> TableFeatures:
    """The training-free scores of every row of `table` and its parameter count (nas/bench/costs.py), for a
    strategy that models the table (`bo`). `source` is a CSV or Parquet file with `arch_column` and one column
    per score (what benchmarks/scores_nb201.py writes; the default combination's scores are used when the
    file has them, else every registered score it has), or "compute": every row scored here, as the warm
    start scores its cells (disk-cached, so a table is scored once)."""
    import math

    from nas.bench.costs import table_costs
    from nas.errors import UserError
    from nas.scores import DEFAULT_SCORES, SCORES, order_by_combined_rank

    rows = list(table.metrics)
    started = time.perf_counter()
    computed = 0
    if source == "compute":
        from nas.scores.scorer import Scorer, score_batch

        model = BENCHMARK_MODELS.get(space.name)
        if model is None:
            raise UserError(
                f"--scores compute scores the benchmark's real networks, and the size of the {space.name} "
                "networks behind a table is not known; spaces with one: "
                f"{', '.join(sorted(BENCHMARK_MODELS))}"
            )
        scorer = Scorer(space, model, score_batch(data, seed=0, val_size=0), seed=0)
        by_row = dict(zip(rows, scorer.score_many(rows)))
        names, computed = tuple(scorer.names), scorer.computed
    else:
        by_row, names = _read_scores(space, rows, source, arch_column, DEFAULT_SCORES, SCORES)
    costs = table_costs(space, rows)
    records = {}
    for arch in rows:
        record = {n: float(by_row[arch][n]) for n in names if by_row[arch].get(n) is not None}
        records[arch] = {
            **{n: v for n, v in record.items() if math.isfinite(v)},
            "params": float(costs[arch]["params"]),
        }
    order = [rows[i] for i in order_by_combined_rank([records[a] for a in rows], names)]
    return TableFeatures(order, records, names, computed, time.perf_counter() - started)


def _read_scores(space, rows, source, arch_column, defaults, registered):
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from nas.errors import UserError
    from search_spaces.base import ArchitectureError

    path = source
    try:
        data = pa_csv.read_csv(path) if path.lower().endswith(".csv") else pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file is one user error
        raise UserError(
            f"--scores {path}: cannot be read ({type(e).__name__}); give a .csv or .parquet file of "
            "scores per row, or 'compute'"
        ) from None
    columns = data.column_names
    names = tuple(n for n in defaults if n in columns) or tuple(n for n in registered if n in columns)
    if arch_column not in columns or not names:
        raise UserError(
            f"--scores {path} needs the column {arch_column!r} and at least one score column "
            f"({', '.join(sorted(registered))}); it has {', '.join(columns)}"
        )
    by_row = {}
    texts = data.column(arch_column).to_pylist()
    values = {n: data.column(n).to_pylist() for n in names}
    for i, text in enumerate(texts):
        try:
            arch = space.parse(str(text))
        except ArchitectureError as e:
            raise UserError(f"--scores {path} row {i + 1}: not a {space.name} architecture: {e}") from None
        by_row[arch] = {n: values[n][i] for n in names}
    missing = [a for a in rows if a not in by_row]
    if missing:
        raise UserError(
            f"--scores {path} has no row for {len(missing)} of the table's {len(rows)} architectures "
            f"(first: {missing[0]}); score the same table's rows"
        )
    return by_row, names
