"""`nas search` with a local Ray: end to end, failures, SIGKILL + resume, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests import ray_env

ray_env.apply()

import ray
from ray import cloudpickle

from nas.cli import app
from nas.errors import SearchStopped, UserError
from nas.runs.folder import RunFolder
from nas.searching.config import make_config
from nas.searching.driver import run_search
from tests import fake_evaluators
from tests.fake_evaluators import FakeEvaluator
from tests.tiny_cifar import tiny_arrays, write_parquet

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    cloudpickle.register_pickle_by_value(fake_evaluators)
    # Workers inherit the environment Ray starts with: keep their decoded-data cache out of the home folder.
    os.environ["NAS_CACHE_DIR"] = str(tmp_path_factory.mktemp("nas-cache"))
    ray_env.init_local_ray()
    yield
    ray.shutdown()


def config(name, **values):
    # No warm start unless a test asks: these runs have no data to score on (the evaluator replaces training).
    settings = {"name": name, "preset": "smoke", "cpus_per_trial": 0.5, "gpus_per_trial": 0, "warm_start": 0}
    return make_config({**settings, **values})


def test_six_candidate_search_end_to_end(local_ray, tmp_path):
    outcome = run_search(
        config("six", strategy="evolution", space="nb201", trials=6, concurrency=2),
        results_dir=tmp_path,
        evaluator=FakeEvaluator(),
        quiet=True,
    )
    assert outcome.finished
    run = RunFolder(tmp_path / "six")
    rows = run.trials()
    assert sorted(r["proposal"] for r in rows) == list(range(6))
    assert {r["status"] for r in rows} == {"completed"}
    assert all(r["val_curve"] and r["val_accuracy"] == r["val_curve"][-1] for r in rows)
    assert len({r["arch_hash"] for r in rows}) == 6  # dedupe is on
    saved = json.loads(run.config_path.read_text())
    assert saved["concurrency"] == 2 and saved["strategy"] == "evolution"
    assert json.loads(run.strategy_state_path.read_text())["strategy"]
    # What made the run is recorded beside its settings, and is not read back as a setting.
    assert set(saved["provenance"]["versions"]) == {"nas", "python", "torch", "torchvision", "ray"}
    assert saved["provenance"]["command"] and "provenance" not in run.config()


def test_search_trains_real_candidates_on_tiny_data(local_ray, tmp_path):
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=8, per_class_test=1))
    outcome = run_search(
        config(
            "real", strategy="evolution", space="nb201", trials=6, concurrency=2, data=str(data), val_size=20
        ),
        results_dir=tmp_path,
        quiet=True,
    )
    rows = RunFolder(tmp_path / "real").trials()
    assert outcome.finished and sorted(r["proposal"] for r in rows) == list(range(6))
    assert {r["status"] for r in rows} == {"completed"}, [r["error"] for r in rows]
    for row in rows:
        assert len(row["val_curve"]) == 1 and 0.0 <= row["val_accuracy"] <= 1.0
        assert row["params"] > 0 and row["flops"] > 0 and row["wall_s"] > 0 and row["images_per_s"] > 0
    assert (tmp_path / "real" / "progress.png").exists() and (tmp_path / "real" / "best_cell.png").exists()


def test_relative_data_path_is_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "cifar").mkdir()
    monkeypatch.chdir(tmp_path)
    assert config("rel", data="cifar").data == str(tmp_path / "cifar")


def test_missing_data_is_one_error_before_anything_is_written(tmp_path):
    with pytest.raises(UserError, match="no dataset found"):
        run_search(
            config("nodata", space="nb201", trials=2, data=str(tmp_path)), results_dir=tmp_path / "runs"
        )
    assert not (tmp_path / "runs").exists()


def test_failures_do_not_stop_the_search(local_ray, tmp_path):
    outcome = run_search(
        config("faulty", strategy="random", space="nb201", trials=10, concurrency=2),
        results_dir=tmp_path,
        evaluator=FakeEvaluator(fail_every=5),
        quiet=True,
    )
    rows = {r["proposal"]: r for r in RunFolder(tmp_path / "faulty").trials()}
    assert outcome.finished and sorted(rows) == list(range(10))
    assert [p for p, r in rows.items() if r["status"] == "failed"] == [5]
    assert "injected failure in proposal 5" in rows[5]["error"]
    assert rows[5]["val_accuracy"] is None


def test_asha_stops_weak_candidates(local_ray, tmp_path):
    # The smoke preset trains 1 epoch, so use a preset-like override through a longer fake curve instead:
    # proxy has several epochs; the fake evaluator makes weak candidates weak at every epoch.
    run_search(
        config(
            "asha",
            strategy="random",
            space="nb201",
            trials=12,
            concurrency=2,
            scheduler="asha",
            preset="proxy",
        ),
        results_dir=tmp_path,
        evaluator=FakeEvaluator(seconds_per_epoch=0.01),
        quiet=True,
    )
    rows = RunFolder(tmp_path / "asha").trials()
    statuses = Counter(r["status"] for r in rows)
    assert len(rows) == 12 and statuses["stopped"] >= 1 and statuses["completed"] >= 1
    for row in rows:
        if row["status"] == "stopped":
            assert 1 <= len(row["val_curve"]) < 10


def test_existing_run_is_not_overwritten(local_ray, tmp_path):
    run_search(
        config("once", space="nb201", trials=1, concurrency=1),
        results_dir=tmp_path,
        evaluator=FakeEvaluator(),
        quiet=True,
    )
    with pytest.raises(UserError, match="run 'once' already exists .* resume it with `nas resume once`"):
        run_search(
            config("once", space="nb201", trials=1),
            results_dir=tmp_path,
            evaluator=FakeEvaluator(),
            quiet=True,
        )


def test_resume_extends_the_budget(local_ray, tmp_path):
    run_search(
        config("grow", strategy="evolution", space="nb201", trials=4, concurrency=2),
        results_dir=tmp_path,
        evaluator=FakeEvaluator(),
        quiet=True,
    )
    outcome = run_search(
        resume="grow", results_dir=tmp_path, overrides={"trials": 7}, evaluator=FakeEvaluator(), quiet=True
    )
    assert outcome.finished
    assert sorted(r["proposal"] for r in RunFolder(tmp_path / "grow").trials()) == list(range(7))


# -- SIGKILL midway, then resume: same candidates as an uninterrupted run, none trained twice --

DRIVER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from tests import ray_env
    ray_env.apply()
    import ray
    from ray import cloudpickle
    import tests.fake_evaluators as fake
    cloudpickle.register_pickle_by_value(fake)
    ray_env.init_local_ray()
    from nas.searching.config import make_config
    from nas.searching.driver import run_search
    evaluator = fake.FakeEvaluator(seconds_per_epoch={seconds}, log_path={log!r})
    if {resume!r}:
        run_search(resume={name!r}, results_dir={results!r}, evaluator=evaluator, quiet=True)
    else:
        config = dict(name={name!r}, strategy={strategy!r}, space="nb201", trials=9, concurrency=3,
                      preset="smoke", cpus_per_trial=0.5, gpus_per_trial=0, seed=3)
        run_search(make_config(config), results_dir={results!r}, evaluator=evaluator, quiet=True)
    """
)


