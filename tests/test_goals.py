"""Limits and several objectives: Pareto arithmetic, strategies under a goal, builder costs, tabular mode,
choosing from a front, and the errors a user sees."""

from __future__ import annotations

import itertools
import json
import sys
from unittest import mock

import numpy as np
import pytest

import search_spaces
import strategies
from nas.bench import budgeted
from nas.bench import costs as table_cost_module
from nas.bench import tabular as B
from nas.bench.synthetic_table import synthetic_nb201_rows
from nas.cli import main
from nas.errors import UserError
from nas.runs.front import parse_conditions
from search_spaces.base import ModelConfig
from search_spaces.cost import CostModel, additive_costs, build_stats
from strategies.objectives import (
    Goal,
    GoalError,
    crowding_distances,
    hypervolume,
    pareto_mask,
    pareto_ranks,
)
from tests.tiny_cifar import tiny_arrays, write_parquet

SMALL = ModelConfig(channels=4, cells_per_stage=1)  # quick to build; costs still differ between cells


def run_cli(args, capsys):
    with mock.patch.object(sys, "argv", ["nas", *map(str, args)]), pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code or 0, captured.out, captured.err


# -- Pareto arithmetic --


def brute_force_ranks(points):
    points, ranks, left, rank = np.asarray(points), {}, set(range(len(points))), 0
    while left:
        front = {
            i
            for i in left
            if not any((points[j] <= points[i]).all() and (points[j] < points[i]).any() for j in left)
        }
        ranks.update(dict.fromkeys(front, rank))
        left -= front
        rank += 1
    return [ranks[i] for i in range(len(points))]


@pytest.mark.parametrize("dims", [2, 3])
def test_pareto_ranks_and_front_match_brute_force(dims):
    rng = np.random.default_rng(dims)
    points = rng.integers(0, 6, size=(40, dims)).astype(float)  # ties and duplicates on purpose
    assert pareto_ranks(points).tolist() == brute_force_ranks(points)
    assert (pareto_mask(points) == (pareto_ranks(points) == 0)).all()


def test_hypervolume_exact_cases():
    assert hypervolume([[0.5, 0.5]], [1, 1]) == pytest.approx(0.25)
    assert hypervolume([[0.0, 0.5], [0.5, 0.0]], [1, 1]) == pytest.approx(0.75)
    assert hypervolume([[0.2, 0.2], [0.5, 0.5], [1.5, 0.0]], [1, 1]) == pytest.approx(
        0.64
    )  # dominated, outside
    assert hypervolume([[0.5, 0.5, 0.5]], [1, 1, 1]) == pytest.approx(0.125)
    assert hypervolume([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]], [1, 1, 1]) == pytest.approx(0.5)
    assert hypervolume([], [1, 1]) == 0.0


def test_hypervolume_matches_a_grid_count():
    rng = np.random.default_rng(0)
    points = rng.random((15, 3))
    grid = (np.stack(np.meshgrid(*[np.arange(40) / 40 + 1 / 80] * 3, indexing="ij"), -1)).reshape(-1, 3)
    covered = np.zeros(len(grid), dtype=bool)
    for p in points:
        covered |= (grid >= p).all(1)
    assert hypervolume(points, [1, 1, 1]) == pytest.approx(covered.mean(), abs=0.01)


def test_crowding_distance_prefers_the_ends_and_sparse_regions():
    points = [[0, 4], [1, 3], [1.2, 2.8], [3, 1], [4, 0]]
    distance = crowding_distances(points, pareto_ranks(points))
    assert np.isinf(distance[0]) and np.isinf(distance[4])
    assert distance[3] > distance[1] and distance[3] > distance[2]


# -- the goal --


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"objectives": ("params",)}, "must start with val_accuracy"),
        ({"objectives": ("val_accuracy", "size")}, "unknown objective size"),
        ({"objectives": ("val_accuracy", "params", "params")}, "list one twice"),
        ({"limits": {"params": -5}}, "must be a positive number"),
        ({"limits": {"memory": 5}}, "unknown limit memory"),
    ],
)
def test_goal_errors(kwargs, message):
    with pytest.raises(GoalError, match=message):
        Goal(**kwargs)


