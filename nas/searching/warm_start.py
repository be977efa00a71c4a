"""Training-free scores in a search run: the warm start and the score columns of trials.parquet.

With `warm_start = N` a run scores N distinct random cells (seeded by the run's seed) before any training,
orders them by the default combination of their scores (nas.score_names), writes them to
RUN/warm_start.parquet and hands the ordered list to the strategy, which proposes its best first (see
strategies/base.py). With `warm_start > 0` or `record_scores`, every candidate's scores are also recorded in
its row of trials.parquet (cells already scored come from the cache). The scores use the run's preset network,
its data (one seeded batch of training images, never the held-out validation images) and its seed, so a run is
as reproducible with scores as without.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import search_spaces
from nas.runs.folder import RunFolder
from nas.score_names import DEFAULT_SCORES as SCORE_NAMES
from nas.searching.config import SearchConfig
from search_spaces.base import Architecture, SearchSpace

COLUMNS = tuple(f"score_{name}" for name in SCORE_NAMES)
SAMPLE_SEED_OFFSET = 0x5C0  # the warm-start sample's RNG stream, apart from the strategy's own


class RunScores:
    """The scorer of one run, made on first use (it reads the data and imports torch)."""

    def __init__(self, config: SearchConfig, space: SearchSpace, run: RunFolder) -> None:
        self.config, self.space, self.run = config, space, run
        self._scorer = None

    @property
    def scorer(self):
        if self._scorer is None:
            from nas.scores.scorer import Scorer, score_batch

            spec = self.config.data_spec
            images = score_batch(
                self.config.data,
                seed=self.config.seed,
                val_size=self.config.val_size,
                image_size=None if spec is None else spec.image_size,
                test_fraction=self.config.test_fraction,
            )
            from nas.searching.config import run_preset

            self._scorer = Scorer(self.space, run_preset(self.config).model, images, seed=self.config.seed)
        return self._scorer

    def warm_start(self) -> list[Architecture]:
        """The warm-start cells, best combined rank first; also written to RUN/warm_start.parquet."""
        from nas.scores import combined_rank, order_by_combined_rank
        from nas.scores.scorer import sample_distinct

        n = self.config.warm_start
        archs = sample_distinct(self.space, n, seed=self.config.seed + SAMPLE_SEED_OFFSET)
        started = time.perf_counter()
        records = self.scorer.score_many(archs)
        seconds = time.perf_counter() - started
        order = order_by_combined_rank(records)
        ranks = combined_rank(records)
        write_warm_start(self.run, [archs[i] for i in order], [records[i] for i in order], ranks[order])
        unscorable = sum(1 for r in records if r["error"])
        # One line before the search's own display starts: scoring takes a while and the user should know why.
        print(
            f"warm start: scored {len(archs)} cells in {seconds:.1f} s on {self.scorer.device.type} "
            f"({self.scorer.computed} computed, {unscorable} unscorable); "
            f"see {self.run.path / 'warm_start.parquet'}",
            file=sys.stderr,
        )
        return [archs[i] for i in order]

    def columns(self, arch: Architecture) -> dict[str, Any]:
        """The score columns of a trial row (None for a score that could not be computed)."""
        record = self.scorer.score(arch)
        return {f"score_{name}": None if record.get("error") else record.get(name) for name in SCORE_NAMES}


def run_scores(config: SearchConfig, space: SearchSpace, run: RunFolder) -> RunScores | None:
    if not (config.warm_start or config.record_scores):
        return None
    return RunScores(config, space, run)


def write_warm_start(run: RunFolder, archs, records, ranks) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nas.atomic import atomic_path

    table = pa.table(
        {
            "order": list(range(len(archs))),
            "arch": [search_spaces.to_json(a) for a in archs],
            "arch_hash": [search_spaces.canonical_hash(a) for a in archs],
            **{f"score_{n}": pa.array([r[n] for r in records], pa.float64()) for n in SCORE_NAMES},
            "combined_rank": pa.array([float(x) for x in ranks], pa.float64()),
            "error": pa.array([r["error"] for r in records], pa.string()),
            "seconds": pa.array([r["seconds"] for r in records], pa.float64()),
        }
    )
    with atomic_path(run.path / "warm_start.parquet") as tmp:
        pq.write_table(table, tmp)
