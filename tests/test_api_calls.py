"""The Python API meets its callers: unknown keywords with close matches, values checked against the
annotations, TOML keys with suggestions, and messages phrased for Python rather than the command line."""

from __future__ import annotations

import inspect
import warnings

import pytest

import nas
from nas.api import Run
from nas.api_calls import UnknownSetting, for_python
from nas.errors import UserError
from tests.test_pictures import make_run


@pytest.mark.parametrize(
    ("keywords", "suggested"),
    [
        ({"time_budget": 60}, "time_budget_s"),
        ({"stratgy": "rl"}, "strategy"),
        ({"max_param": 5}, "max_params"),
    ],
)
def test_unknown_settings_name_the_closest(tmp_path, keywords, suggested):
    with pytest.raises(UnknownSetting, match=f"did you mean {suggested}\\?$") as caught:
        nas.search(results_dir=tmp_path, **keywords)
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, UserError)
    assert list(tmp_path.iterdir()) == []


def test_values_are_checked_with_the_setting_named(tmp_path):
    with pytest.raises(UserError, match=r"^max_params: 2.5 \(float\) must be a whole number$"):
        nas.search(max_params=2.5, results_dir=tmp_path)
    with pytest.raises(UserError, match=r"^results_dir: 3 \(int\) must be a string or a path$"):
        nas.search(results_dir=3)
    with pytest.raises(UserError, match=r"^quiet: 'yes' \(str\) must be True or False$"):
        nas.search(quiet="yes", results_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_messages_name_settings_not_flags(tmp_path):
    with pytest.raises(UserError) as caught:
        nas.search(data=str(tmp_path / "none"), results_dir=tmp_path)
    assert "--" not in str(caught.value) and "data=PATH" in str(caught.value)
    with pytest.raises(UserError) as caught:
        nas.open_run("nope", results_dir=tmp_path)
    assert "--" not in str(caught.value) and "results_dir" in str(caught.value)


@pytest.mark.parametrize(
    ("cli", "python"),
    [
        ("give --trials, --time-budget or both", "give trials, time_budget_s or both"),
        ("pass --gpus-per-trial 0 to train on CPUs", "pass gpus_per_trial=0 to train on CPUs"),
        ("continue with `nas search --resume evo-1`", 'continue with `nas.open_run("evo-1").resume()`'),
        ("continue with `nas resume evo-1`", 'continue with `nas.open_run("evo-1").resume()`'),
        (
            "start it with `ray start --head`, or check --address",
            "start it with `ray start --head`, or check address",
        ),
        ("choose another -o folder or pass --overwrite", "choose another output folder or pass overwrite"),
        ("--model-format onnx needs the onnx package", "formats onnx needs the onnx package"),
    ],
)
def test_command_line_messages_phrased_for_python(cli, python):
    assert for_python(cli) == python


def test_toml_typos_suggest_a_setting_and_list_no_internal_keys(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('strategy = "random"\ntime_budget = 60\n')
    with pytest.raises(UserError, match="unknown key time_budget; did you mean time_budget_s\\?") as caught:
        nas.search(config_file=path, results_dir=tmp_path / "runs")
    assert "data_spec" not in str(caught.value) and "max_params" in str(caught.value)
    assert not (tmp_path / "runs").exists()


def test_run_methods_at_parity_with_the_commands(tmp_path):
    final = inspect.signature(Run.final).parameters
    assert {
        "preset",
        "data",
        "seed",
        "device",
        "epochs",
        "init_from",
        "output",
        "image_size",
        "test_fraction",
    } <= set(final)
    assert {"pareto_pick", "rank"} <= set(final)
    export = inspect.signature(Run.export).parameters
    assert {"output", "rank", "formats", "weights", "batch_size", "overwrite", "pareto_pick"} <= set(export)
    run = Run(make_run(tmp_path / "r", "nb201", ["completed"]))
    with pytest.raises(UnknownSetting, match="did you mean epochs\\?"):
        run.final(epoch=3)
    with pytest.raises(UserError, match=r"^epochs: '3' \(str\) must be a whole number$"):
        run.final(epochs="3")
    with warnings.catch_warnings(record=True) as caught, pytest.raises(UserError, match="already exists"):
        warnings.simplefilter("always")
        (tmp_path / "taken").mkdir()
        (tmp_path / "taken" / "mine.txt").write_text("kept")
        run.export(out=tmp_path / "taken")  # the old keyword still reaches the export, with a warning
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_the_package_is_discoverable():
    from pathlib import Path

    assert "Run" in dir(nas) and "search" in dir(nas)
    assert "time_budget_s" in inspect.signature(nas.search).parameters and "trials" in (
        nas.search.__doc__ or ""
    )
    assert (Path(nas.__file__).parent / "py.typed").exists()
