"""The one typed config of a search run: read from an optional TOML file, overridden by command-line flags,
validated once, and saved in the run folder so that `--resume` continues with exactly the same settings."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import UserError
from nas.train.data_spec import DataSpec

SCHEDULERS = ("none", "asha")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# Cells scored before a `bo` search when --warm-start is not given: twice the 50 best-scored cells its first
# proposals are drawn from; a few seconds at the cpu preset, and what the warm-start figures of docs/scores.md
# show to pay (the best 10 of 100 scored cells beat 10 random ones by 0.7 points on NB201).
SCORED_WARM_START = 100


@dataclass(frozen=True)
class SearchConfig:
    name: str
    strategy: str = "bo"  # ahead of evolution at every budget on both NB201 tables (docs/search-quality.md)
    strategy_options: dict[str, Any] = field(default_factory=dict)  # e.g. population, sample_size
    space: str = "nasnet"
    space_options: dict[str, Any] = field(default_factory=dict)  # e.g. ops, num_blocks
    preset: str = "proxy"  # nas.train.presets name: how each candidate is trained
    trials: int | None = 100  # candidates to evaluate; None: until the time budget ends
    time_budget_s: float | None = None  # no new candidate starts after this; those in flight finish
    concurrency: int | None = None  # candidates in flight; None: as many as the resources allow
    gpus_per_trial: float | None = None  # None: 0.25 when the cluster has GPUs (4 candidates per GPU), else 0
    cpus_per_trial: float = 1.0
    scheduler: str = "none"  # "asha": stop weak candidates early (Li et al. 2020)
    data: str | None = None  # a folder, Parquet pair or dataset name (see nas.train.data); None: CIFAR-10
    val_size: int | None = None  # training images held out to rank candidates (stratified, the same for all);
    # None: a tenth of the training images, at most 5,000 (CIFAR-10: 5,000)
    seed: int = 0
    dedupe: bool = True  # answer already-evaluated architectures from a cache
    address: str | None = None  # Ray cluster address; None: start a local Ray
    # Goal beyond accuracy (searching/budget.py, strategies/objectives.py). Costs are the trained network's
    # (the preset's model size), computed without training; kept on resume like every other setting.
    objectives: list[str] = field(default_factory=lambda: ["val_accuracy"])  # then params/flops/latency_ms
    max_params: int | None = None  # no candidate with more trainable parameters is proposed
    max_flops: int | None = None  # FLOPs of one 3x32x32 image's forward pass, 2 per multiply-add
    max_latency_ms: float | None = None  # batch-1 latency on the machine running the search, milliseconds
    cost_targets: dict[str, float] = field(
        default_factory=dict
    )  # REINFORCE's MnasNet targets; filled at start
    # Training-free scores (nas.scores, searching/warm_start.py): cells scored on one batch at initialisation,
    # about a second each on a CPU for NB201, before any candidate trains; the best by the default combination
    # of scores (nas.score_names, docs/scores.md) are proposed first. 0: off, today's search exactly. None:
    # SCORED_WARM_START for a strategy that learns from the scores (bo uses them as features from its first
    # proposal on: docs/search-quality.md), 0 for the others; resolved in make_config, so config.json holds
    # the number.
    warm_start: int | None = None
    record_scores: bool = False  # score every candidate too (trials.parquet columns); implied by warm_start
    # -- the data (own datasets) --
    # pixels (square); None: 32 for the CIFAR family, else the median image size (at most 64), which the
    # search records in `data_spec` (a resumed run reads its data again at the recorded size)
    image_size: int | None = None
    test_fraction: float = 0.2  # share of each class kept for testing when --data is one folder per class
    # what the data resolved to where it was read (size and why, classes, mean/std, resize policy); written by
    # the search, not a setting
    data_spec: DataSpec | None = None
    # -- the training recipe (nas/train/recipe.py) --
    # overrides of the preset's values, e.g. {"lr": 0.05}
    recipe: dict[str, Any] = field(default_factory=dict)
    # joint search: values to choose from per recipe key, proposed with the ops (nas/searching/joint.py)
    tune: dict[str, list[Any]] = field(default_factory=dict)
    # `nas tune`: the one architecture whose recipe is searched (search_spaces.to_json); None: search ops too
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name for f in dataclasses.fields(SearchConfig)}
_RENAMED = {"dataset": "data_spec"}  # config.json keys of runs written before the DataSpec


def load_toml(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"config file {path} is not valid TOML: {e}") from None
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise UserError(
            f"config file {path}: unknown keys {', '.join(unknown)}; known keys: {', '.join(sorted(FIELDS))}"
        )
    return data


_KINDS = {str: (str,), int: (int,), float: (int, float), bool: (bool,), dict: (dict,), list: (list, tuple)}
_KIND_NAMES = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "True or False",
    dict: "a dict",
    list: "a list",
}


def check_types(values: dict[str, Any]) -> None:
    """Each setting's value against SearchConfig's annotation, as a one-line UserError that names it."""
    hints = typing.get_type_hints(SearchConfig)
    for name, value in values.items():
        hint = hints[name]
        union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
        kinds = [typing.get_origin(k) or k for k in (typing.get_args(hint) if union else (hint,))]
        if value is None:
            if type(None) not in kinds:
                raise UserError(f"{name}: needs a value, not None")
            continue
        allowed = [k for k in kinds if k in _KINDS]
        ok = any(isinstance(value, _KINDS[k]) for k in allowed)
        if isinstance(value, bool) and bool not in allowed:
            ok = False  # True is an int to Python, never a count or a size here
        if allowed and not ok:
            wanted = " or ".join(_KIND_NAMES[k] for k in allowed)
            raise UserError(f"{name}: {value!r} ({type(value).__name__}) must be {wanted}")


def make_config(values: dict[str, Any]) -> SearchConfig:
    """Build and validate; every problem is a one-line UserError that names the setting."""
    import search_spaces
    import strategies
    from nas.train.presets import PRESETS

    values = {_RENAMED.get(k, k): v for k, v in values.items()}
    unknown = sorted(set(values) - FIELDS)
    if unknown:
        raise UserError(f"unknown settings {', '.join(unknown)}")
    if values.get("data_spec") is not None:
        try:
            values = {**values, "data_spec": DataSpec.of(values["data_spec"])}
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"data_spec: {values['data_spec']!r} is not a data spec ({e})") from None
    from nas.searching import budget

    if "objectives" in values:
        values = {**values, "objectives": budget.parse_objectives(values["objectives"])}
    check_types(values)
    try:
        config = SearchConfig(**values)
    except TypeError as e:
        raise UserError(f"bad settings: {e}") from None
    budget.validate(config)

    def fail(setting: str, problem: str) -> None:
        raise UserError(f"{setting}: {problem}")

    if not _NAME.match(config.name):
        fail("name", f"{config.name!r} must be letters, digits, '.', '_' or '-' (it names the run folder)")
    if config.strategy not in strategies.STRATEGIES:
        fail(
            "strategy",
            f"unknown strategy {config.strategy!r}; choose one of {', '.join(sorted(strategies.STRATEGIES))}",
        )
    if config.space not in search_spaces.SPACES:
        fail(
            "space",
            f"unknown search space {config.space!r}; choose one of {', '.join(sorted(search_spaces.SPACES))}",
        )
    try:
        search_spaces.make_space(config.space, **config.space_options)
    except (TypeError, ValueError) as e:
        fail("space_options", str(e))
    if config.preset not in PRESETS:
        fail("preset", f"unknown preset {config.preset!r}; choose one of {', '.join(PRESETS)}")
    if config.trials is None and config.time_budget_s is None:
        fail("trials", "give --trials, --time-budget or both, so the search knows when to stop")
    if config.trials is not None and config.trials < 1:
        fail("trials", f"{config.trials} must be at least 1")
    if config.time_budget_s is not None and config.time_budget_s <= 0:
        fail("time_budget_s", f"{config.time_budget_s} must be positive")
    if config.concurrency is not None and config.concurrency < 1:
        fail("concurrency", f"{config.concurrency} must be at least 1")
    if config.gpus_per_trial is not None and not 0 <= config.gpus_per_trial <= 8:
        fail(
            "gpus_per_trial",
            f"{config.gpus_per_trial} must be between 0 and 8 (0.25 puts 4 candidates on a GPU)",
        )
    if config.cpus_per_trial <= 0:
        fail("cpus_per_trial", f"{config.cpus_per_trial} must be positive")
    if config.scheduler not in SCHEDULERS:
        fail("scheduler", f"unknown scheduler {config.scheduler!r}; choose one of {', '.join(SCHEDULERS)}")
    if config.val_size is not None and config.val_size < 10:
        fail("val_size", f"{config.val_size} is too small to rank candidates; hold out at least 10 images")
    if config.warm_start is None:
        # A recipe search (--tune, nas tune) scores nothing yet: its candidates are not plain architectures.
        scored = strategies.STRATEGIES[config.strategy].uses_scores and not config.tune
        config = dataclasses.replace(config, warm_start=SCORED_WARM_START if scored else 0)
    if isinstance(config.warm_start, bool) or not isinstance(config.warm_start, int) or config.warm_start < 0:
        fail("warm_start", f"{config.warm_start!r} must be a whole number of cells to score, 0 for none")
    if config.data is not None:
        from nas.train.data import TORCHVISION

        if Path(config.data).exists():
            # Ray workers run in their own folders: they need the path as seen from anywhere.
            config = dataclasses.replace(config, data=str(Path(config.data).absolute()))
        elif config.data.lower().replace("-", "").replace("_", "") not in TORCHVISION:
            fail(
                "data",
                f"{config.data} does not exist and is not a dataset name ({', '.join(TORCHVISION)}); pass "
                "--data PATH to an image folder, a Parquet pair or a cifar-10-batches-py folder",
            )
    if config.image_size is not None:
        from nas.train.data import check_image_size

        try:
            check_image_size(config.image_size)
        except UserError as e:
            fail("image_size", str(e))
    from nas.searching import joint

    config = joint.check(config)
    if not 0.0 < config.test_fraction < 1.0:
        fail(
            "test_fraction",
            f"{config.test_fraction} must be between 0 and 1 (0.2 tests a fifth of each class)",
        )
    return config


def default_name(values: dict[str, Any]) -> str:
    """STRATEGY-SPACE-SEED, the run name when none is given."""
    defaults = {f.name: f.default for f in dataclasses.fields(SearchConfig)}
    return "{}-{}-{}".format(*(values.get(k, defaults[k]) for k in ("strategy", "space", "seed")))


def build_config(settings: dict[str, Any], config_file: str | Path | None = None) -> SearchConfig:
    """The config of a new run from a TOML file (optional) overridden by `settings` (None means "not given"):
    what `nas search` flags and `nas.search(**settings)` both go through."""
    values = load_toml(config_file) if config_file is not None else {}
    values.update({k: v for k, v in settings.items() if v is not None})
    values.setdefault("name", default_name(values))
    return make_config(values)


RESUME_SETTINGS = ("trials", "time_budget_s", "address")  # what may change when a run is resumed


def check_resume_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The given (not None) settings of a resume, refused unless they are budget or address."""
    given = {k: v for k, v in settings.items() if v is not None}
    fixed = sorted(set(given) - set(RESUME_SETTINGS))
    if fixed:
        raise UserError(
            f"a resumed run continues with its saved settings; only {', '.join(RESUME_SETTINGS)} may be "
            f"given, not {', '.join(fixed)}"
        )
    return given


def run_preset(config: SearchConfig, recipe: dict[str, Any] | None = None):
    """The run's preset with its recipe (and a candidate's own `recipe`, in joint search) applied, fitted to
    its data (nas.train.presets.fit_preset): what each candidate is trained and costed as. Unfitted before
    the data is read, or for CIFAR-10."""
    from nas.train.recipe import fitted_preset

    return fitted_preset(config.preset, {**config.recipe, **(recipe or {})}, config.data_spec)