def start_driver(tmp_path, name, strategy, resume=False, seconds=0.0):
    script = DRIVER.format(
        root=str(ROOT),
        seconds=seconds,
        log=str(tmp_path / f"{name}.log"),
        resume=resume,
        name=name,
        results=str(tmp_path),
        strategy=strategy,
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished_log(tmp_path, name):
    path = tmp_path / f"{name}.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(int(line.split()[0]), line.split()[1]) for line in lines]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The candidates of an uninterrupted run per strategy; computed once, the run is deterministic."""
    done: dict[str, set] = {}

    def candidates(strategy: str) -> set:
        if strategy not in done:
            folder = tmp_path_factory.mktemp(f"reference-{strategy}")
            reference = start_driver(folder, "reference", strategy)
            assert reference.wait(timeout=240) == 0, reference.stderr.read()[-3000:]
            done[strategy] = {
                (r["proposal"], r["arch_hash"]) for r in RunFolder(folder / "reference").trials()
            }
        return done[strategy]

    return candidates


@pytest.mark.parametrize(
    "strategy, how", [("random", "SIGKILL"), ("evolution", "SIGKILL"), ("evolution", "SIGINT")]
)
def test_kill_then_resume_matches_an_uninterrupted_run(tmp_path, strategy, how, uninterrupted):
    expected = uninterrupted(strategy)
    assert len(expected) == 9

    killed = start_driver(tmp_path, "killed", strategy, seconds=0.4)
    deadline = time.time() + 180
    while len(finished_log(tmp_path, "killed")) < 3:
        assert killed.poll() is None and time.time() < deadline, "the search ended before it could be killed"
        time.sleep(0.05)
    if how == "SIGKILL":
        os.killpg(killed.pid, signal.SIGKILL)  # the driver and the Ray processes it started
    else:
        os.kill(killed.pid, signal.SIGINT)  # Ctrl-C: Tune stops the trials, the driver saves and exits
    assert killed.wait(timeout=120) in (0, -signal.SIGKILL)
    recorded_before_kill = {r["proposal"] for r in RunFolder(tmp_path / "killed").trials()}
    assert 1 <= len(recorded_before_kill) < 9

    resumed = start_driver(tmp_path, "killed", strategy, resume=True)
    assert resumed.wait(timeout=240) == 0, resumed.stderr.read()[-3000:]
    rows = RunFolder(tmp_path / "killed").trials()
    assert {(r["proposal"], r["arch_hash"]) for r in rows} == expected
    assert len(rows) == 9 and {r["status"] for r in rows} == {"completed"}
    # A candidate whose result was recorded is never trained again; one that was in flight is.
    trained = Counter(p for p, _ in finished_log(tmp_path, "killed"))
    retrained = sorted(p for p in recorded_before_kill if trained[p] != 1)
    assert not retrained, (
        f"recorded before the kill {sorted(recorded_before_kill)}, trained again: {retrained}; log {trained}"
    )
    assert set(trained) == set(range(9))


# -- bad input through the CLI: one line, exit code 2, nothing written --

runner = CliRunner()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--strategy", "annealing"],
            "--strategy: 'annealing' is not one of 'bo', 'evolution', 'grid', 'random', 'rl'",
        ),
        (["--space", "nope"], "--space: 'nope' is not one of 'nasnet', 'nb201'"),
        (["--trials", "0"], "trials: 0 must be at least 1"),
        (["--scheduler", "hyperband"], "--scheduler: 'hyperband' is not one of 'none', 'asha'"),
        (["--preset", "huge"], "--preset: 'huge' is not one of 'smoke', 'cpu', 'proxy', 'final'"),
        (["--data", "/no/such/folder"], "data: /no/such/folder does not exist"),
        (["--name", "a/b"], "name: 'a/b' must be letters"),
        (["--resume", "missing-run"], "no run 'missing-run'"),
        (["--resume", "x", "--strategy", "rl"], "only --trials, --time-budget and --address may be given"),
        (["--config", "/no/such.toml"], "config file /no/such.toml does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    result = runner.invoke(app, ["search", "--results-dir", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert list(tmp_path.iterdir()) == []


def test_unwritable_results_dir(tmp_path):
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=2, per_class_test=1))
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a results dir below a plain file cannot be made, whoever runs the test
    result = runner.invoke(
        app,
        [
            "search",
            "--results-dir",
            str(blocker / "runs"),
            "--preset",
            "smoke",
            "--space",
            "nb201",
            "--data",
            str(data),
            "--val-size",
            "10",
        ],
    )
    assert result.exit_code == 2 and "cannot write the run folder" in result.output, result.output


