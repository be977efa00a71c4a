"""Recipes: the key table, `--grid`/`--tune` parsing and its refusals, the recipe space (joint search) with
every strategy, `nas tune` in grid and sampled modes, ASHA, kill -9 + resume, and `--recipe` into final."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
import typing
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests import ray_env

ray_env.apply()

import search_spaces as S
import strategies
from nas import cli
from nas.errors import UserError
from nas.runs.trial import TRIALS_SCHEMA, Trial
from nas.train import recipe as R
from nas.train.presets import PRESETS, TrainConfig
from search_spaces.known_cells import DARTS_V2
from search_spaces.recipe_space import RecipeArch, RecipeSpace
from tests.tiny_cifar import tiny_arrays, write_parquet

ROOT = Path(__file__).resolve().parents[1]
HAS_FLIP = "flip" in {f.name for f in dataclasses.fields(TrainConfig)}


def nas(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["nas", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    return exit_info.value.code


# -- the key table --


def test_every_key_has_its_typed_trials_column():
    hints = typing.get_type_hints(Trial)
    for key, spec in R.KEYS.items():
        assert hints[f"recipe_{key}"] == spec.kind | None, key
        assert f"recipe_{key}" in TRIALS_SCHEMA.names
    assert {n for n in hints if n.startswith("recipe_")} == {f"recipe_{k}" for k in R.KEYS}


def test_keys_name_fields_of_the_configs_they_set():
    assert set(R.available_keys()) >= {"lr", "batch_size", "weight_decay", "epochs", "label_smoothing"}
    assert {"dropout", "drop_path", "norm", "cutout"} <= set(R.available_keys())
    assert ("flip" in R.available_keys()) == HAS_FLIP
    preset = R.apply_recipe(
        PRESETS["smoke"], {"lr": 0.05, "epochs": 2, "norm": "none", "dropout": 0.3, "cutout": 8}
    )
    assert (preset.train.lr, preset.train.epochs, preset.train.cutout) == (0.05, 2, 8)
    assert (preset.model.norm, preset.model.dropout) == ("none", 0.3)
    assert preset.train.batch_size == PRESETS["smoke"].train.batch_size  # untouched keys keep the preset's


@pytest.mark.skipif(not HAS_FLIP, reason="TrainConfig has no flip setting in this version")
def test_flip_key_sets_the_train_config():
    assert R.apply_recipe(PRESETS["smoke"], {"flip": "off"}).train.flip == "off"
    assert R.parse_grid(["flip=on,off,on"]) == {"flip": ["on", "off"]}
    with pytest.raises(UserError, match="flip='sometimes' must be one of auto, on, off"):
        R.parse_grid(["flip=sometimes"])


def test_recipe_epochs_are_trained_as_given_whatever_the_data_size():
    preset = R.apply_recipe(PRESETS["cpu"], {"epochs": 5})
    assert preset.train.epochs_for(1_000) == preset.train.epochs_for(50_000) == 5
    assert R.apply_recipe(PRESETS["cpu"], {"images_seen": 4_000}).train.epochs_for(1_000) == 4


@pytest.mark.parametrize(
    "specs, message",
    [
        (["lrr=0.1"], "unknown recipe key 'lrr'; did you mean 'lr'?"),
        (["batchsize=32"], "did you mean 'batch_size'?"),
        (["lr="], "lr has no values"),
        (["lr=,"], "lr has no values"),
        (["lr"], "write KEY=V1,V2"),
        (["lr=0.1,fast"], "lr='fast' must be a number"),
        (["batch_size=32.5"], "batch_size='32.5' must be a whole number"),
        (["lr=0"], "lr=0.0 must be positive"),
        (["lr=-0.1"], "must be positive"),
        (["norm=batch,layer"], "norm='layer' must be one of batch, none"),
        (["dropout=1.5"], "dropout=1.5 must be in [0, 1)"),
        (["lr=0.1", "lr=0.2"], "lr is given twice"),
    ],
)
def test_bad_grids_are_one_line_user_errors(specs, message):
    with pytest.raises(UserError) as error:
        R.parse_grid(specs)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_grid_parsing_types_and_drops_repeats():
    choices = R.parse_grid(["norm=batch,none", "lr=0.1,0.05,0.1", "epochs=1,2"])
    assert choices == {"lr": [0.1, 0.05], "epochs": [1, 2], "norm": ["batch", "none"]}
    assert R.combinations(choices) == 8 and len(R.grid(choices)) == 8
    assert R.grid(choices)[1] == {"lr": 0.1, "epochs": 1, "norm": "none"}  # the last key varies fastest


def test_recipe_file_round_trip_and_refusals(tmp_path):
    recipe = {"lr": 0.05, "batch_size": 32, "norm": "none", "dropout": 0.3}
    path = tmp_path / "r.toml"
    path.write_text(R.recipe_toml(recipe, "a comment\nover two lines"))
    assert R.read_recipe(path) == recipe
    assert tomllib.loads(path.read_text()) == recipe
    bad = tmp_path / "bad.toml"
    for text, message in [
        ("lr = 0\n", "lr=0 must be positive"),
        ('lr = "fast"\n', "must be a finite number"),
        ("epoch = 3\n", "did you mean 'epochs'?"),
        ("batch_size = true\n", "must be a whole number"),
        ("lr = [\n", "is not readable TOML"),
    ]:
        bad.write_text(text)
        with pytest.raises(UserError, match=message.replace("[", r"\[").replace("?", r"\?")):
            R.read_recipe(bad)
    with pytest.raises(UserError, match="does not exist"):
        R.read_recipe(tmp_path / "missing.toml")


# -- the recipe space: joint search with every strategy --


def joint_space(fixed=None):
    base = S.make_space("nb201") if fixed is None else S.make_space("nasnet")
    return RecipeSpace(base, {"lr": [0.1, 0.05, 0.025], "norm": ["batch", "none"]}, fixed)


def test_recipe_space_round_trips_and_validates():
    space = joint_space()
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.decode(space.encode(arch)) == arch
        assert space.from_dict(json.loads(S.to_json(arch))) == arch
        child = space.mutate(arch, rng)
        assert child != arch
        space.validate(child)
    arch = space.sample(rng)
    other = RecipeArch(
        arch.arch, (("lr", 0.05 if arch.recipe_dict["lr"] != 0.05 else 0.1), ("norm", "batch"))
    )
    assert S.canonical_hash(other) != S.canonical_hash(arch)  # the recipe is part of a candidate
    with pytest.raises(S.ArchitectureError, match="lr=0.5 is not one of"):
        space.validate(RecipeArch(arch.arch, (("lr", 0.5), ("norm", "batch"))))
    assert len(space.decisions()) == len(S.make_space("nb201").decisions()) + 2


def test_fixed_architecture_varies_only_its_recipe():
    space = joint_space(fixed=DARTS_V2)
    assert space.decisions() == [3, 2]
    rng = np.random.default_rng(1)
    archs = {space.mutate(space.sample(rng), rng) for _ in range(30)}
    assert {a.arch for a in archs} == {DARTS_V2} and len(archs) == 6
    net = space.build(RecipeArch(DARTS_V2, (("lr", 0.1), ("norm", "none"))), PRESETS["smoke"].model)
    assert not any("BatchNorm" in type(m).__name__ for m in net.modules())  # build applies model keys


@pytest.mark.parametrize("name", ["random", "evolution", "rl", "grid"])
def test_every_strategy_proposes_recipes_deterministically_and_resumes(name):
    options = {"population": 4, "sample_size": 2} if name == "evolution" else {}
    options = {"batch_size": 2} if name == "rl" else options

    def run(n, strategy=None, state=None):
        strategy = strategy or strategies.make_strategy(name, joint_space(), seed=5, **options)
        if state is not None:
            strategy.load_state_dict(state)
        for _ in range(n):
            p = strategy.ask()
            strategy.tell(p.id, float(np.random.default_rng(p.id).random()))
        return strategy

    full = run(10)
    half = run(5)
    resumed = run(5, strategies.make_strategy(name, joint_space(), seed=5, **options), half.state_dict())
    proposals = [S.to_json(a) for a in full._archs]
    assert [S.to_json(a) for a in resumed._archs] == proposals
    assert [S.to_json(a) for a in run(10)._archs] == proposals
    recipes = {json.dumps(json.loads(p)["recipe"]) for p in proposals}
    assert len(recipes) > 1  # recipe values are proposed, not fixed


def test_grid_strategy_enumerates_every_combination_then_stops():
    strategy = strategies.make_strategy("grid", joint_space(fixed=DARTS_V2), seed=0, concurrency=6)
    seen = [strategy.ask() for _ in range(6)]
    combos = R.grid({"lr": [0.1, 0.05, 0.025], "norm": ["batch", "none"]})
    assert sorted(map(json.dumps, (p.arch.recipe_dict for p in seen))) == sorted(map(json.dumps, combos))
    for p in seen:
        strategy.tell(p.id, 0.5)
    with pytest.raises(strategies.SpaceExhaustedError):
        strategy.ask()


# -- `nas tune` and `nas search --tune` refusals: one line, exit 2, nothing written --


@pytest.mark.parametrize(
    "args, message",
    [
        (["tune", "darts_v2", "--grid", "lrr=0.1,0.2"], "unknown recipe key 'lrr'; did you mean 'lr'?"),
        (["tune", "darts_v2", "--grid", "lr="], "lr has no values"),
        (["tune", "darts_v2", "--grid", "batch_size=a,b"], "batch_size='a' must be a whole number"),
        (["tune", "darts_v2", "--grid", "lr=0,0.1"], "lr=0.0 must be positive"),
        (
            [
                "tune",
                "darts_v2",
                "--grid",
                "lr=" + ",".join(str(0.01 * i) for i in range(1, 12)),
                "--grid",
                "batch_size=" + ",".join(str(i) for i in range(1, 11)),
                "--grid",
                "weight_decay=" + ",".join(str(i / 100) for i in range(10)),
            ],
            "--grid spans 1,100 combinations, more than 1,000; sample some with --trials N",
        ),
        (["tune", "no_such_cell", "--grid", "lr=0.1"], "no_such_cell is neither a run, a known cell"),
        (["tune", "darts_v2", "--grid", "lr=0.1", "--preset", "huge"], "--preset: 'huge' is not one of"),
        (["search", "--tune", "drop=0.1"], "did you mean 'dropout'?"),
        (["search", "--tune", "lr=-1"], "must be positive"),
        (["search", "--tune", "lr=0.1", "--warm-start", "4"], "tune: not yet combined with warm_start"),
    ],
)
def test_bad_tune_input_is_one_line_exit_2(tmp_path, monkeypatch, capsys, args, message):
    code = nas(monkeypatch, *args, "--results-dir", tmp_path)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert list(tmp_path.iterdir()) == []


def test_bad_recipe_files_are_refused_by_final_and_search(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "r.toml"
    bad.write_text("lr = -0.5\n")
    results = tmp_path / "results"
    for command in (["search"], ["final", "--arch", "x.json"]):
        code = nas(monkeypatch, *command, "--recipe", bad, "--results-dir", results)
        err = capsys.readouterr().err
        assert code == 2 and "lr=-0.5 must be positive" in err and len(err.strip().splitlines()) == 1
    assert not results.exists()


def test_recipe_into_final_round_trip(tmp_path, monkeypatch):
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=4, per_class_test=3))
    arch = tmp_path / "darts.json"
    arch.write_text(S.to_json(DARTS_V2))
    recipe = tmp_path / "best_recipe.toml"
    recipe.write_text(R.recipe_toml({"lr": 0.05, "norm": "none", "dropout": 0.3, "epochs": 2}))
    out = tmp_path / "out"
    code = nas(
        monkeypatch,
        "final",
        "--arch",
        arch,
        "--preset",
        "smoke",
        "--data",
        data,
        "--output",
        out,
        "--device",
        "cpu",
        "--recipe",
        recipe,
    )
    assert code in (0, None)
    record = json.loads((out / "final.json").read_text())
    assert record["preset"]["train"]["lr"] == 0.05 and record["preset"]["train"]["epochs"] == 2
    assert record["preset"]["model"]["norm"] == "none" and record["preset"]["model"]["dropout"] == 0.3
    import torch

    state = torch.load(out / "final.pt", map_location="cpu", weights_only=False)
    keys = state["state_dict"] if "state_dict" in state else state
    assert not any("running_mean" in k for k in keys)  # trained without BatchNorm, as the recipe said


# -- through Ray Tune: grid and sampled modes, ASHA, joint search, kill -9 + resume --


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    import ray
    from ray import cloudpickle

    from tests import fake_evaluators

    cloudpickle.register_pickle_by_value(fake_evaluators)
    os.environ["NAS_CACHE_DIR"] = str(tmp_path_factory.mktemp("nas-cache"))
    ray_env.init_local_ray()
    yield
    ray.shutdown()


LIGHT = {"cpus_per_trial": 0.5, "gpus_per_trial": 0, "concurrency": 2}


def test_tune_grid_trains_every_recipe_and_writes_the_best(local_ray, tmp_path, monkeypatch, capsys):
    from nas import api
    from nas.runs.folder import RunFolder
    from nas.train.checkpoint import load_checkpoint

    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=8, per_class_test=1))
    run = api.tune(
        "darts_v2",
        grid={"norm": ["batch", "none"], "dropout": [0.0, 0.3]},
        preset="smoke",
        data=str(data),
        val_size=20,
        results_dir=tmp_path,
        quiet=True,
        **LIGHT,
    )
    assert run.outcome.finished and run.folder.name == "tune-darts_v2-0"
    rows = RunFolder(run.folder.path).trials()
    assert {r["status"] for r in rows} == {"completed"}, [r["error"] for r in rows]
    assert sorted((r["recipe_norm"], r["recipe_dropout"]) for r in rows) == [
        ("batch", 0.0),
        ("batch", 0.3),
        ("none", 0.0),
        ("none", 0.3),
    ]
    assert {r["arch"] for r in rows} == {S.to_json(DARTS_V2)}  # the network alone, as final reads it
    best = run.best
    written = R.read_recipe(run.folder.path / "best_recipe.toml")
    assert written == {"dropout": best["recipe_dropout"], "norm": best["recipe_norm"]}
    checkpoint = load_checkpoint(run.folder.path / "best.pt")
    assert checkpoint.model_config.norm == best["recipe_norm"]
    assert checkpoint.model_config.dropout == best["recipe_dropout"]
    # the run as a target: its best architecture with its space, preset and data
    from nas.searching.joint import tune_settings

    settings = tune_settings(run.folder.path, {"lr": [0.1, 0.2]}, None, {"seed": 1}, tmp_path)
    assert settings["target"] == S.to_json(DARTS_V2) and settings["name"] == "tune-tune-darts_v2-0-1"
    assert (settings["space"], settings["preset"], settings["data"]) == (
        "nasnet",
        "smoke",
        str(data.absolute()),
    )
    assert (settings["strategy"], settings["trials"]) == ("grid", 2)
    capsys.readouterr()
    assert nas(monkeypatch, "results", run.folder.path, "--format", "json") in (0, None)
    shown = json.loads(capsys.readouterr().out)
    assert (
        len(shown) == 4
        and shown[0]["recipe"] == f"dropout={best['recipe_dropout']} norm={best['recipe_norm']}"
    )


def test_tune_sampled_mode_draws_distinct_recipes(local_ray, tmp_path):
    from nas import api
    from tests.fake_evaluators import RecipeEvaluator

    grid = {"lr": [0.2, 0.1, 0.05, 0.025], "norm": ["batch", "none"]}
    runs = [
        api.tune(
            "darts_v2",
            grid=grid,
            trials=3,
            preset="smoke",
            name=f"s{i}",
            seed=4,
            results_dir=tmp_path,
            quiet=True,
            evaluator=RecipeEvaluator(),
            **LIGHT,
        )
        for i in range(2)
    ]
    picked = [
        [(r["proposal"], r["recipe_lr"], r["recipe_norm"]) for r in run.trials.to_dict("records")]
        for run in runs
    ]
    assert len(picked[0]) == 3 and len({p[1:] for p in picked[0]}) == 3
    assert sorted(picked[0]) == sorted(picked[1])  # the same seed samples the same recipes
    assert json.loads((runs[0].folder.path / "config.json").read_text())["strategy"] == "random"


def test_asha_stops_some_recipes(local_ray, tmp_path):
    from nas import api
    from tests.fake_evaluators import RecipeEvaluator

    run = api.tune(
        "darts_v2",
        grid={"lr": [0.4, 0.3, 0.2, 0.1, 0.05, 0.025, 0.0125, 0.006, 0.003]},
        preset="proxy",  # 10 epochs, so ASHA has rungs to stop at
        scheduler="asha",
        results_dir=tmp_path,
        quiet=True,
        evaluator=RecipeEvaluator(seconds_per_epoch=0.01),
        **LIGHT,
    )
    statuses = Counter(r["status"] for r in run.trials.to_dict("records"))
    assert sum(statuses.values()) == 9 and statuses["stopped"] >= 1 and statuses["completed"] >= 1


def test_joint_search_is_deterministic_and_resumable(local_ray, tmp_path):
    from nas.runs.folder import RunFolder
    from nas.searching.config import make_config
    from nas.searching.driver import run_search
    from tests.fake_evaluators import RecipeEvaluator

    def config(name, trials):
        return make_config(
            {
                "name": name,
                "strategy": "evolution",
                "strategy_options": {"population": 4, "sample_size": 2},
                "space": "nb201",
                "preset": "smoke",
                "trials": trials,
                "seed": 2,
                "tune": {"lr": [0.1, 0.05], "norm": ["batch", "none"]},
                **LIGHT,
            }
        )

    def candidates(name):
        return sorted(
            (r["proposal"], r["arch_hash"], r["arch"], r["recipe_lr"], r["recipe_norm"])
            for r in RunFolder(tmp_path / name).trials()
        )

    for name in ("a", "b"):
        run_search(config(name, 8), results_dir=tmp_path, evaluator=RecipeEvaluator(), quiet=True)
    run_search(config("c", 4), results_dir=tmp_path, evaluator=RecipeEvaluator(), quiet=True)
    run_search(
        resume="c", overrides={"trials": 8}, results_dir=tmp_path, evaluator=RecipeEvaluator(), quiet=True
    )
    assert candidates("a") == candidates("b") == candidates("c")
    assert len(candidates("a")) == 8 and all(c[3] is not None and c[4] is not None for c in candidates("a"))
    assert len({(c[3], c[4]) for c in candidates("a")}) > 1
    assert (tmp_path / "a" / "best_recipe.toml").exists()


KILLED_TUNE = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from tests import ray_env
    ray_env.apply()
    from ray import cloudpickle
    import tests.fake_evaluators as fake
    cloudpickle.register_pickle_by_value(fake)
    ray_env.init_local_ray()
    from nas import api
    from nas.searching.driver import run_search
    evaluator = fake.RecipeEvaluator(seconds_per_epoch={seconds}, log_path={log!r})
    if {resume!r}:
        run_search(resume="killed", results_dir={results!r}, evaluator=evaluator, quiet=True)
    else:
        api.tune("darts_v2", grid={{"lr": [0.1, 0.05, 0.025], "norm": ["batch", "none"]}}, preset="smoke",
                 name="killed", results_dir={results!r}, quiet=True, evaluator=evaluator, cpus_per_trial=0.5,
                 gpus_per_trial=0, concurrency=2)
    """
)


