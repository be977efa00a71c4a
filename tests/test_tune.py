"""Recipes: the key table, `--grid`/`--tune` parsing and its refusals, the recipe space (joint search) with
every strategy, `nas tune` in grid and sampled modes, ASHA, kill -9 + resume, and `--recipe` into final."""

from __future__ import annotations

import dataclasses
import json
import sys
import tomllib
import typing
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
    assert R.apply_recipe(PRESETS["smoke"], {"flip": False}).train.flip is False
    assert R.parse_grid(["flip=true,off"]) == {"flip": [True, False]}


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
    assert [p.arch.recipe_dict for p in seen] == R.grid({"lr": [0.1, 0.05, 0.025], "norm": ["batch", "none"]})
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
        (["tune", "darts_v2", "--grid", "lr=0.1", "--preset", "huge"], "unknown preset 'huge'"),
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
