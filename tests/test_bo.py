"""The model-based strategy (strategies/bo.py) and constrained evolution: what the generic strategy tests in
test_strategies.py do not cover."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

import search_spaces as S
import strategies as T
from nas.bench import tabular
from nas.bench.synthetic_table import synthetic_nb201_rows
from nas.bench.table_space import TableSpace, covering_space
from strategies.objectives import Goal
from tests.test_strategies import drive, reward_of

NB201 = S.make_space("nb201")
SMALL_BO = {"trees": 8}  # the same algorithm, fewer trees: these tests are about the protocol


@pytest.fixture(scope="module")
def table():
    return {NB201.parse(a): m for a, m in synthetic_nb201_rows(0)}


def params_of(arch) -> dict[str, float]:
    """A made-up additive cost: convolutions are expensive."""
    return {"params": float(sum({"nor_conv_3x3": 9, "nor_conv_1x1": 1}.get(op, 0) for op in arch.ops))}


def run(strategy, table, n: int) -> list:
    out = []
    for _ in range(n):
        p = strategy.ask()
        strategy.tell(p.id, table[p.arch])
        out.append(p)
    return out


def test_in_flight_order_and_resume_give_the_same_proposals():
    runs = {
        order: drive(T.make_strategy("bo", NB201, seed=5, concurrency=4, **SMALL_BO), 30, order)
        for order in ("fifo", "lifo", "shuffle")
    }
    archs = {order: [p.arch for p in r] for order, r in runs.items()}
    assert archs["fifo"] == archs["lifo"] == archs["shuffle"]
    assert len({S.canonical_hash(a) for a in archs["fifo"]}) == 30  # no repeats

    s = T.make_strategy("bo", NB201, seed=5, concurrency=4, **SMALL_BO)
    drive(s, 17, "shuffle")
    restored = T.make_strategy("bo", NB201, seed=5, concurrency=4, **SMALL_BO)
    restored.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert [p.arch for p in drive(restored, 13, "lifo")] == archs["fifo"][17:]


def test_in_flight_proposals_do_not_crowd_the_acquisition(table):
    """With 4 in flight the constant liar spreads the proposals: the four of one window are not the same
    neighbourhood of one guess (at least two differ in more than one edge from each other)."""
    s = T.make_strategy("bo", NB201, seed=0, concurrency=4, **SMALL_BO)
    for _ in range(12):
        p = s.ask()
        while p is None:
            q = s.pending()[0]
            s.tell(q.id, table[q.arch])
            p = s.ask()
    window = [p.arch for p in s.pending()]
    assert len(window) == 4
    distances = [
        sum(x != y for x, y in zip(a.ops, b.ops)) for i, a in enumerate(window) for b in window[i + 1 :]
    ]
    assert max(distances) > 1


def test_learns_on_the_synthetic_table(table):
    """bo's best after 40 queries beats random search's over 6 seeds (a model that learns nothing would
    not)."""
    best = {
        name: [
            max(
                table[p.arch]
                for p in run(
                    T.make_strategy(name, NB201, seed=s, **SMALL_BO if name == "bo" else {}), table, 40
                )
            )
            for s in range(6)
        ]
        for name in ("bo", "random")
    }
    assert np.mean(best["bo"]) > np.mean(best["random"])
    assert stats.mannwhitneyu(best["bo"], best["random"], alternative="greater").pvalue < 0.05


def test_warm_start_from_scores_comes_first():
    """The first proposals are among the `initial_from` best-scored cells not proposed yet; the scores reach
    the features."""
    rng = np.random.default_rng(0)
    cells = list({S.canonical_hash(a): a for a in (NB201.sample(rng) for _ in range(60))}.values())
    ordered = sorted(cells, key=lambda a: -reward_of(a) if reward_of(a) is not None else 1)
    records = {a: {"synflow": float(i), "naswot": float(-i)} for i, a in enumerate(ordered)}
    s = T.make_strategy(
        "bo",
        NB201,
        seed=1,
        concurrency=3,
        warm_start=ordered,
        scores=records,
        initial=3,
        initial_from=5,
        **SMALL_BO,
    )
    top = {S.canonical_hash(a) for a in ordered[:7]}  # the 5 best not proposed yet, for each of the 3
    first = [s.ask() for _ in range(3)]
    assert all(S.canonical_hash(p.arch) in top for p in first)
    width = len(NB201.features(ordered[0]))
    row = s._row(ordered[0], S.canonical_hash(ordered[0]))
    assert row.shape == (width + 4,)  # two scores, the warm-start order, the "scored" flag


def test_limits_are_honoured_and_objectives_trade_off(table):
    limited = Goal(limits={"params": 20})
    s = T.make_strategy("bo", NB201, seed=2, goal=limited, costs=params_of, **SMALL_BO)
    assert all(params_of(p.arch)["params"] <= 20 for p in run(s, table, 25))

    pareto = Goal(("val_accuracy", "params"), targets={"params": 20})
    s = T.make_strategy("bo", NB201, seed=2, goal=pareto, costs=params_of, **SMALL_BO)
    proposals = run(s, table, 30)
    cheap = sum(params_of(p.arch)["params"] <= 10 for p in proposals[10:])
    assert 0 < cheap < 20  # random weights: some proposals chase accuracy, some cost
    again = T.make_strategy("bo", NB201, seed=2, goal=pareto, costs=params_of, **SMALL_BO)
    assert [p.arch for p in run(again, table, 30)] == [p.arch for p in proposals]


@pytest.mark.parametrize("outcome", ["equal", "failed"])
def test_degenerate_surrogate(outcome):
    """All results equal or every candidate failed: nothing to learn, yet no crash, no loop, no repeat."""
    s = T.make_strategy("bo", NB201, seed=0, **SMALL_BO)
    seen = set()
    for _ in range(30):
        p = s.ask()
        seen.add(S.canonical_hash(p.arch))
        if outcome == "equal":
            s.tell(p.id, 0.5)
        else:
            s.tell_failure(p.id, "out of memory")
    assert len(seen) == 30


def test_runs_out_cleanly_on_a_tiny_table():
    rng = np.random.default_rng(0)
    rows = list({S.canonical_hash(a): a for a in (NB201.sample(rng) for _ in range(12))}.values())
    space = TableSpace(NB201, rows)
    s = T.make_strategy("bo", space, seed=0, max_retries=20, **SMALL_BO)
    proposed = []
    with pytest.raises(T.SpaceExhaustedError):
        for _ in range(len(rows) + 1):
            p = s.ask()
            proposed.append(p.arch)
            s.tell(p.id, float(len(proposed)))
    assert sorted(map(str, proposed)) == sorted(map(str, rows))


def test_table_space_stays_in_the_table():
    rng = np.random.default_rng(1)
    rows = [NB201.sample(rng) for _ in range(50)]
    space = covering_space(NB201, rows)
    assert isinstance(space, TableSpace) and covering_space(NB201, NB201.all_architectures(20_000)) is NB201
    members = set(rows)
    for _ in range(50):
        a = space.sample(rng)
        assert a in members and space.mutate(a, rng) in members and space.mutate(a, rng) != a
        assert space.decode([int(c) for c in rng.integers(5, size=6)]) in members


def test_constrained_evolution_beats_constrained_random():
    """Under a parameter limit that excludes most of the best cells, evolution's best within the limit after
    100 queries beats random search's (one-sided Mann-Whitney U, p < 0.01 over 40 fixed seeds), with fewer
    repeats answered from the cache (they no longer rejoin the population)."""
    space = NB201
    table = tabular.Table("synthetic", "val_acc", {space.parse(a): m for a, m in synthetic_nb201_rows(0)})
    from nas.bench import budgeted

    full = budgeted.attach_costs(table, space)
    goal = Goal(limits={"params": 400_000})
    result = tabular.run_benchmark(space, full, ["random", "evolution"], seeds=40, budget=100, goal=goal)
    best = {n: result.best_so_far(n)[:, -1] for n in ("random", "evolution")}
    assert stats.mannwhitneyu(best["evolution"], best["random"], alternative="greater").pvalue < 0.01
    assert result.cache_hits["evolution"] < result.cache_hits["random"]
