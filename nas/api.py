"""The Python API: run a search from a script or a notebook, and work with its results.

    import nas

    run = nas.search(strategy="evolution", space="nb201", preset="cpu", trials=8, data="cifar10/")
    run.trials          # pandas DataFrame, one row per candidate (the columns of trials.parquet)
    run.best            # the best completed candidate (a pandas Series), or None
    run.final()         # train the best on all training images, score it on the test set (nas.train.final)
    run.export("demo-model")   # plain PyTorch code + weights (nas.export.folder)
    run = nas.open_run("demo").resume(trials=16)

Keyword arguments of `search` are the fields of `nas.search.config.SearchConfig`, validated by the same
`build_config`/`make_config` as `nas search`'s flags and TOML files (which is a thin layer over this module).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from nas.search.config import SearchConfig
    from nas.search.driver import SearchOutcome
    from nas.search.run_folder import RunFolder


def search(
    *,
    config_file: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    quiet: bool = False,
    evaluator=None,
    **settings: Any,
) -> Run:
    """Start a new search run and return it when the search ends (its budget spent, or interrupted).

    `settings` are SearchConfig fields (strategy, space, preset, trials, time_budget_s, data, name, seed,
    ...); `config_file` a TOML file of them that `settings` override. `results_dir` holds the run folder
    (default: $NAS_RESULTS_DIR or results/); `quiet` prints one line per candidate instead of a live table;
    `evaluator` replaces candidate training (see nas.search.candidate.Evaluator). A bad setting raises
    nas.errors.UserError before anything is written."""
    from nas.search.config import build_config
    from nas.search.driver import run_search

    config = build_config(settings, config_file)
    outcome = run_search(config, results_dir=_results_dir(results_dir), evaluator=evaluator, quiet=quiet)
    return Run(outcome.run, outcome)


def open_run(name: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> Run:
    """An existing run, by name (under `results_dir`, $NAS_RESULTS_DIR or results/) or by folder path."""
    from nas.search.run_folder import RunFolder
    from nas.search.run_folder import open_run as find

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
        from nas.search.config import make_config

        return make_config({k: v for k, v in self.folder.config().items() if k != "format"})

    @property
    def finished(self) -> bool | None:
        """Whether the last search through this object spent its budget (None: not searched here)."""
        return None if self.outcome is None else self.outcome.finished

    @property
    def trials(self) -> pd.DataFrame:
        """One row per recorded candidate, in the order results arrived (columns: TRIALS_SCHEMA)."""
        import pyarrow.parquet as pq

        from nas.search.run_folder import TRIALS_SCHEMA

        if not self.folder.trials_path.exists():
            return TRIALS_SCHEMA.empty_table().to_pandas()
        return pq.read_table(self.folder.trials_path).to_pandas()

    @property
    def best(self) -> pd.Series | None:
        """The completed candidate with the highest validation accuracy (ties: earlier proposal), or None."""
        trials = self.trials
        done = trials[(trials["status"] == "completed") & trials["val_accuracy"].notna()]
        if done.empty:
            return None
        return done.sort_values(["val_accuracy", "proposal"], ascending=[False, True]).iloc[0]

    @property
    def pareto(self) -> pd.DataFrame:
        """The non-dominated completed candidates under the run's objectives (accuracy and params for a run
        that searched for accuracy alone), most accurate first (`nas results RUN --pareto`)."""
        import pandas as pd

        from nas.search.front import pareto_front

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
        from nas.search.config import check_resume_settings
        from nas.search.driver import run_search

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

        chosen = resolve_preset(preset)
        target = resolve_target(str(self.path), pareto_pick=pareto_pick, rank=rank)
        own = data is None  # the run's data at the run's image size and test split
        return run_final(
            target,
            chosen,
            data_path=self.config.data if own else data,
            seed=seed,
            device=device,
            image_size=self.config.image_size if own else None,
            test_fraction=self.config.test_fraction,
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
        `rank` the rank-th (nas/search/front.py)."""
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
        rows = self.folder.trials()
        done = [r for r in rows if r["status"] == "completed" and r["val_accuracy"] is not None]
        best = max((r["val_accuracy"] for r in done), default=None)
        best_text = "none yet" if best is None else f"{100 * best:.2f}%"
        return f"<Run {self.name}: {len(rows)} candidates, best validation accuracy {best_text}; {self.path}>"
