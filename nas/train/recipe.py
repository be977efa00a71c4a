"""Training recipes: named overrides of a preset's values (`lr = 0.05`, `norm = "none"`), from a TOML file,
from `--grid`/`--tune KEY=V1,V2,...` or from a tuned candidate. `KEYS` is the one table of what a recipe may
set: each key names a field of `TrainConfig` or `ModelConfig`, its type and its range; `apply_recipe` maps a
recipe onto a preset with `dataclasses.replace`, so a key works as soon as its field exists
(`available_keys`). A recipe is applied to the preset before `fit_preset`, so pixel sizes (cutout) are given
at 32 pixels, as in the presets."""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.errors import UserError
from nas.train.presets import Preset, TrainConfig
from search_spaces import ModelConfig
from search_spaces.base import NORMS

MAX_GRID = 1_000  # combinations a grid may span without --trials (beyond that, sample some)


@dataclass(frozen=True)
class RecipeKey:
    target: str  # "train" (TrainConfig) or "model" (ModelConfig): where the value goes, under the same name
    kind: type  # bool, int, float or str
    ok: Callable[[Any], bool]
    allowed: str  # the range in words, for the error


KEYS: dict[str, RecipeKey] = {
    "lr": RecipeKey("train", float, lambda v: v > 0, "positive (peak SGD rate per 256 images)"),
    "batch_size": RecipeKey("train", int, lambda v: v >= 1, "at least 1"),
    "weight_decay": RecipeKey("train", float, lambda v: v >= 0, "at least 0"),
    "epochs": RecipeKey("train", int, lambda v: v >= 1, "at least 1"),
    "label_smoothing": RecipeKey("train", float, lambda v: 0 <= v < 1, "in [0, 1)"),
    "warmup_epochs": RecipeKey("train", float, lambda v: v >= 0, "at least 0"),
    "images_seen": RecipeKey("train", int, lambda v: v >= 1, "at least 1 (training length in images)"),
    "flip": RecipeKey("train", str, lambda v: v in ("auto", "on", "off"), "one of auto, on, off"),
    "cutout": RecipeKey("train", int, lambda v: v >= 0, "at least 0 pixels (at 32 px), 0: off"),
    "dropout": RecipeKey("model", float, lambda v: 0 <= v < 1, "in [0, 1)"),
    "drop_path": RecipeKey("model", float, lambda v: 0 <= v < 1, "in [0, 1)"),
    "norm": RecipeKey("model", str, lambda v: v in NORMS, "one of " + ", ".join(NORMS)),
}
_TARGETS = {"train": TrainConfig, "model": ModelConfig}


def available_keys() -> list[str]:
    """The keys whose field exists in this version's TrainConfig/ModelConfig."""
    return [k for k, spec in KEYS.items() if k in {f.name for f in dataclasses.fields(_TARGETS[spec.target])}]


def _check_key(key: Any, where: str) -> str:
    known = available_keys()
    if key in known:
        return key
    if key in KEYS:
        raise UserError(f"{where}: recipe key {key!r} is not a training setting of this version")
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UserError(f"{where}: unknown recipe key {key!r}; {hint}known keys: {', '.join(known)}")


def _bad(key: str, value: Any, where: str, why: str) -> UserError:
    return UserError(f"{where}: {key}={value!r} {why}")


def check_value(key: str, value: Any, where: str = "recipe") -> Any:
    """A typed value of `key`, checked against its range (an int is accepted for a float key)."""
    spec, given = KEYS[key], value
    if spec.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _bad(key, value, where, "must be a finite number")
        value = float(value)
    elif spec.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(key, value, where, "must be a whole number")
    elif not isinstance(value, spec.kind):
        raise _bad(key, value, where, f"must be {'true or false' if spec.kind is bool else 'a string'}")
    if not spec.ok(value):
        raise _bad(key, given, where, f"must be {spec.allowed}")
    return value


def parse_value(key: str, text: str, where: str) -> Any:
    """A command-line value of `key` ("0.1", "true", "none") as its type, checked."""
    kind = KEYS[key].kind
    text = text.strip()
    try:
        if kind is bool:
            words = {"true": True, "on": True, "yes": True, "1": True}
            words |= {"false": False, "off": False, "no": False, "0": False}
            if text.lower() not in words:
                raise ValueError
            value: Any = words[text.lower()]
        else:
            value = kind(text)
    except ValueError:
        name = {bool: "true or false", int: "a whole number", float: "a number", str: "a word"}[kind]
        raise _bad(key, text, where, f"must be {name}") from None
    return check_value(key, value, where)


