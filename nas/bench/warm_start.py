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