def test_mnasnet_reward():
    goal = Goal(("val_accuracy", "params"), targets={"params": 1000})
    assert goal.reward(0.9, {"params": 1000}) == pytest.approx(0.9)
    assert goal.reward(0.9, {"params": 2000}) == pytest.approx(0.9 * 2**-0.07)
    assert goal.reward(0.9, {"params": 500}) > 0.9
    with pytest.raises(GoalError, match="needs a target"):
        Goal(("val_accuracy", "flops")).reward(0.9, {"flops": 1})


# -- strategies under a goal (costs from a cheap stand-in: convolutions in the cell) --


def conv_costs(arch):
    convs = sum(op.startswith("nor_conv") for op in arch.ops)
    return {"params": 1000 * convs + 10 * sum(op == "nor_conv_3x3" for op in arch.ops), "flops": convs}


def make(name, seed=0, concurrency=1, **kwargs):
    return strategies.make_strategy(
        name, search_spaces.make_space("nb201"), seed=seed, concurrency=concurrency, **kwargs
    )


def drive(strategy, n, reward=lambda arch: search_spaces.canonical_hash(arch).__hash__() % 1000 / 1000):
    archs = []
    for _ in range(n):
        p = strategy.ask()
        archs.append(p.arch)
        strategy.tell(p.id, reward(p.arch))
    return archs


LIMITED = Goal(limits={"params": 2005})  # at most two convolutions: ~31% of the cells
PARETO = Goal(("val_accuracy", "params"), targets={"params": 3000})


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
@pytest.mark.parametrize(
    "goal", [LIMITED, Goal(("val_accuracy", "params"), {"params": 2005}, {"params": 3000})]
)
def test_no_proposal_exceeds_the_limits(name, goal):
    strategy = make(name, goal=goal, costs=conv_costs)
    # 40: REINFORCE learning from this arbitrary reward can settle on a few dozen cells, after which dedupe
    # (not the limit) ends its search.
    archs = drive(strategy, 40)
    assert all(conv_costs(a)["params"] <= 2005 for a in archs)
    # The limit did reject draws, so the check can fail; bo never draws outside it: it filters its pool.
    assert strategy.infeasible_draws > 0 or name == "bo"


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
@pytest.mark.parametrize("goal", [LIMITED, PARETO])
def test_resume_under_a_goal_is_exact(name, goal):
    whole = make(name, concurrency=2, goal=goal, costs=conv_costs)
    first = make(name, concurrency=2, goal=goal, costs=conv_costs)
    expected = drive(whole, 40)
    got = drive(first, 17)
    resumed = make(name, concurrency=2, goal=goal, costs=conv_costs)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    got += drive(resumed, 23)
    assert got == expected


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
def test_a_trivial_goal_changes_nothing(name):
    assert drive(make(name, goal=Goal(), costs=conv_costs), 30) == drive(make(name), 30)


def test_a_goal_is_part_of_the_strategy_identity():
    state = make("evolution", goal=LIMITED, costs=conv_costs).state_dict()
    with pytest.raises(strategies.StateError, match="goal"):
        make("evolution", goal=Goal(limits={"params": 3000}), costs=conv_costs).load_state_dict(state)


def test_limits_that_admit_nothing_raise_and_keep_raising():
    strategy = make(
        "random", goal=Goal(limits={"params": 1}), costs=lambda a: {"params": 5}, max_infeasible=50
    )
    for _ in range(2):
        with pytest.raises(strategies.InfeasibleError, match="50 draws in a row were all outside the limits"):
            strategy.ask()