def test_tune_killed_then_resumed_loses_nothing(tmp_path):
    from nas.runs.folder import RunFolder

    def start(resume, seconds):
        script = KILLED_TUNE.format(
            root=str(ROOT), seconds=seconds, log=str(tmp_path / "log"), resume=resume, results=str(tmp_path)
        )
        return subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def trained():
        path = tmp_path / "log"
        return [int(line.split()[0]) for line in path.read_text().splitlines()] if path.exists() else []

    killed = start(False, 1.0)
    deadline = time.time() + 240
    while len(trained()) < 2:
        assert killed.poll() is None and time.time() < deadline, killed.stderr.read()[-3000:]
        time.sleep(0.2)
    os.killpg(killed.pid, signal.SIGKILL)  # the driver and the Ray processes it started
    killed.wait(timeout=60)
    before = {r["proposal"] for r in RunFolder(tmp_path / "killed").trials()}
    assert 1 <= len(before) < 6
    resumed = start(True, 0.0)
    assert resumed.wait(timeout=240) == 0, resumed.stderr.read()[-3000:]
    rows = RunFolder(tmp_path / "killed").trials()
    assert sorted(r["proposal"] for r in rows) == list(range(6))
    assert sorted((r["recipe_lr"], r["recipe_norm"]) for r in rows) == sorted(
        (c["lr"], c["norm"]) for c in R.grid({"lr": [0.1, 0.05, 0.025], "norm": ["batch", "none"]})
    )
    counts = Counter(trained())
    assert all(counts[p] == 1 for p in before), counts  # nothing recorded was trained again
    assert (tmp_path / "killed" / "best_recipe.toml").exists()
