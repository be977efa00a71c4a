"""The Python API: run a search from a script or a notebook, and work with its results.

    import nas

    run = nas.search(strategy="evolution", space="nb201", preset="cpu", trials=8, data="cifar10/")
    run.trials          # pandas DataFrame, one row per candidate (the columns of trials.parquet)
    run.best            # the best completed candidate (a pandas Series), or None
    run.final()         # train the best on all training images, score it on the test set (nas.train.final)
    run.export("demo-model")   # plain PyTorch code + weights (nas.export.folder)
    run = nas.open_run("demo").resume(trials=16)

The settings of `search` are the fields of `nas.searching.config.SearchConfig` (tests/test_api.py keeps the
two in step), validated by the same `build_config`/`make_config` as `nas search`'s flags and TOML files.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.api_calls import python_api, suggestion
from nas.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from nas.runs.folder import RunFolder
    from nas.searching.candidate import Evaluator
    from nas.searching.config import SearchConfig
    from nas.searching.driver import SearchOutcome


@python_api()
def search(
    *,
    strategy: str | None = None,
    space: str | None = None,
    preset: str | None = None,
    trials: int | None = None,
    time_budget_s: float | None = None,
    data: str | os.PathLike | None = None,
    name: str | None = None,
    seed: int | None = None,
    strategy_options: dict[str, Any] | None = None,
    space_options: dict[str, Any] | None = None,
    concurrency: int | None = None,
    gpus_per_trial: float | None = None,
    cpus_per_trial: float | None = None,
    scheduler: str | None = None,
    val_size: int | None = None,
    dedupe: bool | None = None,
    address: str | None = None,
    objectives: list[str] | str | None = None,
    max_params: int | None = None,
    max_flops: int | None = None,
    max_latency_ms: float | None = None,
    cost_targets: dict[str, float] | None = None,
    warm_start: int | None = None,
    record_scores: bool | None = None,
    image_size: int | None = None,
    test_fraction: float | None = None,
    recipe: dict[str, Any] | None = None,
    tune: dict[str, list[Any]] | None = None,
    target: str | None = None,
    config_file: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    quiet: bool = False,
    evaluator: Evaluator | None = None,
) -> Run:
    """Start a new search run and return it when the search ends (its budget spent, or interrupted).

    The settings are those of `nas search` (nas.searching.config.SearchConfig); a setting left at None is
    taken from `config_file` (a TOML file of them), else its default:

    strategy          "evolution" (default), "random", "reinforce", ... (strategies.STRATEGIES)
    space             "nasnet" (default) or "nb201", ... (search_spaces.SPACES)
    preset            how each candidate is trained: "proxy" (default), "smoke", "cpu", "final"
    trials            candidates to evaluate (default 100); None with `time_budget_s` alone: until it ends
    time_budget_s     seconds after which no new candidate starts (those in flight finish)
    data              an image folder, a Parquet pair, a cifar-10-batches-py folder or a dataset name
                      ("cifar10", "cifar100", "svhn", "fashionmnist", "mnist"); default CIFAR-10
    name              the run's folder name (default STRATEGY-SPACE-SEED)
    seed              the run's seed (default 0): the same seed proposes the same candidates
    strategy_options  the strategy's own options, e.g. {"population": 20, "sample_size": 5}
    space_options     the space's options, e.g. {"ops": [...], "num_blocks": 4}
    concurrency       candidates in flight (default: as many as the resources allow)
    gpus_per_trial    GPUs per candidate (default 0.25 on a cluster with GPUs, else 0)
    cpus_per_trial    CPUs per candidate (default 1.0)
    scheduler         "none" (default) or "asha": stop weak candidates early
    val_size          training images held out to rank candidates (default a tenth, at most 5,000)
    dedupe            answer already-evaluated architectures from a cache (default True)
    address           a Ray cluster address (default: start a local Ray)
    objectives        "val_accuracy" (default) then any of "params", "flops", "latency_ms"
    max_params        no candidate with more trainable parameters is proposed
    max_flops         no candidate with more FLOPs per image (2 per multiply-add) is proposed
    max_latency_ms    no candidate slower at batch 1 on this machine is proposed
    cost_targets      REINFORCE's reward targets per cost (default: the limits, else sampled medians)
    warm_start        cells scored without training before the search, best proposed first (default 100
                      with bo, which learns from the scores, else 0; 0: off)
    record_scores     record every candidate's training-free scores too (default False)
    image_size        pixels (square) the data is decoded at (default: 32 for the CIFAR family, else the
                      median image size, at most 64)
    test_fraction     share of each class tested when `data` is one folder per class (default 0.2)
    recipe            overrides of the preset's training values, e.g. {"lr": 0.05, "norm": "none"}
                      (keys: nas.train.recipe.KEYS; a file: nas.train.recipe.read_recipe)
    tune              joint search: values per recipe key proposed with the ops, e.g. {"lr": [0.1, 0.05]}
    target            one architecture (search_spaces.to_json) whose recipe alone is searched (see `tune`
                      below, which fills it in)

    `config_file` is a TOML file of these settings (its keys are the names above); `results_dir` holds the run
    folder (default: $NAS_RESULTS_DIR or results/); `quiet` prints one line per candidate instead of a live
    table; `evaluator` replaces candidate training (see nas.searching.candidate.Evaluator). Counts such as
    `max_params` are plain numbers here (250_000); the command line also reads 250k.

    A bad setting raises nas.errors.UserError (one line naming the setting, with a close match for a
    misspelt one) before anything is written; an error of the search itself raises nas.errors.SearchStopped
    once its results are saved (resume it with `nas.open_run(name).resume()`)."""
    from nas.searching.config import build_config
    from nas.searching.driver import run_search

    settings = {k: v for k, v in locals().items() if k in _SETTINGS}
    if data is not None:
        settings["data"] = os.fspath(data)
    if config_file is not None:
        _check_toml_keys(config_file)
    config = build_config(settings, config_file)
    outcome = run_search(config, results_dir=_results_dir(results_dir), evaluator=evaluator, quiet=quiet)
    return Run(outcome.run, outcome)


_NOT_SETTINGS = ("config_file", "results_dir", "quiet", "evaluator")


def tune(
    target: str | os.PathLike,
    *,
    grid: dict[str, list[Any]],
    trials: int | None = None,
    results_dir: str | os.PathLike | None = None,
    quiet: bool = False,
    evaluator: Evaluator | None = None,
    **settings: Any,
) -> Run:
    """Search the training recipe of one architecture: `target` is a run (its best candidate), a known cell
    name ("darts_v2") or an architecture file. `grid` gives each key's values: every combination is trained,
    or `trials` of them drawn at random (seeded). Other settings as `search` (preset, data, scheduler, seed,
    concurrency, name, recipe, ...); a run target lends its space, preset and data unless given. Writes
    RUN/best_recipe.toml."""
    from nas.searching.config import build_config
    from nas.searching.driver import run_search
    from nas.searching.joint import tune_settings

    unknown = sorted(set(settings) - _SETTINGS)
    if unknown:
        raise TypeError(f"tune() got unknown settings {', '.join(unknown)}")
    given = {k: v for k, v in settings.items() if v is not None}
    config = build_config(tune_settings(target, grid, trials, given, _results_dir(results_dir)))
    outcome = run_search(config, results_dir=_results_dir(results_dir), evaluator=evaluator, quiet=quiet)
    return Run(outcome.run, outcome)


_SETTINGS = frozenset(inspect.signature(search).parameters) - set(_NOT_SETTINGS)


def _check_toml_keys(path: str | os.PathLike) -> None:
    """A TOML file's keys are search's settings: a misspelt one is named with its closest match, and the
    list offered is the settings, not the run record's internal keys (data_spec)."""
    import tomllib

    try:
        with open(path, "rb") as f:
            keys = set(tomllib.load(f))
    except (OSError, tomllib.TOMLDecodeError):
        return  # build_config says what is wrong with the file itself
    unknown = sorted(keys - _SETTINGS)
    if unknown:
        raise UserError(
            f"config file {path}: unknown key {unknown[0]}{suggestion(unknown[0], sorted(_SETTINGS))}"
            + (f" (and {', '.join(unknown[1:])})" if len(unknown) > 1 else "")
            + f"; the keys are search's settings: {', '.join(sorted(_SETTINGS))}"
        )


