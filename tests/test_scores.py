"""Training-free scores: the registry, the scorer's guarantees and its cache, warm starts in every strategy,
tabular mode, `nas score` and `nas plot --scores`."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import search_spaces
import strategies
from nas.errors import UserError
from nas.scores import (
    AGGREGATIONS,
    DEFAULT_AGGREGATION,
    DEFAULT_SCORES,
    SCORES,
    WORST,
    combined_rank,
    order_by_combined_rank,
)
from nas.scores.scorer import Scorer, sample_distinct
from nas.searching.config import SCORED_WARM_START, make_config
from search_spaces import ModelConfig
from search_spaces.nb201 import Nb201Arch

SMALL = ModelConfig(channels=4, cells_per_stage=1)
ALL_NONE = Nb201Arch(("none",) * 6)
ALL_POOL = Nb201Arch(("avg_pool_3x3",) * 6)
CONVS = Nb201Arch(("nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none", "nor_conv_3x3"))


COUNTS = {"params", "flops"}  # scores that count the network's size: the same whatever the weights


def images(n: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def scorer(batch=None, space="nb201", **kwargs) -> Scorer:
    kwargs.setdefault("cache_dir", None)
    return Scorer(
        search_spaces.make_space(space), SMALL, images() if batch is None else batch, device="cpu", **kwargs
    )


@pytest.mark.parametrize("name", sorted(SCORES))
def test_scores_are_deterministic_and_ignore_batch_order(name):
    batch = images()
    first = scorer(batch, names=[name]).score(CONVS)[name]
    again = scorer(batch, names=[name]).score(CONVS)[name]
    shuffled = scorer(batch[np.random.default_rng(1).permutation(len(batch))], names=[name]).score(CONVS)[
        name
    ]
    assert first == again
    # Equal up to float rounding: BatchNorm's batch statistics are sums taken in another order.
    assert math.isclose(first, shuffled, rel_tol=1e-6)
    other_seed = scorer(batch, names=[name], seed=1).score(CONVS)[name]
    if name not in COUNTS:
        assert other_seed != first  # the seed is the initialisation: it must matter


@pytest.mark.parametrize("name", sorted(SCORES))
@pytest.mark.parametrize("arch", [ALL_NONE, ALL_POOL], ids=["all-none", "all-pool"])
def test_degenerate_cells_score_finite_and_below_a_real_cell(name, arch):
    s = scorer(names=[name])
    record = s.score(arch)
    assert record["error"] is None and math.isfinite(record[name])
    if arch == ALL_NONE:
        assert record[name] < s.score(CONVS)[name]


def test_every_space_can_be_scored():
    for space_name in sorted(search_spaces.SPACES):
        s = scorer(space=space_name)
        arch = s.space.sample(np.random.default_rng(0))
        record = s.score(arch)
        assert record["error"] is None, record
        assert all(math.isfinite(record[n]) for n in s.names)


def _hooks(model: torch.nn.Module) -> int:
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in model.modules()
    )


@pytest.mark.parametrize("name", sorted(SCORES))
def test_a_score_is_a_finite_float_and_leaves_the_network_as_it_was(name):
    s = scorer(names=[name])
    model = s._build(CONVS)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    value = SCORES[name].compute(model, s.images)
    assert isinstance(value, float) and math.isfinite(value)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BatchNorm statistics
    assert all(p.grad is None for p in model.parameters())
    assert all(m.training for m in model.modules())
    assert _hooks(model) == 0
    assert SCORES[name].compute(model, s.images) == value  # so the next score sees the same network


def test_the_scorer_builds_each_network_once_and_runs_a_joint_pass_once(monkeypatch):
    s = scorer(names=sorted(SCORES))
    built, passes = [], []
    build = s.space.build
    monkeypatch.setattr(s.space, "build", lambda arch, config: built.append(arch) or build(arch, config))
    joint = SCORES["az_expressivity"].joint
    record = s.score(CONVS)
    assert len(built) == 1 and record["error"] is None
    # Every score equals the score computed alone on a freshly built network: no score sees another's
    # leftovers, and a score of a joint pass is the one that pass gives.
    for name in sorted(SCORES):
        assert scorer(names=[name]).score(CONVS)[name] == record[name], name
    counting = scorer(names=["az_expressivity", "az_progressivity", "az_trainability"])

    def counted(model, images):
        passes.append(1)
        return joint(model, images)

    for name in ("az_expressivity", "az_progressivity", "az_trainability"):
        monkeypatch.setitem(SCORES, name, dataclasses.replace(SCORES[name], joint=counted))
    counting.score(CONVS)
    assert len(passes) == 1


def test_a_candidate_that_cannot_be_scored_gets_the_worst_score_and_a_reason(caplog):
    s = scorer()

    def broken(arch, config):
        raise RuntimeError("CUDA out of memory (injected)")

    s.space.build = broken
    record = s.score(CONVS)
    assert all(record[n] == WORST for n in DEFAULT_SCORES)
    assert "out of memory" in record["error"]
    assert "could not score" in caplog.text


def test_disk_cache_by_canonical_hash(tmp_path):
    first = scorer(cache_dir=tmp_path)
    record = first.score(CONVS)
    assert first.computed == 1 and record["seconds"] > 0
    files = list(tmp_path.rglob("*.json"))
    name = DEFAULT_SCORES[0]
    assert len(files) == 1 and json.loads(files[0].read_text())[name] == record[name]
    # A fresh scorer with the same settings reads it; an isomorphic cell (nodes 1 and 2 swapped) is a hit too.
    second = scorer(cache_dir=tmp_path)
    swapped = Nb201Arch(
        ("nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none", "nor_conv_3x3")
    )
    assert second.score(swapped)[name] == record[name] and second.computed == 0
    # Other settings (seed, batch) are another cache.
    assert scorer(cache_dir=tmp_path, seed=3).key != first.key
    assert scorer(images(seed=5), cache_dir=tmp_path).key != first.key


def test_combined_rank_sums_ranks_and_puts_unscorable_last():
    records = [
        {"synflow": 3.0, "naswot": 10.0},
        {"synflow": 1.0, "naswot": 30.0},
        {"synflow": 2.0, "naswot": 20.0},
        {"synflow": WORST, "naswot": WORST},
    ]
    names = ("synflow", "naswot")
    assert combined_rank(records, names, "rank_sum").tolist() == [4 + 2, 2 + 4, 3 + 3, 1 + 1]
    assert order_by_combined_rank(records, names, "rank_sum") == [0, 1, 2, 3]  # ties keep their order


def test_log_rank_aggregation_is_the_sum_of_log_rank_over_n():
    records = [
        {"a": 3.0, "b": 10.0, "c": 5.0},
        {"a": 1.0, "b": 30.0, "c": 5.0},  # c ties with the first: both rank (3 + 4) / 2
        {"a": 2.0, "b": 20.0, "c": float("nan")},  # NaN (unscorable) ranks last
        {"a": 4.0, "b": WORST},  # b unscorable, c missing: ranks last by both
    ]
    n = len(records)
    ranks = {"a": [3, 1, 2, 4], "b": [2, 4, 3, 1], "c": [3.5, 3.5, 1.5, 1.5]}
    expected = [sum(math.log(ranks[k][i] / n) for k in "abc") for i in range(n)]
    got = combined_rank(records, ("a", "b", "c"), "log_rank")
    assert np.allclose(got, expected, rtol=0, atol=1e-12)
    # Best by every score: log(N / N) = 0 for each; the ceiling of the aggregation.
    assert combined_rank([{"a": 2.0}, {"a": 1.0}], ("a",), "log_rank").tolist() == [0.0, math.log(1 / 2)]
    # One very bad rank outweighs good ones: a rank sum would tie these two, the log-rank does not.
    two = [{"a": 1.0, "b": 3.0}, {"a": 2.0, "b": 2.0}, {"a": 3.0, "b": 1.0}]
    assert combined_rank(two, ("a", "b"), "rank_sum").tolist() == [4.0, 4.0, 4.0]
    log_rank = combined_rank(two, ("a", "b"), "log_rank")
    assert log_rank[1] > log_rank[0] == log_rank[2]
    assert order_by_combined_rank(two, ("a", "b"), "log_rank") == [1, 0, 2]


def test_unknown_aggregation_is_an_error_naming_the_choices():
    with pytest.raises(ValueError, match="rank_sum, log_rank"):
        combined_rank([{"a": 1.0}], ("a",), "mean")


def test_the_default_combination_is_registered_and_known_to_the_run_records():
    from nas.runs.trial import TRIALS_SCHEMA
    from nas.searching import warm_start

    assert set(DEFAULT_SCORES) <= set(SCORES) and DEFAULT_AGGREGATION in AGGREGATIONS
    assert warm_start.SCORE_NAMES == DEFAULT_SCORES
    assert {f"score_{n}" for n in DEFAULT_SCORES} <= set(TRIALS_SCHEMA.names)


def test_sample_distinct_is_seeded_and_distinct():
    space = search_spaces.make_space("nb201")
    a, b = sample_distinct(space, 50, seed=4), sample_distinct(space, 50, seed=4)
    assert a == b and len({search_spaces.canonical_hash(x) for x in a}) == 50


# -- warm start in the strategies --

WARM = [CONVS, ALL_POOL, Nb201Arch(("nor_conv_1x1",) * 6)] + sample_distinct(
    search_spaces.make_space("nb201"), 12, seed=9
)


def drive(strategy, n: int, start: int = 0) -> list:
    """Ask n proposals, telling each a fixed reward right away (concurrency 1)."""
    archs = []
    for _ in range(n):
        p = strategy.ask()
        archs.append(p.arch)
        strategy.tell(p.id, int(search_spaces.canonical_hash(p.arch)[:6], 16) / 2**24)
    return archs


def make(name: str, **kwargs):
    return strategies.make_strategy(name, search_spaces.make_space("nb201"), seed=7, **kwargs)


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
def test_warm_start_is_proposed_first(name):
    strategy = make(name, warm_start=WARM)
    size = strategy.warm_start_size()
    taken = WARM if size is None else WARM[:size]
    assert strategy.warm_start == taken
    proposals = drive(strategy, len(taken) + 5)
    if strategy.uses_scores:
        # bo draws its first proposals among the best-scored cells (or cells isomorphic to them) rather than
        # replaying the list in order
        first = {search_spaces.canonical_hash(a) for a in proposals[: strategy.config.initial]}
        assert first <= {search_spaces.canonical_hash(a) for a in taken[: strategy.config.initial_from]}
    else:
        assert proposals[: len(taken)] == taken
    assert len({search_spaces.canonical_hash(a) for a in proposals}) == len(proposals)


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
@pytest.mark.parametrize("stop_after", [2, 20])  # inside the warm start, after it
def test_warm_start_survives_save_and_restore(name, stop_after):
    straight = drive(make(name, warm_start=WARM), 25)
    first = make(name, warm_start=WARM)
    head = drive(first, stop_after)
    state = json.loads(json.dumps(first.state_dict()))
    resumed = make(name)  # a resumed search does not score again: the warm start comes from the state
    resumed.load_state_dict(state)
    assert head + drive(resumed, 25 - stop_after) == straight
    other = make(name, warm_start=WARM[::-1])
    with pytest.raises(strategies.StateError, match="warm start"):
        other.load_state_dict(state)


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
def test_no_warm_start_changes_nothing(name):
    plain, empty = make(name), make(name, warm_start=[])
    assert drive(plain, 30) == drive(empty, 30)
    assert json.dumps(plain.state_dict()) == json.dumps(empty.state_dict())
    assert "warm_start" not in plain.state_dict()


def test_warm_start_setting_is_checked():
    with pytest.raises(UserError, match="warm_start"):
        make_config({"name": "w", "warm_start": -1})
    # bo learns from the scores: it scores SCORED_WARM_START cells unless told otherwise; the others none
    assert make_config({"name": "w"}).warm_start == SCORED_WARM_START
    assert make_config({"name": "w", "strategy": "evolution"}).warm_start == 0
    assert make_config({"name": "w", "warm_start": 0}).warm_start == 0


# -- tabular mode --


def test_tabular_warm_start_scores_once_and_starts_every_strategy_there(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nas.bench import tabular, warm_start
    from nas.bench.synthetic_table import synthetic_nb201_rows
    from nas.cli import app
    from tests.tiny_cifar import tiny_arrays, write_parquet

    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(warm_start.BENCHMARK_MODELS, "nb201", SMALL)  # the real C=16, N=5 is slow for a test
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=2, per_class_test=1))
    rows = synthetic_nb201_rows(0)
    pq.write_table(
        pa.table({"arch": [a for a, _ in rows], "val_acc": [m for _, m in rows]}), tmp_path / "t.parquet"
    )
    args = [
        "benchmark",
        "--table",
        tmp_path / "t.parquet",
        "--strategy",
        "random,evolution,rl",
        "--seeds",
        "2",
    ]
    args += ["--trials", "5", "--workers", "1", "--warm-start", "3", "--data", data, "--output"]
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*map(str, args), str(tmp_path / "curves.parquet")])
    assert result.exit_code == 0, result.output
    assert "warm start: 3 cells per seed, 6 distinct, 6 scored now" in " ".join(result.output.split())

    space = search_spaces.make_space("nb201")
    again = warm_start.score_warm_starts(space, 2, 3, str(data))
    assert again.computed == 0 and again.cells == 6  # every score came from the disk cache
    table = tabular.load_table(tmp_path / "t.parquet", space, "arch", "val_acc")
    curves = pq.read_table(tmp_path / "curves.parquet").to_pylist()
    for name in ("random", "evolution", "rl"):
        for seed in (0, 1):
            metrics = [c["metric"] for c in curves if c["strategy"] == name and c["seed"] == seed]
            assert metrics[:3] == [table.lookup(a) for a in again.by_seed[seed]]


# -- nas score and nas plot --scores --


def test_nas_score_a_run_then_plot_scores_against_accuracy(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from nas.atomic import write_json
    from nas.cli import app
    from nas.runs.folder import RunFolder, write_trials
    from tests.tiny_cifar import tiny_arrays, write_parquet

    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=2, per_class_test=1))
    run = RunFolder(tmp_path / "runs" / "r")
    write_json(
        run.config_path, {"name": "r", "space": "nb201", "preset": "smoke", "data": str(data), "val_size": 5}
    )
    archs = [CONVS, ALL_POOL, ALL_NONE, *sample_distinct(search_spaces.make_space("nb201"), 3, seed=1)]
    write_trials(
        run.trials_path,
        [
            {
                "trial_id": f"t{i:05d}",
                "proposal": i,
                "arch": search_spaces.to_json(a),
                "arch_hash": search_spaces.canonical_hash(a),
                "status": "completed",
                "val_accuracy": 0.5 - 0.05 * i,
                "val_curve": [0.5 - 0.05 * i],
            }
            for i, a in enumerate(archs)
        ],
    )
    common = ["--results-dir", str(tmp_path / "runs")]
    result = CliRunner().invoke(app, ["score", "r", *common])
    assert result.exit_code == 0, result.output
    assert "Spearman with validation accuracy over 6 completed candidates" in result.output
    assert "s per cell computed" in result.output
    scored = pq.read_table(run.path / "scores.parquet").to_pylist()
    assert [s["trial_id"] for s in scored] == [f"t{i:05d}" for i in range(6)]
    assert all(s["error"] is None for s in scored)
    assert all(math.isfinite(s[f"score_{n}"]) for s in scored for n in DEFAULT_SCORES)

    result = CliRunner().invoke(app, ["plot", "r", "--scores", *common])
    assert result.exit_code == 0, result.output
    assert (run.path / "scores.png").stat().st_size > 0

    one = CliRunner().invoke(
        app,
        ["score", "darts_v2", "--data", str(data), "--preset", "smoke", "-o", str(tmp_path / "d.parquet")],
    )
    assert one.exit_code == 0, one.output
    assert len(pq.read_table(tmp_path / "d.parquet")) == 1
    bad = CliRunner().invoke(app, ["score", "no-such-cell", *common])
    assert bad.exit_code == 2 and "not an architecture file, a known cell" in bad.output
