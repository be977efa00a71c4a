"""`nas search`: a strategy proposes, Ray Tune trains candidates in parallel, the run folder keeps every result.

`run_search` goes through named steps: `plan_run` (config or saved run, no writes), `read_data` (the dataset,
read once on this machine), `nas.searching.cluster.connect` and `resolve_resources` (Ray reachable, resources
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
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import search_spaces
import strategies
from nas import atomic
from nas.errors import SearchStopped, UserError, one_line
from nas.runs.folder import PROVENANCE_KEY, RunFolder, RunState, check_new_run, create_run, open_run
from nas.runs.trial import METRIC, CandidateStatus, Trial, is_ranked, rank_key, result_fields
from nas.searching import cluster
from nas.searching.candidate import REPORTED, Evaluator
from nas.searching.config import SearchConfig, make_config
from nas.train.presets import PRESETS
from search_spaces.recipe_space import split

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
    """Keeps the run's records in step with the strategy. Each result is one line appended to the trials log
    (constant cost, whatever the run holds); the strategy's state and trials.parquet are snapshotted when the
    results since the last snapshot reach a quarter of the run's (so the total cost of snapshots stays
    proportional to the results: a constant per result) or a minute has passed, and when the search ends. A
    resume replays the results recorded after the last snapshot (`replay`)."""

    SNAPSHOT_FRACTION = 0.25
    SNAPSHOT_MIN = 16  # results between snapshots at the least
    SNAPSHOT_INTERVAL_S = 60.0  # and at most this long between snapshots, so trials.parquet stays fresh

    def __init__(self, run: RunFolder, strategy, state: RunState, rows: list[dict[str, Any]]):
        self.run, self.strategy, self.state, self.rows = run, strategy, state, rows
        self.since_snapshot = 0
        self.snapshot_at = time.monotonic()

    def add(self, trial: Trial) -> dict[str, Any]:
        """Record a result, before the strategy hears of it: a kill in between leaves a recorded result the
        next resume tells the strategy, never a told result without its record."""
        self.run.append_trial(trial)
        row = trial.to_row()
        self.rows.append(row)
        self.since_snapshot += 1
        return row

    def maybe_save(self) -> None:
        due = max(self.SNAPSHOT_MIN, self.SNAPSHOT_FRACTION * len(self.rows))
        if self.since_snapshot >= due or time.monotonic() - self.snapshot_at >= self.SNAPSHOT_INTERVAL_S:
            self.save()

    def save(self, elapsed_s: float | None = None, *, strategy_state: dict[str, Any] | None = None) -> None:
        """Snapshot: trials.parquet first, then the strategy's state (or `strategy_state`, the last one known
        to be consistent with the records, when the strategy may be half-way through a result)."""
        self.run.compact(self.rows)
        if elapsed_s is not None:
            self.state.elapsed_s = elapsed_s
        self.state.strategy = self.strategy.state_dict() if strategy_state is None else strategy_state
        atomic.write_json(self.run.strategy_state_path, self.state.to_dict(), indent=None)
        self.since_snapshot, self.snapshot_at = 0, time.monotonic()


def base_trial(proposal, config: SearchConfig, **fields: Any) -> Trial:
    from nas.searching import joint

    return Trial(
        trial_id=f"t{proposal.id:05d}",
        proposal=proposal.id,
        arch=search_spaces.to_json(split(proposal.arch)[0]),  # the network; the recipe has its own columns
        arch_hash=search_spaces.canonical_hash(proposal.arch),
        strategy=config.strategy,
        space=config.space,
        finished_at=time.time(),
        **joint.recipe_columns(config, proposal.arch),
        **fields,
    )


def tell(strategy, row: dict[str, Any]) -> None:
    """Tell the strategy a recorded result: its accuracy when it has one (a completed or early-stopped
    candidate), else a failure with its reason."""
    if row["status"] != CandidateStatus.FAILED and row[METRIC] is not None:
        strategy.tell(row["proposal"], row[METRIC])
    else:
        strategy.tell_failure(row["proposal"], row["error"] or "no validation accuracy")


def replay(strategy, rows: list[dict[str, Any]]) -> None:
    """Bring a strategy restored from its last snapshot up to every recorded result, so no finished candidate
    is trained again. Results of its pending proposals are told; proposals made after the snapshot are asked
    again and told their recorded results: the strategy is deterministic (strategies/base.py: proposal k
    depends only on its seed and the results of earlier proposals), so the same numbers and architectures
    come back. Pending proposals without a record were in flight, and are trained again."""
    by_proposal = {row["proposal"]: row for row in rows}
    last = max(by_proposal, default=-1)
    while True:
        for proposal in strategy.pending():
            if proposal.id in by_proposal:
                tell(strategy, by_proposal[proposal.id])
        if strategy.num_proposed > last:
            return
        try:
            proposal = strategy.ask()
        except strategies.SpaceExhaustedError:
            return
        if proposal is None:
            return  # waiting on a candidate that was in flight: the searcher asks on once it is back
        row = by_proposal.get(proposal.id)
        if row is not None and row["arch_hash"] != search_spaces.canonical_hash(proposal.arch):
            raise UserError(
                f"{proposal.id} replayed as {search_spaces.canonical_hash(proposal.arch)} but was recorded as "
                f"{row['arch_hash']}: the strategy's state does not match trials; the run cannot be resumed"
            )


# -- the steps of a search --


@dataclass
class Plan:
    """A run about to start or continue: checked, nothing written yet."""

    config: SearchConfig
    run: RunFolder
    state: RunState
    rows: list[dict[str, Any]]
    resumed: bool
    goal: Any = None  # nas.searching.budget.GoalPlan: limits checked, reward targets resolved, the costs
    # A candidate's epochs on this run's data (TrainConfig.epochs_for); None when the data is not read.
    epochs: int | None = None


def load_run(
    name: str | os.PathLike, results_dir: str | os.PathLike | None
) -> tuple[RunFolder, SearchConfig, RunState, list[dict[str, Any]]]:
    """An existing run's folder, validated config, saved state and recorded trials; reads only."""
    run = RunFolder(open_run(name, results_dir).path.absolute())
    saved = run.config()
    try:
        config = make_config({k: v for k, v in saved.items() if k != "format"})
    except UserError as e:
        raise UserError(f"run {run.name} has an invalid config.json: {e}") from None
    return run, config, RunState.read(run.strategy_state_path), run.trials()


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
    starts the search (a missing or corrupt dataset is one clear error before anything is written), and the
    config with what the data resolved to (`data_spec`). A resumed run reads its data at the recorded size
    and keeps the recorded spec."""
    from nas.train.data import load_splits

    train = PRESETS[config.preset].train
    saved = config.data_spec
    splits = load_splits(
        config.data,
        seed=config.seed,
        val_size=config.val_size,
        train_subset=train.train_subset,
        val_subset=train.val_subset,
        image_size=config.image_size if saved is None else saved.image_size,
        test_fraction=config.test_fraction,
    )
    if saved is None:
        return splits, replace(config, data_spec=splits.spec)
    if (saved.image_size, saved.class_names) != (splits.image_size, splits.class_names):
        raise UserError(
            f"run {config.name}'s data changed since it started: it recorded {saved.num_classes} classes at "
            f"{saved.image_size} px, {config.data or 'cifar10'} now has {splits.num_classes} at "
            f"{splits.image_size} px; restore the data or start a new run"
        )
    return replace(splits, spec=saved), config


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
        # A model-based strategy reads the scores of the warm-start cells (disk-cached, also on resume).
        **(
            {"scores": lambda arch: scores.scorer.score(arch)}
            if scores and strategies.STRATEGIES[config.strategy].uses_scores
            else {}
        ),
        **config.strategy_options,
        **(goal.strategy_options() if goal is not None else {}),
    )
    if state.strategy:
        strategy.load_state_dict(state.strategy)
    replay(strategy, rows)
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
    # The new output engine prints even at verbose=0; ours is nas.searching.live_display.
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    # The run folder is the record: Tune's own per-candidate JSON, CSV and TensorBoard logs would cost an
    # fsync and a few files per candidate (a tenth of the engine's time per candidate, measured).
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    # Tune's own experiment state (for its restore, which this engine does not use) lists every candidate:
    # saved at the start and the end, and at most hourly, not the default ~5% of the time.
    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = "3600"
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


def result_trial(proposal, config: SearchConfig, result: dict[str, Any] | None, status: str | None) -> Trial:
    """One candidate's record from what Tune handed back: a final report (checked: an invalid result is a
    failed candidate with the reason), an early stop or a lost worker."""
    if status == CandidateStatus.STOPPED:
        curve = [float(a) for a in result["val_curve"]]
        return base_trial(
            proposal, config, status=status, val_curve=curve, val_accuracy=curve[-1] if curve else None
        )
    if status == CandidateStatus.FAILED:
        return base_trial(
            proposal, config, status=status, error="the worker running this candidate died (see Ray's logs)"
        )
    return base_trial(proposal, config, **result_fields({**result, METRIC: result.get(REPORTED)}))


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
    splits = None
    if evaluator is None or plan.config.data is not None:
        splits, plan.config = read_data(plan.config)  # config.json records its size, classes, mean/std
    from nas.searching import budget
    from nas.searching.config import run_preset

    # Limits that admit no architecture are refused here, before anything is written; the costs are those
    # of the network each candidate is trained as (fitted to the data).
    plan.goal = budget.plan(
        plan.config, run_preset(plan.config).model, run_path=plan.run.path if plan.resumed else None
    )
    plan.config = plan.goal.config
    if splits is not None:
        from nas.searching.joint import max_epochs

        # ASHA's last rung: the longest any candidate trains (tuned recipes may differ in length)
        plan.epochs = max_epochs(plan.config, len(splits.train_labels))
    if evaluator is None:
        from nas.searching.train_trial import evaluate_candidate as evaluator

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
    from nas.searching import tune_glue
    from nas.searching.config import run_preset
    from nas.searching.live_display import LiveDisplay
    from nas.searching.warm_start import run_scores
    from nas.train.curves import write_trial_tensorboard

    config, state, rows = plan.config, plan.state, plan.rows
    from nas.searching.joint import run_space

    space = run_space(config)  # wrapped with the recipe's decisions when a recipe is tuned
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
        from nas.searching.joint import max_epochs

        scheduler = tune_glue.EarlyStopping(plan.epochs or max_epochs(config))
        scheduler.prime([row["val_curve"] for row in rows if row["val_curve"]])
    display = LiveDisplay(progress, config, quiet=quiet, run_path=run.path)
    listeners = [display.on_result] + ([on_result] if on_result else [])

    inbox = cluster.make_inbox()

    def record(proposal, result, status) -> None:
        trial = result_trial(proposal, config, result, status)
        extra = plan.goal.row_costs(split(proposal.arch)[0], trial.to_row())
        if scores is not None:
            extra.update(scores.columns(proposal.arch))
        row = recorder.add(replace(trial, **extra) if extra else trial)
        tell(strategy, row)
        recorder.maybe_save()
        write_trial_tensorboard(run.path, row, run_preset(config).to_dict(), result)
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
    elapsed_s = state.elapsed_s + time.monotonic() - attempt_started
    if searcher.failure is not None:
        # The strategy may be half-way through the result that failed: keep its last snapshot, which the
        # recorded results bring up to date on resume.
        recorder.save(elapsed_s, strategy_state=state.strategy)
        raise SearchStopped(
            f"the search stopped on an error ({one_line(searcher.failure)[:300]}); its results so far are "
            f"saved: continue with `nas resume {run.name}`"
        ) from searcher.failure
    recorder.save(elapsed_s=elapsed_s)
    from nas.searching.joint import write_best_recipe

    write_best_recipe(run, config, progress.best)
    return finish(run, progress, finished=not strategy.pending() and searcher.budget_spent())


def keep_best_weights(run: RunFolder, config: SearchConfig, row: dict[str, Any], weights: bytes) -> None:
    """The best candidate so far, as trained during the search, as a checkpoint (RUN/best.pt) that rebuilds it."""
    import io

    import torch

    from nas.searching.config import run_preset
    from nas.searching.joint import candidate_recipe
    from nas.train.checkpoint import Checkpoint, save_checkpoint

    save_checkpoint(
        run.best_checkpoint_path,
        Checkpoint(
            arch=search_spaces.arch_from_json(row["arch"], **config.space_options),
            space_options=config.space_options,
            # fitted to the data (its classes and image size), with the candidate's recipe (norm, dropout)
            model_config=run_preset(config, candidate_recipe(config, row)).model,
            state_dict=torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True),
            metadata={
                "run": run.name,
                "trial_id": row["trial_id"],
                METRIC: row[METRIC],
                "preset": config.preset,
            },
            data_spec=config.data_spec,
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
