"""`nas search`: a strategy proposes, Ray Tune trains candidates in parallel, the run folder keeps every result.

Ray does the distribution: the ask/tell strategy is wrapped as a Tune `Searcher`, candidates run as a Tune
function trainable with fractional GPUs, and ASHA can stop weak candidates. Resuming does not rely on Tune's
own restore (which loses custom searcher state in some versions): the run folder holds the strategy's state and
every finished candidate, written new-then-rename after each result, and a resumed run starts a fresh Tune
experiment that first re-launches the candidates that were in flight.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import search_spaces
import strategies
from nas import atomic
from nas.errors import UserError, one_line
from nas.search.candidate import METRIC, Evaluator
from nas.search.config import SearchConfig
from nas.search.run_folder import DEFAULT_RESULTS_DIR, RunFolder, write_trials
from nas.train.presets import PRESETS

STATE_FORMAT = "nas-search-state/1"


# -- the driver side: bookkeeping of one run --


@dataclass
class RunState:
    """What survives between attempts of a run, besides trials.parquet."""

    strategy: dict[str, Any]
    elapsed_s: float = 0.0  # search time spent by earlier attempts
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "strategy": self.strategy,
            "elapsed_s": self.elapsed_s,
            "attempts": self.attempts,
        }


@dataclass
class SearchCounts:
    """This search's tallies (done, running, failed, stopped early, best so far) and its clock: what the live
    display and the end-of-run summary read."""

    total: int | None
    time_budget_s: float | None
    started: float = field(default_factory=time.monotonic)
    elapsed_before: float = 0.0
    completed: int = 0
    failed: int = 0
    stopped: int = 0
    running: int = 0
    done_before: int = 0  # finished in earlier attempts: not counted in this attempt's rate
    best: dict[str, Any] | None = None

    @property
    def done(self) -> int:
        return self.completed + self.failed + self.stopped

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def eta_s(self) -> float | None:
        this_attempt = time.monotonic() - self.started
        finished_now = self.done - self.done_before
        estimates = []
        if self.total is not None and finished_now > 0:
            estimates.append(this_attempt / finished_now * max(self.total - self.done, 0))
        if self.time_budget_s is not None:
            estimates.append(max(self.time_budget_s - self.elapsed(), 0.0))
        return min(estimates) if estimates else None

    def add(self, row: dict[str, Any]) -> None:
        setattr(self, row["status"], getattr(self, row["status"]) + 1)
        if row["status"] == "completed" and (self.best is None or row[METRIC] > self.best[METRIC]):
            self.best = row


class Recorder:
    """Keeps trials.parquet and strategy_state.json in step with the strategy, atomically."""

    def __init__(self, run: RunFolder, strategy, state: RunState, rows: list[dict[str, Any]]):
        self.run, self.strategy, self.state, self.rows = run, strategy, state, rows

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.save()

    def save(self, elapsed_s: float | None = None) -> None:
        # trials first: a kill between the two files leaves a row the strategy has not heard of, which the next
        # resume tells it (see reconcile), never a told result without its row.
        write_trials(self.run.trials_path, self.rows)
        if elapsed_s is not None:
            self.state.elapsed_s = elapsed_s
        self.state.strategy = self.strategy.state_dict()
        atomic.write_json(self.run.strategy_state_path, self.state.to_dict())


def base_row(proposal, config: SearchConfig) -> dict[str, Any]:
    return {
        "trial_id": f"t{proposal.id:05d}",
        "proposal": proposal.id,
        "arch": search_spaces.to_json(proposal.arch),
        "arch_hash": search_spaces.canonical_hash(proposal.arch),
        "strategy": config.strategy,
        "space": config.space,
        "finished_at": time.time(),
    }


def result_fields(result: dict[str, Any]) -> dict[str, Any]:
    status = result.get("status", "failed")
    fields = {
        "status": status if status in ("completed", "failed") else "failed",
        "val_curve": [float(a) for a in result.get("val_curve") or []],
        "val_accuracy": float(result[METRIC])
        if status == "completed" and result.get("has_accuracy")
        else None,
        "error": result.get("error") if status != "completed" else None,
    }
    for name, kind in (("params", int), ("flops", int), ("wall_s", float), ("images_per_s", float)):
        value = result.get(name)
        fields[name] = (
            kind(value)
            if value is not None and not (isinstance(value, float) and math.isnan(value))
            else None
        )
    if fields["status"] == "completed" and fields["val_accuracy"] is None:
        fields.update(status="failed", error="the candidate reported no validation accuracy")
    return fields


# -- starting and resuming --


def run_folder_for(config_name: str, results_dir: str | os.PathLike | None) -> RunFolder:
    return RunFolder(Path(results_dir or DEFAULT_RESULTS_DIR).absolute() / config_name)


def create_run(config: SearchConfig, results_dir: str | os.PathLike | None) -> RunFolder:
    run = run_folder_for(config.name, results_dir)
    if run.config_path.exists():
        raise UserError(
            f"run {config.name!r} already exists in {run.path.parent}; resume it with "
            f"`nas search --resume {config.name}` or choose another --name"
        )
    try:
        run.path.mkdir(parents=True, exist_ok=True)
        probe = run.path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UserError(
            f"cannot write the run folder {run.path} ({e.strerror}); pass a writable --results-dir"
        ) from None
    return run


def load_run(
    name: str, results_dir: str | os.PathLike | None
) -> tuple[RunFolder, SearchConfig, RunState, list[dict]]:
    from nas.search.config import make_config
    from nas.search.run_folder import open_run

    run = open_run(name, results_dir)
    run = RunFolder(run.path.absolute())
    saved = run.config()
    try:
        config = make_config({k: v for k, v in saved.items() if k != "format"})
    except UserError as e:
        raise UserError(f"run {run.name} has an invalid config.json: {e}") from None
    state = RunState(strategy={})
    if run.strategy_state_path.exists():
        try:
            data = json.loads(run.strategy_state_path.read_text())
            if data.get("format") != STATE_FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            state = RunState(
                strategy=data["strategy"], elapsed_s=float(data["elapsed_s"]), attempts=int(data["attempts"])
            )
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(
                f"{run.strategy_state_path} is corrupt ({e}); the run cannot be resumed"
            ) from None
    return run, config, state, run.trials()


def resolve_resources(config: SearchConfig) -> SearchConfig:
    """Fill in GPUs per candidate and concurrency from what the Ray cluster has, once, at a run's first start:
    both are saved, because the strategy's proposals depend on the concurrency."""
    import ray

    resources = ray.cluster_resources()
    gpus, cpus = resources.get("GPU", 0.0), resources.get("CPU", 1.0)
    gpus_per_trial = (
        config.gpus_per_trial if config.gpus_per_trial is not None else (0.25 if gpus > 0 else 0.0)
    )
    if gpus_per_trial > 0 and gpus == 0:
        raise UserError(
            f"--gpus-per-trial {gpus_per_trial} asks for GPUs but the Ray cluster has none; "
            "pass --gpus-per-trial 0 to train on CPUs"
        )
    concurrency = config.concurrency
    if concurrency is None:
        by_cpu = int(cpus // config.cpus_per_trial)
        by_gpu = int(gpus // gpus_per_trial) if gpus_per_trial > 0 else by_cpu
        concurrency = max(1, min(by_cpu, by_gpu))
    return replace(config, gpus_per_trial=gpus_per_trial, concurrency=concurrency)


def reconcile(strategy, rows: list[dict[str, Any]]) -> None:
    """Tell the strategy results that reached trials.parquet but not its saved state (a kill between the two
    writes), so no finished candidate is trained again."""
    by_proposal = {row["proposal"]: row for row in rows}
    for proposal in strategy.pending():
        row = by_proposal.get(proposal.id)
        if row is None:
            continue
        if row["status"] == "failed":
            strategy.tell_failure(proposal.id, row["error"] or "failed")
        else:
            strategy.tell(proposal.id, row[METRIC])


def init_ray(address: str | None) -> None:
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    for name in ("ray", "ray.tune", "ray.train"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if ray.is_initialized():
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise UserError(f"could not start or reach {where}: {one_line(e)[:300]}") from None


@dataclass
class SearchOutcome:
    run: RunFolder
    progress: SearchCounts
    finished: bool  # the budget is spent and nothing is in flight


def run_search(
    config: SearchConfig | None = None,
    *,
    resume: str | None = None,
    results_dir: str | os.PathLike | None = None,
    evaluator: Evaluator | None = None,
    overrides: dict[str, Any] | None = None,
    quiet: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> SearchOutcome:
    """Start a new run from `config`, or continue the run named `resume` (with `overrides` of its budget)."""

    if resume is not None:
        run, config, state, rows = load_run(resume, results_dir)
        if overrides:
            from nas.search.config import make_config

            config = make_config({**config.to_dict(), **overrides})
    assert config is not None
    if evaluator is None:
        from nas.search.config import with_dataset
        from nas.search.train_trial import evaluate_candidate as evaluator

        config = with_dataset(config)  # reads the data once, before anything is written (own-data issue)
    if resume is not None:
        atomic.write_json(run.config_path, config.to_dict())
    else:
        run = create_run(config, results_dir)
        state, rows = RunState(strategy={}), []

    init_ray(config.address)
    if resume is None:
        config = resolve_resources(config)
        atomic.write_json(run.config_path, config.to_dict())

    space = search_spaces.make_space(config.space, **config.space_options)
    strategy = strategies.make_strategy(
        config.strategy,
        space,
        seed=config.seed,
        concurrency=config.concurrency,
        dedupe=config.dedupe,
        **config.strategy_options,
    )
    if state.strategy:
        strategy.load_state_dict(state.strategy)
    reconcile(strategy, rows)
    state.attempts += 1
    recorder = Recorder(run, strategy, state, rows)
    recorder.save()

    progress = SearchCounts(
        total=config.trials, time_budget_s=config.time_budget_s, elapsed_before=state.elapsed_s
    )
    for row in rows:
        progress.add(row)
    progress.done_before = progress.done
    deadline = None
    if config.time_budget_s is not None:
        deadline = time.monotonic() + max(config.time_budget_s - state.elapsed_s, 0.0)

    from ray import tune

    from nas.search import tune_glue
    from nas.search.live_display import LiveDisplay

    scheduler = (
        tune_glue.EarlyStopping(PRESETS[config.preset].train.epochs) if config.scheduler == "asha" else None
    )
    if scheduler is not None:
        scheduler.prime([row["val_curve"] for row in rows if row["val_curve"]])
    display = LiveDisplay(progress, config, quiet=quiet)
    listeners = [display.on_result] + ([on_result] if on_result else [])

    def record(proposal, result, status) -> None:
        row = {**base_row(proposal, config), "error": None}
        if status == "stopped":
            curve = [float(a) for a in result["val_curve"]]
            row.update(status="stopped", val_curve=curve, val_accuracy=curve[-1] if curve else None)
        elif status == "failed":
            row.update(status="failed", error="the worker running this candidate died (see Ray's logs)")
        else:
            row.update(result_fields(result))
        if row["status"] == "failed" or row["val_accuracy"] is None:
            strategy.tell_failure(proposal.id, row["error"] or "no validation accuracy")
        else:
            strategy.tell(proposal.id, row[METRIC])
        recorder.add(row)
        progress.add(row)
        for listener in listeners:
            listener(row)

    def set_running(n: int) -> None:
        progress.running = n

    searcher = tune_glue.StrategySearcher(
        strategy,
        trials=config.trials,
        concurrency=config.concurrency,
        deadline=deadline,
        request=lambda proposal: tune_glue.candidate_request(proposal, config),
        record=record,
        scheduler=scheduler,
        on_running=set_running,
    )
    # A custom searcher gets one pending trial at a time unless this is raised (Tune reads it at fit()).
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(config.concurrency)
    os.environ["RAY_AIR_NEW_OUTPUT"] = (
        "0"  # the new output engine prints even at verbose=0; ours is nas.search.live_display
    )
    tuner = tune.Tuner(
        tune_glue.make_trainable(evaluator, config.cpus_per_trial, config.gpus_per_trial),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=-1,
            reuse_actors=True,
            trial_name_creator=lambda t: f"candidate_{t.trial_id}",
            trial_dirname_creator=lambda t: f"candidate_{t.trial_id}",
        ),
        run_config=tune.RunConfig(
            name=f"attempt-{state.attempts}",
            storage_path=str(run.path / "ray"),
            verbose=0,
            # A worker lost with its node is retried elsewhere; a candidate's own errors are results, not retries.
            failure_config=tune.FailureConfig(max_failures=2),
        ),
    )
    attempt_started = time.monotonic()
    with display:
        tuner.fit()
    recorder.save(elapsed_s=state.elapsed_s + time.monotonic() - attempt_started)
    finished = not strategy.pending() and searcher.budget_spent()
    if finished and progress.completed:
        refresh_pictures(run)
    return SearchOutcome(run=run, progress=progress, finished=finished)


def refresh_pictures(run: RunFolder) -> None:
    """Pictures are a convenience: a failure to draw is reported, never a failure of the finished search."""
    from nas.viz.run_pictures import refresh_run_pictures

    try:
        refresh_run_pictures(run)
    except Exception as e:
        logging.getLogger(__name__).warning("could not draw the pictures of %s: %s", run.path, e)
