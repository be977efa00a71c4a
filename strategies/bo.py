"""Model-based search: a random-forest surrogate refitted after every result, proposing by an upper confidence
bound over a pool of candidates (sequential model-based optimisation as in SMAC, Hutter et al. 2011; the
forest's spread as its uncertainty).

**Features.** Each architecture is `space.features(arch)` (one-hot of its decisions: the op on each edge for
NB201), plus, where training-free scores are known, the rank of each score among the scored cells (0 worst,
1 best; 0.5 and a "not scored" flag for a cell without scores). Scores reach the strategy from outside
(torch stays out of strategies/): `warm_start` lists the scored cells, best combined rank first, and
`scores(arch)` (a function or a mapping) gives each one's record `{name: value}`; any numeric entry counts
as a feature (the tabular benchmark adds the parameter count). With a warm start but no records, the rank in
the warm-start list is the one score.

**Pool.** Every architecture of the space when there are at most `enumerate_limit` (NB201: its 8,765
non-isomorphic cells of the 15,625; a table's own rows when the space is a table's), else, drawn afresh for
each proposal: the scored cells, `samples` uniform samples and `mutations` mutations of each of the 10 best
results. Cells already proposed, and under limits cells outside them, are never in it, so no proposal
repeats or breaks a limit.

**Proposals.** The first `initial` are drawn at random among the `initial_from` best-scored cells (without
scores: uniform over the pool). After that, a forest of `trees` trees (`max_features` of the features per
split, seeded from the strategy's RNG) is fitted on the results visible in the determinism window, failed
candidates counting as the worst result seen, and the pool cell maximising mean + `kappa` x spread of the
trees is proposed. Proposals still in flight enter the fit at the mean of the results (a constant liar,
Ginsbourger et al. 2010), so K proposals in flight are not K copies of one guess. With cost objectives, each
proposal draws its own weights from the simplex (seeded) and minimises the augmented Chebyshev scalarisation
of ParEGO (Knowles 2006) of (normalised optimistic accuracy, normalised log costs): the costs of pool cells
are known exactly, only the accuracy is modelled. Until two distinct successful results exist the forest has
nothing to learn: proposals go on in score order (or at random without scores).

Everything comes from the results, the proposals and the RNG, so the same seed gives the same proposals
whatever order parallel results arrive in, and a saved state resumes exactly (the forest is refitted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from search_spaces.base import Architecture
from strategies._registry import register_strategy
from strategies.base import Strategy, StrategyError

NOT_SCORED = 0.5  # the rank feature of a cell without scores: the middle, flagged by the extra column
RECORD_SKIP = ("error", "seconds")  # entries of a score record that are not scores
PAREGO_RHO = 0.05  # the augmentation of ParEGO's Chebyshev scalarisation (Knowles 2006)
TOP_PARENTS = 10  # non-enumerable spaces: the best results whose mutations join the pool


@dataclass(frozen=True)
class BoConfig:
    trees: int = 64  # random-forest size
    max_features: float = 0.5  # fraction of the features tried at each split
    kappa: float = 1.0  # exploration weight of the spread in mean + kappa * spread
    initial: int = 5  # proposals drawn from the best-scored cells before the model takes over
    initial_from: int = 50  # ... among this many best-scored cells
    enumerate_limit: int = 20_000  # spaces with at most this many architectures are searched exhaustively
    pool_size: int = 10_000  # candidates the acquisition ranks per proposal (a seeded subsample above)
    samples: int = 500  # non-enumerable spaces: uniform samples in each proposal's pool
    mutations: int = 20  # non-enumerable spaces: mutations of each of the best results

    def __post_init__(self) -> None:
        for name in ("trees", "initial", "initial_from", "enumerate_limit", "pool_size", "samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise StrategyError(f"bo: {name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.mutations, int) or self.mutations < 0:
            raise StrategyError(f"bo: mutations must be an integer >= 0, got {self.mutations!r}")
        if not 0 < self.max_features <= 1:
            raise StrategyError(f"bo: max_features must be in (0, 1], got {self.max_features!r}")
        if not self.kappa >= 0:
            raise StrategyError(f"bo: kappa must be >= 0, got {self.kappa!r}")


@register_strategy("bo")
class ModelBased(Strategy):
    """Random-forest surrogate + UCB over a candidate pool, warm-started from training-free scores."""

    config_class = BoConfig
    uses_scores = True  # takes `scores=` (training-free score records of the warm-start cells)

    def __init__(
        self,
        space,
        *,
        scores: Callable[[Architecture], Mapping[str, float] | None]
        | Mapping[Architecture, Mapping[str, float]]
        | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(space, **kwargs)
        # The warm-start cells are the scored cells the first proposals come from, not a list to replay.
        self._warm_next = len(self._warm)
        self._score_of = scores.get if isinstance(scores, Mapping) else scores
        self._observed: list[tuple[Architecture, float | None]] = []
        # Keyed by the exact architecture: isomorphic ones share a hash but not an encoding, and which of
        # them came first must not matter (a resumed run meets them in another order).
        self._features: dict[Architecture, np.ndarray] = {}
        self._score_columns: dict[str, np.ndarray] | None = None  # hash -> rank features of scored cells
        self._pool: list[tuple[Architecture, str]] | None = None  # the enumerated pool, once listed
        self._enumerable = True  # until the space says it has too many architectures to list
        self._pool_x: np.ndarray | None = None  # features of the listed cells, built once
        self._costs: dict[tuple[Architecture, str], float] = {}  # a cost objective of a pool cell, once

    # -- what the scores give --

    def _scored(self) -> dict[str, np.ndarray]:
        """hash -> rank of each score among the scored (warm-start) cells, in [0, 1], 1 best."""
        if self._score_columns is not None:
            return self._score_columns
        cells, seen = [], set()
        for arch in self._warm:
            h = self._hash(arch)
            if h not in seen:
                seen.add(h)
                cells.append((arch, h))
        records = [dict(self._score_of(a) or {}) if self._score_of else {} for a, _ in cells]
        names = sorted({k for r in records for k, v in r.items() if k not in RECORD_SKIP and _is_number(v)})
        columns = []
        for name in names:
            values = np.array([_finite_or_worst(r.get(name)) for r in records])
            columns.append(_ranks(values))
        # The warm-start order itself (best first) is a score: the caller's combination of them.
        columns.append(_ranks(-np.arange(len(cells), dtype=float)))
        matrix = np.stack(columns, axis=1) if cells else np.zeros((0, len(columns)))
        self._score_columns = {h: matrix[i] for i, (_, h) in enumerate(cells)}
        self._score_width = len(columns)
        return self._score_columns

    def _row(self, arch: Architecture, h: str) -> np.ndarray:
        row = self._features.get(arch)
        if row is None:
            scored = self._scored()
            if self._warm:
                ranks = scored.get(h)
                extra = (
                    np.append(ranks, 1.0)
                    if ranks is not None
                    else np.append(np.full(self._score_width, NOT_SCORED), 0.0)
                )
                row = np.concatenate([self.space.features(arch), extra]).astype(np.float32)
            else:
                row = np.asarray(self.space.features(arch), dtype=np.float32)
            self._features[arch] = row
        return row

    # -- the pool --

    def _allowed(self, arch: Architecture, h: str) -> bool:
        if h in self._proposed:
            return False
        return self.goal is None or not self.goal.limits or self.goal.feasible(self.costs(arch))

    def _enumerated(self) -> np.ndarray | None:
        """Indices into `_pool` of the listed cells not proposed yet; None when the space is too large to
        list. The list holds one cell per isomorphism class within the limits, built once."""
        if not self._enumerable:
            return None
        if self._pool is None:
            archs = self.space.all_architectures(self.config.enumerate_limit)
            if archs is None:
                self._enumerable = False
                return None
            seen: set[str] = set()
            self._pool = []
            for arch in archs:
                h = self._hash(arch)
                if h not in seen and self._allowed(arch, h):
                    seen.add(h)
                    self._pool.append((arch, h))
            self._pool_index = {h: i for i, (_, h) in enumerate(self._pool)}
            self._alive = np.ones(len(self._pool), dtype=bool)
            self._marked = 0
        for h in self._hashes[self._marked :]:  # proposed since the last look
            i = self._pool_index.get(h)
            if i is not None:
                self._alive[i] = False
        self._marked = len(self._hashes)
        return np.flatnonzero(self._alive)

    def _candidates(self) -> tuple[list[tuple[Architecture, str]], np.ndarray | None]:
        """This proposal's pool as (arch, hash) pairs, and its indices into the listed cells (None when the
        space is not listed)."""
        alive = self._enumerated()
        if alive is not None:
            if len(alive) > self.config.pool_size:
                alive = np.sort(self.rng.choice(alive, self.config.pool_size, replace=False))
            return [self._pool[int(i)] for i in alive], alive
        drawn = list(self._warm)
        drawn += [self.space.sample(self.rng) for _ in range(self.config.samples)]
        best = sorted(
            ((r, i) for i, (_, r) in enumerate(self._observed) if r is not None), key=lambda t: -t[0]
        )
        for _, i in best[:TOP_PARENTS]:
            drawn += [self.space.mutate(self._observed[i][0], self.rng) for _ in range(self.config.mutations)]
        out, seen = [], set()
        for arch in drawn:
            h = self._hash(arch)
            if h not in seen and self._allowed(arch, h):
                seen.add(h)
                out.append((arch, h))
        return out, None

    def _pool_rows(self, pool: list[tuple[Architecture, str]], listed: np.ndarray | None) -> np.ndarray:
        if listed is None:
            return np.stack([self._row(a, h) for a, h in pool])
        if self._pool_x is None:
            self._pool_x = np.stack([self._row(a, h) for a, h in self._pool])
        return self._pool_x[listed]

    # -- proposing --

    def _candidate(self) -> Architecture:
        pool, listed = self._candidates()
        if not pool:
            return self.space.sample(self.rng)  # nothing left in the pool: the base's dedupe ends the search
        successes = [r for _, r in self._observed if r is not None]
        if len(self._archs) < self.config.initial or len(set(successes)) < 2:
            return self._by_scores(pool, top=self.config.initial_from)
        return self._by_model(pool, self._pool_rows(pool, listed), successes)

    def _by_scores(self, pool: list[tuple[Architecture, str]], top: int) -> Architecture:
        """A random one of the `top` best-scored pool cells; a uniform one without scores."""
        scored = self._scored()
        order = {h: i for i, h in enumerate(scored)}  # warm-start order, best first
        ranked = sorted((order[h], i) for i, (_, h) in enumerate(pool) if h in order)
        if ranked:
            choices = [i for _, i in ranked[:top]]
            return pool[choices[int(self.rng.integers(len(choices)))]][0]
        return pool[int(self.rng.integers(len(pool)))][0]

    def _by_model(self, pool, candidates: np.ndarray, successes: list[float]) -> Architecture:
        worst, liar = min(successes), float(np.mean(successes))
        train = [(a, worst if r is None else r) for a, r in self._observed]
        train += [(a, liar) for a in self._archs[self._applied :]]  # in flight: the constant liar
        x = np.stack([self._row(a, self._hash(a)) for a, _ in train])
        y = np.array([r for _, r in train])
        per_tree = self._forest(x, y, candidates)
        optimistic = per_tree.mean(0) + self.config.kappa * per_tree.std(0)
        if self.goal is None or not self.goal.multi:
            return pool[int(np.argmax(optimistic))][0]
        return pool[int(np.argmin(self._scalarised(pool, optimistic, successes)))][0]

    def _forest(self, x: np.ndarray, y: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Each tree's prediction for each candidate (trees, candidates): a random forest (Breiman 2001:
        bootstrap rows, `max_features` per split) built tree by tree, which skips the per-tree parameter
        copying and input checks of RandomForestRegressor (a third of its time at this size)."""
        from sklearn.tree import DecisionTreeRegressor

        seeds = self.rng.integers(2**31 - 1, size=self.config.trees)
        out = np.empty((self.config.trees, len(candidates)))
        for k, seed in enumerate(seeds):
            rows = np.random.default_rng(seed).integers(len(x), size=len(x))
            tree = DecisionTreeRegressor(max_features=self.config.max_features, random_state=int(seed))
            tree.fit(x[rows], y[rows], check_input=False)
            out[k] = tree.predict(candidates, check_input=False)
        return out

    def _scalarised(self, pool, optimistic: np.ndarray, successes: list[float]) -> np.ndarray:
        """ParEGO's augmented Chebyshev scalarisation with weights drawn for this proposal; smaller is
        better."""
        lo, hi = min(successes), max(successes)
        objectives = [(hi - optimistic) / (hi - lo)]  # 0 at the best result seen, higher is worse
        for name in self.goal.cost_objectives:
            cost = np.log(np.maximum([self._cost(a, name) for a, _ in pool], 1e-12))
            span = np.ptp(cost)
            objectives.append((cost - cost.min()) / span if span > 0 else np.zeros_like(cost))
        g = np.stack(objectives, axis=1)
        weights = self.rng.dirichlet(np.ones(g.shape[1]))
        weighted = g * weights
        return weighted.max(1) + PAREGO_RHO * weighted.sum(1)

    def _cost(self, arch: Architecture, name: str) -> float:
        key = (arch, name)
        if key not in self._costs:
            self._costs[key] = float(self.costs(arch)[name])
        return self._costs[key]

    # -- learning --

    def _observe(self, arch, reward) -> None:
        self._observed.append((arch, reward))

    def _observe_cached(self, arch, reward) -> None:
        pass  # a cell proposed before is in the data already

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        # The data is the consumed results in proposal order: rebuilt, not stored twice.
        self._observed = [(self._archs[i], self._results[i].reward) for i in range(self._applied)]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def _finite_or_worst(value: Any) -> float:
    value = float(value) if _is_number(value) else -np.inf
    return value if np.isfinite(value) else -np.inf


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks scaled to [0, 1] (0 lowest); a single value ranks 1."""
    n = len(values)
    if n < 2:
        return np.ones(n)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=float)
    for value in np.unique(values):  # ties share their mean rank
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks / (n - 1)
