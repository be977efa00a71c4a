"""Searching the training recipe with the architecture (`nas search --tune`) or instead of it (`nas tune`):
the run's space wrapped in `search_spaces.recipe_space.RecipeSpace`, so a candidate is an architecture and
its recipe, proposed by the run's strategy and trained with that recipe applied to the preset. Records keep
the plain architecture in `arch` (what `nas final` and `nas export` build) and the recipe in one column per
key (`recipe_lr`, ...); `arch_hash` is the candidate's, recipe included."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import search_spaces
from nas.errors import UserError
from nas.train import recipe as recipes
from search_spaces.recipe_space import RecipeSpace, split

BEST_RECIPE = "best_recipe.toml"


def check(config):
    """The recipe settings of a SearchConfig, checked (one-line UserErrors) and normalised."""
    from nas.arch_file import arch_from_data

    recipe = recipes.check_recipe(config.recipe, "recipe")
    tune = recipes.check_choices(config.tune, "tune")
    both = sorted(set(recipe) & set(tune))
    if both:
        raise UserError(f"tune: {', '.join(both)} also set by the recipe; tune a key or fix it, not both")
    if recipe:
        recipes.apply_recipe(_preset(config), recipe)  # values that clash with the preset's other fields
    if config.target is not None:
        if not tune:
            raise UserError("target: a fixed architecture needs recipe keys to tune (--grid KEY=V1,V2,...)")
        arch = arch_from_data(config.target, "the architecture to tune", config.space_options)
        if arch.space != config.space:
            raise UserError(f"target: a {arch.space} architecture, but the run's space is {config.space}")
    if tune:
        unsupported = {
            "warm_start": config.warm_start,
            "record_scores": config.record_scores,
            "objectives": config.objectives != ["val_accuracy"],
            "max_params": config.max_params is not None,
            "max_flops": config.max_flops is not None,
            "max_latency_ms": config.max_latency_ms is not None,
        }
        given = [k for k, v in unsupported.items() if v]
        if given:
            raise UserError(f"tune: not yet combined with {', '.join(given)}; search the recipe without them")
    return dataclasses.replace(config, recipe=recipe, tune=tune)


def _preset(config):
    from nas.train.presets import PRESETS

    return PRESETS.get(config.preset, PRESETS["smoke"])


def run_space(config):
    """The space the run's strategy proposes from: the configured one, wrapped when a recipe is tuned."""
    space = search_spaces.make_space(config.space, **config.space_options)
    if not config.tune:
        return space
    fixed = None
    if config.target is not None:
        fixed = search_spaces.arch_from_json(config.target, **config.space_options)
    return RecipeSpace(space, config.tune, fixed)


def candidate_recipe(config, row_or_arch) -> dict[str, Any]:
    """The whole recipe a candidate was trained with: the run's fixed recipe and the candidate's own values,
    from a proposal's architecture or a trials row."""
    if isinstance(row_or_arch, dict):
        own = {k: row_or_arch.get(f"recipe_{k}") for k in config.tune}
        own = {k: v for k, v in own.items() if v is not None}
    else:
        own = split(row_or_arch)[1]
    return {**config.recipe, **own}


def recipe_columns(config, arch) -> dict[str, Any]:
    return {f"recipe_{k}": v for k, v in candidate_recipe(config, arch).items()}


LENGTH_KEYS = ("epochs", "images_seen", "batch_size")  # what a candidate's number of epochs depends on


def max_epochs(config, n: int | None = None) -> int:
    """The longest any candidate trains, in epochs, on `n` training images (None: the preset's `epochs`, as
    when no data is read): ASHA's horizon, which must not cut a longer candidate short."""
    tuned = {k: v for k, v in config.tune.items() if k in LENGTH_KEYS}
    longest = 0
    for combination in recipes.grid(tuned):
        train = recipes.fitted_preset(config.preset, {**config.recipe, **combination}, config.data_spec).train
        used = n if n is None else min(n, train.train_subset or n)
        longest = max(longest, train.epochs if used is None else train.epochs_for(used))
    return longest


def write_best_recipe(run, config, best: dict[str, Any] | None) -> None:
    """RUN/best_recipe.toml: the best candidate's whole recipe, which `--recipe FILE` reads."""
    from nas import atomic

    if not config.tune or best is None:
        return
    text = recipes.recipe_toml(
        candidate_recipe(config, best),
        f"The best recipe of run {run.name}: candidate {best['trial_id']}, validation accuracy "
        f"{best['val_accuracy']:.4f}, preset {config.preset}.\nUse it with nas final --recipe or nas search "
        "--recipe; keys not listed keep the preset's values.",
    )
    atomic.write_text(run.path / BEST_RECIPE, text)


def resolve_target(target: str | os.PathLike, results_dir) -> tuple[Any, dict[str, Any], str]:
    """(architecture, settings it brings, a short name) of `nas tune TARGET`: an architecture file, a known
    cell name, or a run (its best candidate, with its space, preset and data)."""
    from nas.arch_file import arch_from_data, read_arch_json
    from nas.runs.folder import RunFolder, open_run
    from nas.runs.trial import best_of
    from search_spaces.known_cells import KNOWN_CELLS

    text = os.fspath(target)
    if text in KNOWN_CELLS:
        arch = KNOWN_CELLS[text]
        return arch, {"space": arch.space}, text
    path = Path(text)
    if path.is_file():
        data = read_arch_json(path)
        return arch_from_data(data, str(path)), {"space": data["space"]}, path.stem
    try:
        run = RunFolder(open_run(text, results_dir).path.absolute())
    except UserError:
        raise UserError(
            f"{text} is neither a run, a known cell ({', '.join(KNOWN_CELLS)}) nor an architecture file"
        ) from None
    saved = run.config()
    best = best_of(run.trials())
    if best is None:
        raise UserError(f"run {run.name} has no completed candidate to tune")
    options = saved.get("space_options", {})
    arch = arch_from_data(best["arch"], f"run {run.name}'s best candidate", options)
    lent = ("space", "space_options", "preset", "data", "image_size", "test_fraction", "val_size")
    return arch, {k: saved[k] for k in lent if saved.get(k) is not None}, run.name


def tune_settings(
    target, grid: dict[str, list[Any]], trials: int | None, settings: dict[str, Any], results_dir
) -> dict[str, Any]:
    """The SearchConfig settings of `nas tune`: the grid in order (strategy grid) or `trials` drawn at random
    (strategy random, seeded, no repeats), on the target's space with the target fixed."""
    grid = recipes.check_choices(grid, "--grid")
    if not grid:
        raise UserError("give the recipe to search: --grid KEY=V1,V2,... (e.g. --grid lr=0.1,0.05)")
    count = recipes.combinations(grid)
    if trials is None and count > recipes.MAX_GRID:
        raise UserError(
            f"--grid spans {count:,} combinations, more than {recipes.MAX_GRID:,}; "
            "sample some with --trials N"
        )
    if trials is not None and trials < 1:
        raise UserError(f"--trials {trials} must be at least 1")
    arch, lent, label = resolve_target(target, results_dir)
    values = {**lent, **settings}
    if values.get("space") != arch.space:
        raise UserError(
            f"{target} is a {arch.space} architecture; it cannot be tuned in space {values['space']}"
        )
    seed = values.get("seed", 0)
    values.update(
        target=search_spaces.to_json(arch),
        tune=grid,
        # a sample as large as the grid is the grid, in order (random draws would only find it slowly)
        strategy="grid" if trials is None or trials >= count else "random",
        trials=count if trials is None else min(trials, count),
    )
    values.setdefault("name", f"tune-{label}-{seed}")
    return values