def test_toml_config_with_unknown_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('strategy = "random"\nbudget = 3\n')
    result = runner.invoke(app, ["search", "--config", str(path), "--results-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "unknown key budget" in result.output
    assert "data_spec" not in result.output  # the run record's own keys are not settings to offer


# -- results validated where they are recorded; an error of the search itself ends it ----------------------


def test_invalid_results_are_failed_candidates_and_the_search_goes_on(local_ray, tmp_path):
    evaluator = fake_evaluators.InvalidResults(
        bad=((1, "val_accuracy", float("nan")), (2, "params", "many"), (3, "val_accuracy", 1.5)),
        bad_report=(4,),
    )
    outcome = run_search(
        config("invalid", space="nb201", trials=7, concurrency=2),
        results_dir=tmp_path,
        evaluator=evaluator,
        quiet=True,
    )
    assert outcome.finished
    rows = {r["proposal"]: r for r in outcome.run.trials()}
    assert sorted(rows) == list(range(7))
    assert [p for p, r in sorted(rows.items()) if r["status"] == "failed"] == [1, 2, 3, 4]
    assert rows[1]["error"] == "invalid result: val_accuracy is nan"
    assert rows[2]["error"] == "invalid result: params is 'many', not a non-negative number"
    assert rows[3]["error"] == "invalid result: val_accuracy 1.5 is outside [0, 1]"
    assert "ValueError: epoch 1 reported validation accuracy nan" in rows[4]["error"]
    assert all(r["val_accuracy"] is None for r in map(rows.get, (1, 2, 3, 4)))
    assert outcome.run.ranked()[0]["status"] == "completed"


def test_an_error_in_the_search_loop_ends_the_search_and_resume_continues(local_ray, tmp_path):
    def broken_listener(row):
        if row["proposal"] == 1:
            raise RuntimeError("listener broke")

    with pytest.raises(SearchStopped, match=r"listener broke.*nas resume broken"):
        run_search(
            config("broken", space="nb201", trials=10, concurrency=2),
            results_dir=tmp_path,
            evaluator=FakeEvaluator(seconds_per_epoch=0.5),
            quiet=True,
            on_result=broken_listener,
        )
    run = RunFolder(tmp_path / "broken")
    before = {r["proposal"] for r in run.trials()}
    assert 1 in before and len(before) < 10  # it stopped, and did not train the rest of the budget
    assert json.loads(run.strategy_state_path.read_text())["strategy"]
    outcome = run_search(resume="broken", results_dir=tmp_path, evaluator=FakeEvaluator(), quiet=True)
    assert outcome.finished
    rows = outcome.run.trials()
    assert sorted(r["proposal"] for r in rows) == list(range(10))  # nothing recorded twice
    reference = run_search(
        config("unbroken", space="nb201", trials=10, concurrency=2),
        results_dir=tmp_path,
        evaluator=FakeEvaluator(),
        quiet=True,
    )
    assert {(r["proposal"], r["arch_hash"]) for r in rows} == {
        (r["proposal"], r["arch_hash"]) for r in reference.run.trials()
    }
