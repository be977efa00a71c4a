"""`nas search --warm-start` end to end: a real search (smoke preset, tiny data) on a local Ray, then a
resume."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests import ray_env

ray_env.apply()

import ray

import search_spaces
from nas.cli import app
from nas.runs.folder import RunFolder
from nas.score_names import DEFAULT_SCORES
from tests.tiny_cifar import tiny_arrays, write_parquet


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    os.environ["NAS_CACHE_DIR"] = str(tmp_path_factory.mktemp("nas-cache"))
    ray_env.init_local_ray()
    yield
    ray.shutdown()


def test_warm_started_search_trains_the_best_scored_cells_first_and_resumes(local_ray, tmp_path):
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=8, per_class_test=1))
    common = ["--results-dir", str(tmp_path), "--quiet"]
    args = ["search", "--strategy", "evolution", "--space", "nb201", "--preset", "smoke", "--trials", "3"]
    args += ["--concurrency", "2", "--cpus-per-trial", "0.5", "--gpus-per-trial", "0", "--data", str(data)]
    args += ["--val-size", "20", "--warm-start", "6", "--name", "warm", *common]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = RunFolder(tmp_path / "warm")
    assert json.loads(run.config_path.read_text())["warm_start"] == 6

    warm = pq.read_table(run.path / "warm_start.parquet").to_pylist()
    assert len(warm) == 6 and [w["order"] for w in warm] == list(range(6))
    ranks = [w["combined_rank"] for w in warm]
    assert ranks == sorted(ranks, reverse=True)
    state = json.loads(run.strategy_state_path.read_text())["strategy"]
    assert [search_spaces.arch_from_json(a) for a in map(json.dumps, state["warm_start"])] == [
        search_spaces.arch_from_json(w["arch"]) for w in warm
    ]

    result = CliRunner().invoke(app, ["resume", "warm", "--trials", "5", *common])
    assert result.exit_code == 0, result.output
    rows = sorted(run.trials(), key=lambda r: r["proposal"])
    assert [r["proposal"] for r in rows] == list(range(5))
    assert {r["status"] for r in rows} == {"completed"}, [r["error"] for r in rows]
    # Evolution's first population is the warm start, best first, across the resume.
    assert [r["arch_hash"] for r in rows] == [w["arch_hash"] for w in warm[:5]]
    by_hash = {w["arch_hash"]: w for w in warm}
    for row in rows:
        for name in DEFAULT_SCORES:
            assert row[f"score_{name}"] == by_hash[row["arch_hash"]][f"score_{name}"]


def test_bo_search_starts_from_the_best_scored_cells_and_resumes(local_ray, tmp_path):
    """`nas search --strategy bo --warm-start N`: the model-based strategy gets the scores of the warm-start
    cells, proposes among the best-scored first, and a resumed run goes on from its saved state."""
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=8, per_class_test=1))
    common = ["--results-dir", str(tmp_path), "--quiet"]
    args = ["search", "--strategy", "bo", "--space", "nb201", "--preset", "smoke", "--trials", "3"]
    args += ["--concurrency", "2", "--cpus-per-trial", "0.5", "--gpus-per-trial", "0", "--data", str(data)]
    args += ["--val-size", "20", "--warm-start", "6", "--name", "bo", *common]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = RunFolder(tmp_path / "bo")
    result = CliRunner().invoke(app, ["resume", "bo", "--trials", "5", *common])
    assert result.exit_code == 0, result.output
    rows = sorted(run.trials(), key=lambda r: r["proposal"])
    assert [r["proposal"] for r in rows] == list(range(5))
    assert {r["status"] for r in rows} == {"completed"}, [r["error"] for r in rows]
    warm = {w["arch_hash"] for w in pq.read_table(run.path / "warm_start.parquet").to_pylist()}
    # bo's first 5 proposals (its `initial`) are drawn among the best-scored cells: here all 6 scored ones.
    assert {r["arch_hash"] for r in rows} <= warm and len({r["arch_hash"] for r in rows}) == 5