def test_pareto_evolution_picks_the_front_not_the_most_accurate():
    strategy = make("evolution", goal=PARETO, costs=conv_costs, population=3, sample_size=3)
    space = strategy.space
    big = space.parse(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    small = space.parse("|skip_connect~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    worse = space.parse("|nor_conv_1x1~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|")
    strategy.population.extend([(big, 0.9), (worse, 0.5), (small, 0.6)])
    order = strategy._pareto_order(list(strategy.population))
    assert [rank for rank, _ in order] == [0, 1, 0]  # "worse" is dominated by "small"
    mutated_from = []
    original_mutate = space.mutate
    space.mutate = lambda arch, rng: mutated_from.append(arch) or original_mutate(arch, rng)
    for _ in range(10):
        strategy._candidate()
    assert worse not in mutated_from and small in mutated_from


def test_rl_learns_from_the_scalarised_reward():
    strategy = make("rl", goal=PARETO, costs=conv_costs, batch_size=4)
    drive(strategy, 5, reward=lambda arch: 0.5)  # the fifth ask applies the first four results: one update
    rewards = [PARETO.reward(0.5, conv_costs(arch)) for arch in strategy._archs[:4]]
    assert len(set(rewards)) > 1  # different sizes, different rewards: the test can fail
    baseline = np.mean(rewards)
    for r in rewards:
        baseline = 0.9 * baseline + 0.1 * r
    assert strategy.updates == 1 and strategy.baseline == pytest.approx(baseline)


# -- costs from the builder --


def test_costs_are_the_trainers_and_add_up_over_nb201_edges():
    space = search_spaces.make_space("nb201")
    archs = [space.decode(list(c)) for c in itertools.product(range(5), repeat=6)][::997]
    predicted = additive_costs(space, SMALL, archs, check=2)
    assert predicted is not None
    for arch in archs[:4]:  # includes cells whose convolutions lie on no path to the output
        assert predicted[arch] == build_stats(space, arch, SMALL)
    model = CostModel(space, SMALL)
    assert model(archs[3]) == {"params": predicted[archs[3]][0], "flops": predicted[archs[3]][1]}


def test_additive_costs_refuse_a_space_where_they_do_not_add_up():
    space = search_spaces.make_space("nasnet")
    assert additive_costs(space, SMALL, [space.sample(np.random.default_rng(0))]) is None


def test_latency_is_measured_once_per_architecture():
    space = search_spaces.make_space("nb201")
    model = CostModel(space, SMALL, latency_device="cpu")
    arch = space.sample(np.random.default_rng(1))
    first = model(arch)
    assert first["latency_ms"] > 0 and model(arch) == first
    again = CostModel(space, SMALL, latency_device="cpu")
    again.load(json.loads(json.dumps(model.entries())))
    assert again(arch) == first  # a resumed search sees the same latency


# -- tabular mode under a goal --


@pytest.fixture(scope="module")
def small_table(tmp_path_factory):
    import os

    os.environ["NAS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cost-cache"))
    space = search_spaces.make_space("nb201")
    metrics = {space.parse(a): m for a, m in synthetic_nb201_rows(0)}
    table = B.Table("synth", "val_acc", metrics)
    with mock.patch.dict(table_cost_module.TABLE_MODEL, {"nb201": SMALL}):
        return budgeted.attach_costs(table, space)


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
def test_tabular_proposals_never_exceed_the_limit(small_table, name):
    limit = float(np.percentile([c["params"] for c in small_table.costs.values()], 40))
    goal = budgeted.make_goal(
        "val_acc,params", max_params=limit, max_flops=None, max_latency_ms=None, metric_column="val_acc"
    )
    goal = budgeted.with_targets(goal, budgeted.within_limits(small_table, goal))
    result = B.run_benchmark(
        search_spaces.make_space("nb201"), small_table, [name], seeds=3, budget=100, goal=goal
    )
    assert result.costs[name].shape == (3, 100, 1)
    assert (result.costs[name][..., 0] <= limit).all()


def test_tabular_errors(small_table):
    with pytest.raises(UserError, match="--max-params must be a positive number"):
        budgeted.make_goal(None, max_params=-1, max_flops=None, max_latency_ms=None, metric_column="m")
    with pytest.raises(UserError, match="unknown objective size"):
        budgeted.make_goal("size", max_params=None, max_flops=None, max_latency_ms=None, metric_column="m")
    with pytest.raises(UserError, match="latency_ms is not available in tabular mode"):
        budgeted.make_goal(None, max_params=None, max_flops=None, max_latency_ms=2.0, metric_column="m")
    goal = Goal(limits={"params": 10})
    with pytest.raises(UserError, match="no architecture of table synth meets the limits"):
        budgeted.within_limits(small_table, goal)


def test_benchmark_command_reports_the_goal(small_table, tmp_path, capsys):
    from nas.bench.synthetic_table import synthetic_nb201_table, write_table

    path = tmp_path / "synth.parquet"
    write_table(synthetic_nb201_table(0), path)
    with mock.patch.dict(table_cost_module.TABLE_MODEL, {"nb201": SMALL}):
        code, out, err = run_cli(
            [
                "benchmark",
                "--table",
                path,
                "--strategies",
                "random,evolution",
                "--seeds",
                3,
                "--budget",
                25,
                "--objectives",
                "val_accuracy,params",
                "--max-params",
                6000,
                "--workers",
                1,
                "--output",
                tmp_path / "c.parquet",
                "--plot",
                tmp_path / "hv.png",
            ],
            capsys,
        )
    assert code == 0, err
    assert "hypervolume @25" in out and "params <= 6,000" in out
    assert (tmp_path / "hv.png").exists()
    import pyarrow.parquet as pq

    curves = pq.read_table(tmp_path / "c.parquet").to_pydict()
    assert max(curves["params"]) <= 6000


# -- choosing from a front --


@pytest.mark.parametrize(
    "text, expected",
    [
        ("params<1e6", [("params", "<", 1e6)]),
        ("params <= 1.5M, val_accuracy>=0.9", [("params", "<=", 1.5e6), ("val_accuracy", ">=", 0.9)]),
        ("flops<300M and latency_ms<2.5", [("flops", "<", 3e8), ("latency_ms", "<", 2.5)]),
        ("all", []),
    ],
)
def test_conditions_parse(text, expected):
    assert [(c.name, c.op, c.value) for c in parse_conditions(text)] == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("params<<3", "cannot read"),
        ("__import__('os')<1", "cannot read"),
        ("size<3", "unknown name 'size'"),
        ("params<1e6;", "cannot read"),
    ],
)
def test_bad_conditions(text, message):
    with pytest.raises(UserError, match=message):
        parse_conditions(text)