def check_recipe(recipe: Mapping[str, Any], where: str = "recipe") -> dict[str, Any]:
    """A recipe (key -> value) with known keys and typed, in-range values, in the table's key order."""
    if not isinstance(recipe, Mapping):
        raise UserError(f"{where}: must be a table of KEY = VALUE, not {type(recipe).__name__}")
    for key in recipe:
        _check_key(key, where)
    return {k: check_value(k, recipe[k], where) for k in KEYS if k in recipe}


def check_choices(choices: Mapping[str, Sequence[Any]], where: str = "tune") -> dict[str, list[Any]]:
    """Values to tune per key: known keys, each a non-empty list of typed, in-range values, repeats
    dropped."""
    if not isinstance(choices, Mapping):
        raise UserError(f"{where}: must map recipe keys to lists of values")
    for key in choices:
        _check_key(key, where)
    out: dict[str, list[Any]] = {}
    for key in (k for k in KEYS if k in choices):
        values = choices[key]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise UserError(f"{where}: {key} needs a non-empty list of values, e.g. {key}=V1,V2")
        checked = [check_value(key, v, where) for v in values]
        out[key] = [v for i, v in enumerate(checked) if v not in checked[:i]]
    return out


def parse_grid(specs: Iterable[str], option: str = "--grid") -> dict[str, list[Any]]:
    """`["lr=0.1,0.05", "norm=batch,none"]` as checked choices; a key given twice is refused."""
    choices: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep:
            raise UserError(f"{option} {spec!r}: write KEY=V1,V2,... (e.g. {option} lr=0.1,0.05)")
        _check_key(key, option)
        if key in choices:
            raise UserError(f"{option}: {key} is given twice; list all its values once, {key}=V1,V2,...")
        texts = [t for t in values.split(",") if t.strip()]
        if not texts:
            raise UserError(f"{option} {spec!r}: {key} has no values; write {key}=V1,V2,...")
        choices[key] = [parse_value(key, t, option) for t in texts]
    return check_choices(choices, option)


def combinations(choices: Mapping[str, Sequence[Any]]) -> int:
    return math.prod(len(v) for v in choices.values())


def grid(choices: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination, the last key varying fastest."""
    keys = list(choices)
    return [dict(zip(keys, values)) for values in itertools.product(*(choices[k] for k in keys))]


def apply_recipe(preset: Preset, recipe: Mapping[str, Any]) -> Preset:
    """`preset` with the recipe's values in place of its own (before `fit_preset`)."""
    recipe = check_recipe(recipe)
    if not recipe:
        return preset
    parts = {
        target: {k: v for k, v in recipe.items() if KEYS[k].target == target} for target in ("train", "model")
    }
    if "epochs" in recipe and "images_seen" not in recipe and hasattr(preset.train, "images_seen"):
        parts["train"]["images_seen"] = None  # a recipe's epochs are trained as given, whatever the data size
    try:
        train = dataclasses.replace(preset.train, **parts["train"])
        model = dataclasses.replace(preset.model, **parts["model"])
    except ValueError as e:
        raise UserError(f"recipe: {e}") from None
    return dataclasses.replace(preset, train=train, model=model)


def fitted_preset(name: str, recipe: Mapping[str, Any], spec) -> Preset:
    """Preset `name` with `recipe` applied, fitted to the data `spec` (None: CIFAR-10)."""
    from nas.train.presets import PRESETS, fit_preset

    return fit_preset(apply_recipe(PRESETS[name], recipe), spec)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def recipe_toml(recipe: Mapping[str, Any], comment: str = "") -> str:
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"{k} = {_toml_value(v)}" for k, v in check_recipe(recipe).items()]
    return "\n".join(lines) + "\n"


def read_recipe(path: str | Path) -> dict[str, Any]:
    """A recipe TOML file (flat KEY = VALUE lines, as `nas tune` writes), checked."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise UserError(f"recipe file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"recipe file {path} is not readable TOML: {e}") from None
    return check_recipe(data, f"recipe file {path}")