@python_api()
def open_run(name: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> Run:
    """An existing run, by name (under `results_dir`, $NAS_RESULTS_DIR or results/) or by folder path."""
    from nas.runs.folder import RunFolder
    from nas.runs.folder import open_run as find

    return Run(RunFolder(find(name, _results_dir(results_dir)).path.absolute()))


def _results_dir(results_dir: str | os.PathLike | None) -> str | os.PathLike | None:
    return results_dir if results_dir is not None else os.environ.get("NAS_RESULTS_DIR") or None


class Run:
    """A search run's folder, read on demand: every property reflects the files as they are now."""

    def __init__(self, folder: RunFolder, outcome: SearchOutcome | None = None) -> None:
        self.folder = folder
        self.outcome = outcome  # what the last search or resume through this object reported

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def config(self) -> SearchConfig:
        from nas.searching.config import make_config

        return make_config({k: v for k, v in self.folder.config().items() if k != "format"})

    @property
    def finished(self) -> bool | None:
        """Whether the last search through this object spent its budget (None: not searched here)."""
        return None if self.outcome is None else self.outcome.finished

    @property
    def trials(self) -> pd.DataFrame:
        """One row per recorded candidate, in the order results arrived (columns: TRIALS_SCHEMA)."""
        import pyarrow as pa

        from nas.runs.trial import TRIALS_SCHEMA

        rows = self.folder.trials()
        return pa.Table.from_pylist(
            [{name: row.get(name) for name in TRIALS_SCHEMA.names} for row in rows], schema=TRIALS_SCHEMA
        ).to_pandas()

    @property
    def best(self) -> pd.Series | None:
        """The best completed candidate by the run's ranking rule (nas.runs.trial.rank_key: the highest
        validation accuracy; ties: the earlier proposal), or None."""
        from nas.runs.trial import best_of

        best = best_of(self.folder.trials())
        if best is None:
            return None
        trials = self.trials
        return trials[trials["trial_id"] == best["trial_id"]].iloc[0]

    @property
    def pareto(self) -> pd.DataFrame:
        """The non-dominated completed candidates under the run's objectives (accuracy and params for a run
        that searched for accuracy alone), most accurate first (`nas results RUN --pareto`)."""
        import pandas as pd

        from nas.runs.front import pareto_front

        front = pareto_front(self.folder)
        return pd.DataFrame(front) if front else self.trials.iloc[0:0]

    @property
    def best_arch(self):
        """The best candidate's architecture as a search_spaces value (None before any has completed)."""
        import search_spaces

        best = self.best
        if best is None:
            return None
        return search_spaces.arch_from_json(best["arch"], **self.config.space_options)

    @property
    def final_record(self) -> dict[str, Any] | None:
        """final.json (test accuracy, ...) once `final()` or `nas final` has run."""
        path = self.folder.final_record_path
        return json.loads(path.read_text()) if path.exists() else None

    @python_api()
    def resume(
        self,
        *,
        trials: int | None = None,
        time_budget_s: float | None = None,
        address: str | None = None,
        quiet: bool = False,
        evaluator: Evaluator | None = None,
    ) -> Run:
        """Continue the run where it stopped (after Ctrl-C, a kill or a crash), optionally with a larger
        budget or another cluster address; the other settings are the saved ones."""
        from nas.searching.config import check_resume_settings
        from nas.searching.driver import run_search

        overrides = check_resume_settings(
            {"trials": trials, "time_budget_s": time_budget_s, "address": address}
        )
        self.outcome = run_search(resume=self.path, overrides=overrides, evaluator=evaluator, quiet=quiet)
        return self

    @python_api()
    def final(
        self,
        preset: str = "final",
        *,
        data: str | os.PathLike | None = None,
        seed: int = 0,
        device: str | None = None,
        epochs: int | None = None,
        flip: str | None = None,
        init_from: str | os.PathLike | None = None,
        output: str | os.PathLike | None = None,
        image_size: int | None = None,
        test_fraction: float | None = None,
        pareto_pick: str | None = None,
        rank: int = 1,
    ) -> dict[str, Any]:
        """Train the chosen candidate on all training images and score it on the test set (`nas final RUN`);
        writes final.pt and final.json and returns the record.

        preset         how it is trained: "final" (default), "proxy", "cpu", "smoke" (nas.train.presets)
        data           the images (default: the run's), as `search`'s `data`
        seed           seeds weights, augmentation and batch order (default 0)
        device         "cuda", "cuda:N" or "cpu" (default: cuda when torch sees a GPU)
        epochs         train exactly this many epochs (default: the preset's final length, docs/training.md)
        flip           random horizontal flips: "auto" (the preset's default: off for left-right asymmetric
                       classes such as digits), "on" or "off"
        init_from      fine-tune from these weights (a final.pt or an export folder)
        output         folder for final.json and final.pt (default: the run's folder; with `init_from`,
                       results/finetune-HASH, never over the run's own final.pt)
        image_size     pixels (default: the size the run's data resolved to, for the run's data)
        test_fraction  share of each class tested when `data` is one folder per class (default: the run's)
        pareto_pick    train the most accurate Pareto-front candidate meeting a condition ("params<250k")
        rank           the rank-th candidate (by accuracy, or within `pareto_pick`)"""
        from nas.export.folder import load_init
        from nas.train.final import resolve_preset, resolve_target, run_final
        from nas.viz.error_pictures import draw_error_pictures

        chosen = resolve_preset(preset)
        init = load_init(init_from) if init_from is not None else None
        target = resolve_target(str(self.path), output=output, init=init, pareto_pick=pareto_pick, rank=rank)
        own = data is None  # the run's data at the size it resolved to, and the run's test split
        config = self.config
        spec = config.data_spec
        if image_size is None and own:
            image_size = config.image_size if spec is None else spec.image_size
        return run_final(
            target,
            chosen,
            data_path=config.data if own else data,
            seed=seed,
            device=device,
            image_size=image_size,
            test_fraction=config.test_fraction if test_fraction is None else test_fraction,
            epochs=epochs,
            flip=flip,
            error_pictures=draw_error_pictures,
        )

    @python_api(renamed={"out": "output"})
    def export(
        self,
        output: str | os.PathLike,
        *,
        rank: int | None = None,
        formats: tuple[str, ...] | list[str] = ("py",),
        weights: str | os.PathLike | None = None,
        batch_size: int = 1,
        overwrite: bool = False,
        pareto_pick: str | None = None,
    ) -> Path:
        """Write the rank-th best candidate as plain PyTorch (`nas export RUN -o OUTPUT`): model.py,
        weights.pt, arch.json, metadata.json, and any other `formats` ("torchscript", "onnx"). Returns the
        export folder; load it with `nas.load`. Weights: `weights` (a nas checkpoint), else the run's final.pt
        when it holds this architecture, else, for the best candidate, the weights it was trained to during
        the search (best.pt). `pareto_pick` ("params<250k"): the most accurate Pareto-front candidate meeting
        it, or with `rank` the rank-th (nas/runs/front.py). `batch_size`: the ONNX input's fixed batch;
        `overwrite`: replace an existing folder."""
        from nas.export import folder

        if weights is None and rank in (None, 1) and pareto_pick is None:
            weights = self._search_weights_of_best()
        source = folder.resolve_source(str(self.path), None, rank, None, weights, pareto_pick=pareto_pick)
        if source.warning:
            import warnings

            warnings.warn(source.warning, stacklevel=2)
        formats = tuple(dict.fromkeys(str(f).lower() for f in formats))
        return folder.export(source, output, formats, batch_size=batch_size, overwrite=overwrite).path

    def _search_weights_of_best(self) -> Path | None:
        """best.pt when it holds the best candidate and final.pt does not (final training wins)."""
        best, record = self.best, self.final_record
        path = self.folder.best_checkpoint_path
        if best is None or not path.is_file() or (record and record.get("arch_hash") == best["arch_hash"]):
            return None
        from nas.train.checkpoint import load_checkpoint

        return path if load_checkpoint(path).metadata.get("trial_id") == best["trial_id"] else None

    def __repr__(self) -> str:
        from nas.runs.trial import best_of

        rows = self.folder.trials()
        best = best_of(rows)
        best_text = "none yet" if best is None else f"{best['val_accuracy']:.4f}"
        return f"<Run {self.name}: {len(rows)} candidates, best validation accuracy {best_text}; {self.path}>"
