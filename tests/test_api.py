"""The Python API (README's example, run on tiny data), and runs refused before anything is written."""

from __future__ import annotations

import json
import re
import socket
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests import ray_env

ray_env.apply()

from nas.cli import app
from tests.tiny_cifar import tiny_arrays, write_parquet

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_parquet(tmp_path_factory.mktemp("cifar"), tiny_arrays(per_class_train=8, per_class_test=2))


@pytest.fixture(scope="module")
def nas_ray(tmp_path_factory):
    """Ray as `nas` starts it (loopback only), shared by this module's tests, shut down at the end."""
    import os

    import ray

    os.environ["NAS_CACHE_DIR"] = str(tmp_path_factory.mktemp("nas-cache"))
    yield
    ray.shutdown()


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## From Python.*?```python\n(.*?)```", text, re.DOTALL | re.MULTILINE)
    assert match, "README has no '## From Python' example"
    return match.group(1)


def test_readme_python_example_runs(nas_ray, tiny_data, tmp_path, monkeypatch):
    """README's notebook example, with the smoke preset, tiny data and a temporary results folder."""
    import ray

    code = readme_example()
    assert 'preset="cpu"' in code and 'data="cifar10"' in code
    code = code.replace('preset="cpu"', 'preset="smoke"')
    code = code.replace('data="cifar10"', f"data={str(tiny_data)!r}")
    code = code.replace("trials=8", "trials=3").replace("trials=12", "trials=5")
    monkeypatch.setenv("NAS_RESULTS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    # The example as a user runs it, except validation on the 80 tiny images needs fewer held out.
    code = code.replace("name=", "val_size=20, name=", 1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 (the README example is the test)

    run = scope["run"]
    trials = run.trials
    assert list(trials["proposal"].sort_values()) == list(range(5))  # 3, then resumed to 5
    assert set(trials["status"]) == {"completed"}
    assert run.best["val_accuracy"] == trials["val_accuracy"].max()
    assert run.config.preset == "smoke" and run.config.trials == 5
    assert 0.0 <= scope["record"]["test_accuracy"] <= 1.0 and run.final_record is not None
    assert (Path(scope["model_dir"]) / "model.py").exists() and scope["model"] is not None
    assert (run.path / "search.log").read_text()  # Ray's own lines went to the run folder, not the screen
    # Without a final run, the export takes the weights the best candidate was trained to during the search.
    run.folder.final_record_path.unlink()
    run.folder.final_checkpoint_path.unlink()
    exported = run.export(tmp_path / "search-weights")
    assert json.loads((exported / "metadata.json").read_text())["source"]["weights"].endswith("best.pt")
    # The Ray that nas started listens on loopback only.
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}


def test_import_nas_is_light():
    code = (
        "import sys, nas, nas.searching.config; nas.search, nas.open_run; "
        "print(sorted(m for m in ('torch', 'ray', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_open_run_of_a_missing_run_is_a_user_error(tmp_path):
    import nas
    from nas.errors import UserError

    with pytest.raises(UserError, match="no run 'nope'"):
        nas.open_run("nope", results_dir=tmp_path)


def test_api_validates_like_the_cli(tmp_path):
    import nas
    from nas.errors import UserError

    with pytest.raises(UserError, match="trials: 0 must be at least 1"):
        nas.search(trials=0, results_dir=tmp_path)
    with pytest.raises(UserError, match=r"^trials: '3' \(str\) must be a whole number$"):
        nas.search(trials="3", results_dir=tmp_path)
    with pytest.raises(UserError, match=r"^dedupe: 'no' \(str\) must be True or False$"):
        nas.search(dedupe="no", results_dir=tmp_path)
    with pytest.raises(UserError, match=r"^time_budget_s: True \(bool\) must be a number$"):
        nas.search(time_budget_s=True, results_dir=tmp_path)
    with pytest.raises(TypeError, match="unexpected keyword argument 'budget'"):
        nas.search(budget=3, results_dir=tmp_path)
    with pytest.raises(TypeError, match="takes 0 positional arguments"):
        nas.search("evolution", results_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_nas_search_is_a_plain_function():
    import inspect

    import nas
    from nas.api import search

    assert nas.search is search and inspect.isfunction(nas.search)
    parameters = inspect.signature(nas.search).parameters
    assert {"strategy", "space", "preset", "trials", "data", "image_size", "evaluator"} <= set(parameters)
    assert parameters["trials"].annotation == "int | None"


# -- refused runs: one line, exit code 2, no run folder --


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def refused(tmp_path, tiny_data, *args):
    results = tmp_path / "runs"
    result = runner.invoke(
        app,
        ["search", "--results-dir", str(results), "--preset", "smoke", "--space", "nb201", "--trials", "2"]
        + ["--data", str(tiny_data), "--val-size", "20", "--name", "refused", *args],
    )
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert not (results / "refused").exists()  # nothing written for a refused run
    return lines


def test_unreachable_address_is_refused_at_once(tmp_path, tiny_data):
    lines = refused(tmp_path, tiny_data, "--address", f"127.0.0.1:{closed_port()}")
    assert len(lines) == 2, lines  # our "starting" line, then the error
    assert lines[-1].startswith("error: cannot reach the Ray cluster at 127.0.0.1:")


def test_ray_client_address_is_refused(tmp_path, tiny_data):
    lines = refused(tmp_path, tiny_data, "--address", "ray://127.0.0.1:10001")
    assert "is a Ray Client address" in lines[-1]


def test_gpus_without_gpus_leave_no_folder(nas_ray, tmp_path, tiny_data):
    lines = refused(tmp_path, tiny_data, "--gpus-per-trial", "1")
    assert "asks for GPUs but the Ray cluster has none" in lines[-1]


def test_more_cpus_than_any_node_leaves_no_folder(nas_ray, tmp_path, tiny_data):
    lines = refused(tmp_path, tiny_data, "--cpus-per-trial", "64", "--gpus-per-trial", "0")
    assert "--cpus-per-trial 64 is more than any node of the Ray cluster has" in lines[-1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trials", "abc"], "error: --trials:"),
        (["--bogus"], "error: No such option: --bogus"),
    ],
)
def test_usage_errors_are_one_line(tmp_path, args, message):
    result = runner.invoke(app, ["search", "--results-dir", str(tmp_path), *args])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith(message), result.output
    assert list(tmp_path.iterdir()) == []
