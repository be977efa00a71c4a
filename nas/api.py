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

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from nas.runs.folder import RunFolder
    from nas.searching.candidate import Evaluator
    from nas.searching.config import SearchConfig
    from nas.searching.driver import SearchOutcome


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
    warm_start        cells scored without training before the search, best proposed first (default 0: off)
    record_scores     record every candidate's training-free scores too (default False)
    image_size        pixels (square) the data is decoded at (default: 32 for the CIFAR family, else the
                      median image size, at most 64)
    test_fraction     share of each class tested when `data` is one folder per class (default 0.2)
    recipe            overrides of the preset's training values, e.g. {"lr": 0.05, "norm": "none"}
                      (keys: nas.train.recipe.KEYS; a file: nas.train.recipe.read_recipe)
    tune              joint search: values per recipe key proposed with the ops, e.g. {"lr": [0.1, 0.05]}
    target            one architecture (search_spaces.to_json) whose recipe alone is searched (see `tune`
                      below, which fills it in)

    `results_dir` holds the run folder (default: $NAS_RESULTS_DIR or results/); `quiet` prints one line per
    candidate instead of a live table; `evaluator` replaces candidate training (see
    nas.searching.candidate.Evaluator). A bad setting raises nas.errors.UserError before anything is written;
    an error of the search itself raises nas.errors.SearchStopped once its results are saved (resume it)."""
    from nas.searching.config import build_config
    from nas.searching.driver import run_search

    settings = {k: v for k, v in locals().items() if k in _SETTINGS}
    if data is not None:
        settings["data"] = os.fspath(data)
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


_SETTINGS = frozenset(search.__code__.co_varnames[: search.__code__.co_kwonlyargcount]) - set(_NOT_SETTINGS)


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

    def resume(
        self,
        *,
        trials: int | None = None,
        time_budget_s: float | None = None,
        address: str | None = None,
        quiet: bool = False,
        evaluator=None,
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

    def final(
        self,
        preset: str = "final",
        *,
        data: str | os.PathLike | None = None,
        seed: int = 0,
        device: str | None = None,
        pareto_pick: str | None = None,
        rank: int = 1,
    ) -> dict[str, Any]:
        """Train the best candidate on all training images and score it on the test set (`nas final`); writes
        final.pt and final.json into the run folder and returns the record. `data` defaults to the run's."""
        from nas.train.final import resolve_preset, resolve_target, run_final
        from nas.viz.error_pictures import draw_error_pictures

        chosen = resolve_preset(preset)
        target = resolve_target(str(self.path), pareto_pick=pareto_pick, rank=rank)
        own = data is None  # the run's data at the size it resolved to, and the run's test split
        spec = self.config.data_spec
        return run_final(
            target,
            chosen,
            data_path=self.config.data if own else data,
            seed=seed,
            device=device,
            image_size=(self.config.image_size if spec is None else spec.image_size) if own else None,
            test_fraction=self.config.test_fraction,
            error_pictures=draw_error_pictures,
        )

    def export(
        self,
        out: str | os.PathLike,
        *,
        rank: int | None = None,
        formats: tuple[str, ...] = ("py",),
        weights: str | os.PathLike | None = None,
        batch_size: int = 1,
        overwrite: bool = False,
        pareto_pick: str | None = None,
    ) -> Path:
        """Write the rank-th best candidate as plain PyTorch (`nas export`): model.py, weights.pt, arch.json,
        metadata.json, and any other `formats` (torchscript, onnx). Returns the export folder; load it with
        `nas.load`. Weights: `weights` (a nas checkpoint), else the run's final.pt when it holds this
        architecture, else, for the best candidate, the weights it was trained to during the search
        (best.pt). `pareto_pick` ("params<1e6"): the most accurate Pareto-front candidate meeting it, or with
        `rank` the rank-th (nas/runs/front.py)."""
        from nas.export import folder

        if weights is None and rank in (None, 1) and pareto_pick is None:
            weights = self._search_weights_of_best()
        source = folder.resolve_source(str(self.path), None, rank, None, weights, pareto_pick=pareto_pick)
        if source.warning:
            import warnings

            warnings.warn(source.warning, stacklevel=2)
        return folder.export(source, out, tuple(formats), batch_size=batch_size, overwrite=overwrite).path

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
        best_text = "none yet" if best is None else f"{100 * best['val_accuracy']:.2f}%"
        return f"<Run {self.name}: {len(rows)} candidates, best validation accuracy {best_text}; {self.path}>"
