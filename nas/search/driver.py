"""`nas search`: a strategy proposes, Ray Tune trains candidates in parallel, the run folder keeps every result.

`run_search` goes through named steps: `plan_run` (config or saved run, no writes), `read_data` (the dataset,
read once on this machine), `nas.search.cluster.connect` and `resolve_resources` (Ray reachable, resources
enough), then `write_run_folder` (the first write), `start_strategy`, `make_tuner`, and `finish`. Every step that
can refuse a run comes before the first write, so a refused run leaves nothing behind.

Ray does the distribution: the ask/tell strategy is wrapped as a Tune `Searcher`, candidates run as a Tune
function trainable with fractional GPUs, and ASHA can stop weak candidates. Resuming does not rely on Tune's
own restore (which loses custom searcher state in some versions): the run folder holds the strategy's state and
every finished candidate, written new-then-rename after each result, and a resumed run starts a fresh Tune
experiment that first re-launches the candidates that were in flight.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import search_spaces
import strategies
from nas import atomic
from nas.search import cluster
from nas.search.candidate import METRIC, Evaluator
from nas.search.config import SearchConfig, make_config
from nas.search.run_folder import (
    PROVENANCE_KEY,
    RunFolder,
    RunState,
    check_new_run,
    create_run,
    is_ranked,
    load_run,
    rank_key,
    write_trials,
)
from nas.train.presets import PRESETS

# -- the driver side: bookkeeping of one run --


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
        if self.outranks_best(row):
            self.best = row

    def outranks_best(self, row: dict[str, Any]) -> bool:
        """Whether `row` would be the run's best by its ranking rule (ties: the earlier proposal), so the live
        view, RUN/best.pt and `Run.best` always name the same candidate."""
        return is_ranked(row) and (self.best is None or rank_key(row) < rank_key(self.best))


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
        "curves": result.get("curves"),
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


# -- the steps of a search --


@dataclass
class Plan:
    """A run about to start or continue: checked, nothing written yet."""

    config: SearchConfig
    run: RunFolder
    state: RunState
    rows: list[dict[str, Any]]
    resumed: bool
    goal: Any = None  # nas.search.budget.GoalPlan: limits checked, reward targets resolved, the costs
    # A candidate's epochs on this run's data (TrainConfig.epochs_for); None when the data is not read.
    epochs: int | None = None


def plan_run(
    config: SearchConfig | None,
    resume: str | os.PathLike | None,
    results_dir: str | os.PathLike | None,
    overrides: dict[str, Any] | None,
) -> Plan:
    if resume is not None:
        run, saved, state, rows = load_run(resume, results_dir)
        if overrides:
            saved = make_config({**saved.to_dict(), **overrides})
        return Plan(saved, run, state, rows, resumed=True)
    if config is None:
        raise TypeError("run_search needs a config or resume=RUN")
    return Plan(config, check_new_run(config.name, results_dir), RunState(), [], resumed=False)


def read_data(config: SearchConfig):
    """The training and validation images every candidate of the run uses, read once here on the machine that
    starts the search (a missing or corrupt dataset is one clear error before anything is written)."""
    from nas.train.data import load_splits

    train = PRESETS[config.preset].train
    return load_splits(
        config.data,
        seed=config.seed,
        val_size=config.val_size,
        train_subset=train.train_subset,
        val_subset=train.val_subset,
        image_size=config.image_size,
        test_fraction=config.test_fraction,
    )


def write_run_folder(plan: Plan, results_dir: str | os.PathLike | None) -> RunFolder:
    """The first write of a run: its folder (a new run) and its resolved config, with the versions and command
    line of the attempt that wrote it (not settings: `RunFolder.config` leaves them out)."""
    from nas.provenance import provenance

    run = plan.run if plan.resumed else create_run(plan.config.name, results_dir)
    atomic.write_json(run.config_path, {**plan.config.to_dict(), PROVENANCE_KEY: provenance()})
    return run


def start_strategy(
    config: SearchConfig, space, state: RunState, rows: list[dict[str, Any]], scores, goal=None
):
    # A saved state carries its warm start; only a run without one (new, or killed while scoring) scores.
    warm = scores.warm_start() if scores is not None and config.warm_start and not state.strategy else ()
    strategy = strategies.make_strategy(
        config.strategy,
        space,
        seed=config.seed,
        concurrency=config.concurrency,
        dedupe=config.dedupe,
        **({"warm_start": warm} if warm else {}),
        **config.strategy_options,
        **(goal.strategy_options() if goal is not None else {}),
    )
    if state.strategy:
        strategy.load_state_dict(state.strategy)
    reconcile(strategy, rows)
    return strategy


def start_progress(config: SearchConfig, state: RunState, rows: list[dict[str, Any]]) -> SearchCounts:
    progress = SearchCounts(
        total=config.trials, time_budget_s=config.time_budget_s, elapsed_before=state.elapsed_s
    )
    for row in rows:
        progress.add(row)
    progress.done_before = progress.done
    return progress


def make_tuner(run: RunFolder, config: SearchConfig, attempt: int, searcher, scheduler, trainable):
    from ray import tune

    # A custom searcher gets one pending trial at a time unless this is raised (Tune reads it at fit()).
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(config.concurrency)
    # The new output engine prints even at verbose=0; ours is nas.search.live_display.
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=-1,
            reuse_actors=True,
            trial_name_creator=lambda t: f"candidate_{t.trial_id}",
            trial_dirname_creator=lambda t: f"candidate_{t.trial_id}",
        ),
        run_config=tune.RunConfig(
            name=f"attempt-{attempt}",
            storage_path=str(run.path / "ray"),  # written by the driver only; workers report through Ray
            verbose=0,
            # A worker lost with its node is retried elsewhere; a candidate's own errors are results, not retries.
            failure_config=tune.FailureConfig(max_failures=2),
        ),
    )


def result_row(proposal, config: SearchConfig, result: dict[str, Any] | None, status: str | None) -> dict:
    """One trials row from what Tune handed back: a final report, an early stop or a lost worker."""
    row = {**base_row(proposal, config), "error": None}
    if status == "stopped":
        curve = [float(a) for a in result["val_curve"]]
        row.update(status="stopped", val_curve=curve, val_accuracy=curve[-1] if curve else None)
    elif status == "failed":
        row.update(status="failed", error="the worker running this candidate died (see Ray's logs)")
    else:
        row.update(result_fields(result))
    return row


@dataclass
class SearchOutcome:
    run: RunFolder
    progress: SearchCounts
    finished: bool  # the budget is spent and nothing is in flight


def run_search(
    config: SearchConfig | None = None,
    *,
    resume: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    evaluator: Evaluator | None = None,
    overrides: dict[str, Any] | None = None,
    quiet: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    on_start: Callable[[RunFolder], None] | None = None,
) -> SearchOutcome:
    """Start a new run from `config`, or continue the run named `resume` (with `overrides` of its budget).

    `evaluator` replaces candidate training (tests); the run's data is then read and shipped only if
    `config.data` is set. `on_start(run)` is called once the run folder exists, `on_result(row)` after every
    recorded candidate."""
    plan = plan_run(config, resume, results_dir, overrides)
    from nas.search import budget

    # Limits that admit no architecture are refused here, before anything is written.
    plan.goal = budget.plan(plan.config, run_path=plan.run.path if plan.resumed else None)
    plan.config, cost_targets = plan.goal.config, plan.config.cost_targets
    splits = read_data(plan.config) if evaluator is None or plan.config.data is not None else None
    if splits is not None:
        plan.epochs = PRESETS[plan.config.preset].train.epochs_for(len(splits.train_labels))
        from nas.search.config import fitted_preset, with_dataset

        plan.config = with_dataset(plan.config)  # own data: config.json records its size, classes, mean/std
        if plan.goal.costs is not None and plan.goal.costs.config != fitted_preset(plan.config).model:
            # Own data changes the network (classes, image size): the limits apply to the one trained.
            resumed_at = plan.run.path if plan.resumed else None
            plan.goal = budget.plan(replace(plan.config, cost_targets=cost_targets), run_path=resumed_at)
            plan.config = plan.goal.config
    if evaluator is None:
        from nas.search.train_trial import evaluate_candidate as evaluator

    c = plan.config
    ray = f"connecting to the Ray cluster at {c.address}" if c.address else "starting a local Ray"
    print(
        f"{c.name}: {'resuming' if plan.resumed else 'starting'} {c.strategy} on {c.space}, preset {c.preset}; "
        f"results in {plan.run.path}; {ray}",
        file=sys.stderr,
        flush=True,
    )
    ray_log = cluster.RayLog().open()
    try:
        cluster.connect(plan.config.address)
        if plan.resumed:
            cluster.check_fits(plan.config.cpus_per_trial, plan.config.gpus_per_trial or 0.0)
        else:
            plan.config = cluster.resolve_resources(plan.config)
        shipped = cluster.ship(splits) if splits is not None else None
        run = write_run_folder(plan, results_dir)
        ray_log.to_file(run.log_path)
        if on_start is not None:
            on_start(run)
        return search(run, plan, evaluator, shipped, quiet=quiet, on_result=on_result)
    finally:
        ray_log.close()


def search(run: RunFolder, plan: Plan, evaluator, shipped, *, quiet: bool, on_result) -> SearchOutcome:
    """The search itself, once the run folder exists: Tune trains what the strategy proposes."""
    from nas.search import tune_glue
    from nas.search.config import fitted_preset
    from nas.search.live_display import LiveDisplay
    from nas.search.warm_start import run_scores
    from nas.train.curves import write_trial_tensorboard

    config, state, rows = plan.config, plan.state, plan.rows
    space = search_spaces.make_space(config.space, **config.space_options)
    scores = run_scores(config, space, run)  # training-free scores (and the warm start), when configured
    plan.goal.keep_costs_in(run.path)
    strategy = start_strategy(config, space, state, rows, scores, plan.goal)
    state.attempts += 1
    recorder = Recorder(run, strategy, state, rows)
    recorder.save()
    progress = start_progress(config, state, rows)
    deadline = None
    if config.time_budget_s is not None:
        deadline = time.monotonic() + max(config.time_budget_s - state.elapsed_s, 0.0)

    scheduler = None
    if config.scheduler == "asha":
        scheduler = tune_glue.EarlyStopping(plan.epochs or PRESETS[config.preset].train.epochs)
        scheduler.prime([row["val_curve"] for row in rows if row["val_curve"]])
    display = LiveDisplay(progress, config, quiet=quiet, run_path=run.path)
    listeners = [display.on_result] + ([on_result] if on_result else [])

    inbox = cluster.make_inbox()

    def record(proposal, result, status) -> None:
        row = result_row(proposal, config, result, status)
        row.update(plan.goal.row_costs(proposal.arch, row))
        if scores is not None:
            row.update(scores.columns(proposal.arch))
        usable = row["status"] != "failed" and row["val_accuracy"] is not None
        if usable:
            strategy.tell(proposal.id, row[METRIC])
        else:
            strategy.tell_failure(proposal.id, row["error"] or "no validation accuracy")
        recorder.add(row)
        write_trial_tensorboard(run.path, row, fitted_preset(config).to_dict(), result)
        weights = cluster.take_weights(inbox, proposal.id) if result and result.get("has_weights") else None
        if weights and progress.outranks_best(row):
            keep_best_weights(run, config, row, weights)
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
    trainable = tune_glue.make_trainable(
        evaluator, config.cpus_per_trial, config.gpus_per_trial, data=shipped, inbox=inbox
    )
    tuner = make_tuner(run, config, state.attempts, searcher, scheduler, trainable)
    attempt_started = time.monotonic()
    try:
        with display:
            tuner.fit()
    finally:
        cluster.close_inbox(inbox)
    recorder.save(elapsed_s=state.elapsed_s + time.monotonic() - attempt_started)
    return finish(run, progress, finished=not strategy.pending() and searcher.budget_spent())


def keep_best_weights(run: RunFolder, config: SearchConfig, row: dict[str, Any], weights: bytes) -> None:
    """The best candidate so far, as trained during the search, as a checkpoint (RUN/best.pt) that rebuilds it."""
    import io

    import torch

    from nas.search.config import fitted_preset, preprocessing
    from nas.train.checkpoint import Checkpoint, save_checkpoint

    save_checkpoint(
        run.best_checkpoint_path,
        Checkpoint(
            arch=search_spaces.arch_from_json(row["arch"], **config.space_options),
            space_options=config.space_options,
            model_config=fitted_preset(config).model,  # own data: its classes and image size
            state_dict=torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True),
            metadata={
                "run": run.name,
                "trial_id": row["trial_id"],
                METRIC: row[METRIC],
                "preset": config.preset,
            },
            preprocessing=preprocessing(config),
        ),
    )


def finish(run: RunFolder, progress: SearchCounts, *, finished: bool) -> SearchOutcome:
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
