"""A real (smoke) search under a parameter limit with two objectives, on a local Ray and tiny data: every
trial respects the limit, the front is listed, drawn and exportable, and the limit is kept on resume."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from tests import ray_env

ray_env.apply()

import ray

from nas.cli import app
from nas.runs.folder import RunFolder
from nas.searching.config import make_config
from nas.searching.driver import run_search
from tests.tiny_cifar import tiny_arrays, write_parquet

LIMIT = 8000  # parameters of the smoke network (C=4, 5 cells): NB201 cells span 4,894-23,374, median 8,366

runner = CliRunner()


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    os.environ["NAS_CACHE_DIR"] = str(tmp_path_factory.mktemp("nas-cache"))
    ray_env.init_local_ray()
    yield
    ray.shutdown()


def test_smoke_search_under_a_parameter_limit(local_ray, tmp_path):
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=8, per_class_test=1))
    config = make_config(
        {
            "name": "budget",
            "strategy": "evolution",
            "space": "nb201",
            "preset": "smoke",
            "trials": 5,
            "concurrency": 2,
            "cpus_per_trial": 0.5,
            "gpus_per_trial": 0,
            "data": str(data),
            "val_size": 20,
            "objectives": "val_accuracy,params",
            "max_params": LIMIT,
        }
    )
    outcome = run_search(config, results_dir=tmp_path, quiet=True)
    run = RunFolder(tmp_path / "budget")
    rows = run.trials()
    assert outcome.finished and {r["status"] for r in rows} == {"completed"}, [r["error"] for r in rows]
    # params come from the trainer's own count of the network it trained, not from the strategy's costs
    assert all(0 < r["params"] <= LIMIT for r in rows), [r["params"] for r in rows]
    saved = json.loads(run.config_path.read_text())
    assert saved["max_params"] == LIMIT and saved["objectives"] == ["val_accuracy", "params"]
    assert saved["cost_targets"] == {"params": LIMIT}  # the limit is the reward target
    assert (run.path / "costs.json").exists() and run.progress_plot_path.exists()

    listed = runner.invoke(
        app, ["results", "budget", "--results-dir", str(tmp_path), "--pareto", "--format", "json"]
    )
    assert listed.exit_code == 0, listed.output
    front = json.loads(listed.output)
    assert front and all(r["params"] <= LIMIT for r in front)
    accuracies = [r["val_accuracy"] for r in front]
    assert accuracies == sorted(accuracies, reverse=True)

    import nas

    assert list(nas.open_run("budget", results_dir=tmp_path).pareto["trial_id"]) == [
        r["trial_id"] for r in front
    ]

    cheapest = min(r["params"] for r in front)
    exported = runner.invoke(
        app,
        [
            "export",
            "budget",
            "--results-dir",
            str(tmp_path),
            "-o",
            str(tmp_path / "small"),
            "--pareto-pick",
            f"params<={cheapest}",
        ],
    )
    assert exported.exit_code == 0, exported.output
    meta = json.loads((tmp_path / "small" / "metadata.json").read_text())
    chosen = next(r for r in front if r["params"] == cheapest)
    assert meta["arch_hash"] == chosen["arch_hash"]

    nothing = runner.invoke(
        app,
        [
            "export",
            "budget",
            "--results-dir",
            str(tmp_path),
            "-o",
            str(tmp_path / "x"),
            "--pareto-pick",
            "params<10",
        ],
    )
    assert nothing.exit_code == 2 and "no candidate on the Pareto front" in nothing.output

    refused = runner.invoke(
        app, ["search", "--resume", "budget", "--results-dir", str(tmp_path), "--max-params", "99999"]
    )
    assert refused.exit_code == 2 and "--max-params" in refused.output