# -- the errors a user sees: one line, exit 2, nothing written --


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-params", "-5"], "max_params: -5 must be a positive number"),
        (["--max-latency-ms", "0"], "max_latency_ms: 0.0 must be a positive number"),
        (["--objectives", "val_accuracy,size"], "objectives: unknown objective size"),
        (["--objectives", "params,params"], "objectives list one twice"),
        (["--max-params", "10"], "no architecture among 5 drawn from nb201 at preset smoke meets the limits"),
    ],
)
def test_bad_goal_is_one_line_exit_2(tmp_path_factory, capsys, args, message, monkeypatch):
    from nas.searching import budget

    # The limits are checked against the network trained on the run's data, so the data is read first.
    data = write_parquet(tmp_path_factory.mktemp("data") / "tiny", tiny_arrays())
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    tmp_path = tmp_path_factory.mktemp("runs")
    with mock.patch.object(budget, "CHECK_DRAWS", 5):
        code, out, err = run_cli(
            ["search", "--space", "nb201", "--preset", "smoke", "--results-dir", tmp_path, "--data", data]
            + list(args),
            capsys,
        )
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], out + err
    assert list(tmp_path.iterdir()) == []


def test_bad_benchmark_goal_is_one_line_exit_2(tmp_path, capsys):
    code, out, err = run_cli(["benchmark", "--table", tmp_path / "t.csv", "--max-flops", "-1"], capsys)
    assert code == 2 and "--max-flops must be a positive number" in err and not out
