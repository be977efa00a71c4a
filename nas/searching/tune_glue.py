"""The pieces Ray Tune runs: the candidate trainable (on workers), the strategy as a Tune `Searcher` and ASHA
early stopping (on the driver). Imported only when a search starts, so the CLI stays quick without Ray."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import Searcher

import search_spaces
import strategies
from nas.errors import one_line
from nas.runs.trial import METRIC, CandidateStatus
from nas.searching.candidate import REPORTED, CandidateRequest, Evaluator
from nas.searching.config import run_preset
from search_spaces.recipe_space import split


def _error_text(error: BaseException) -> str:
    """An exception as the trials file's one-line error: its type, its message, at most 500 characters."""
    return one_line(f"{type(error).__name__}: {error}")[:500]


def candidate_trainable(config: dict[str, Any], evaluator: Evaluator, data=None, inbox=None) -> None:
    """Tune function trainable: one report per epoch, then one final report with the candidate's metrics.

    `data` (nas.searching.cluster.ShippedData) brings the run's images from Ray's object store. What the
    candidate produces goes back to the driver through Ray: metrics in `tune.report`, trained weights (when
    the evaluator returns them as "weights" bytes) to the driver's `inbox` actor. A worker writes no file the
    run needs."""
    request = CandidateRequest(**config["request"])
    if data is not None:
        request = dataclasses.replace(request, dataset=data.get())

    def report(epoch: int, accuracy: float) -> None:
        if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
            raise ValueError(
                f"epoch {epoch} reported validation accuracy {accuracy!r}, not a number in [0, 1]"
            )
        tune.report({METRIC: float(accuracy), "epoch": int(epoch), "final": False})

    try:
        result = dict(evaluator(request, report))
    except (
        Exception
    ) as e:  # the evaluator should not raise; if it does, the candidate fails, the search goes on
        result = {"status": CandidateStatus.FAILED, "error": _error_text(e)}
    status = result.get("status", CandidateStatus.FAILED)
    weights = result.pop("weights", None)
    if weights is not None and inbox is not None and status == CandidateStatus.COMPLETED:
        import ray

        ray.get(inbox.put.remote(request.proposal, weights))  # before the report that makes it a result
        result["has_weights"] = True
    accuracy = result.get(METRIC) if status == CandidateStatus.COMPLETED else None
    usable = isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool) and math.isfinite(accuracy)
    # Tune wants a number as the metric of every report (ASHA compares it); the evaluator's own value goes
    # along unchanged as REPORTED, and the driver checks it where it is recorded (runs/trial.py).
    tune.report(
        {**result, REPORTED: result.get(METRIC), METRIC: float(accuracy) if usable else 0.0, "final": True}
    )


class EarlyStopping(ASHAScheduler):
    """ASHA (Li et al. 2020) on per-epoch validation accuracy that remembers which trials it stopped, and can
    be primed with earlier candidates' curves so a resumed run prunes against the same history (Tune does not
    restore ASHA's rungs: ray-project/ray#30838)."""

    def __init__(self, epochs: int) -> None:
        # Grace period 1 epoch and reduction factor 3, ASHA's defaults in Tune; one bracket (plain ASHA).
        super().__init__(
            time_attr="epoch",
            metric=METRIC,
            mode="max",
            max_t=max(epochs, 1),
            grace_period=1,
            reduction_factor=3,
            stop_last_trials=False,
        )
        self.epochs = epochs
        self.stopped: set[str] = set()

    def on_trial_result(self, tune_controller, trial, result):
        action = super().on_trial_result(tune_controller, trial, result)
        if action == self.STOP and not result.get("final") and result.get("epoch", self.epochs) < self.epochs:
            self.stopped.add(trial.trial_id)
        return action

    def prime(self, curves: list[list[float]]) -> None:
        # Ray's private API, checked by tests/test_ray_private_api.py against the pinned Ray (pyproject.toml):
        # AsyncHyperBandScheduler._brackets, _Bracket.on_result(trial, cur_iter, cur_rew) and _metric_op.
        bracket = self._brackets[0]
        for n, curve in enumerate(curves):
            earlier = _EarlierTrial(f"earlier-{n}")
            for epoch, accuracy in enumerate(curve, start=1):
                bracket.on_result(earlier, epoch, self._metric_op * accuracy)


@dataclass(frozen=True)
class _EarlierTrial:
    trial_id: str


class StrategySearcher(Searcher):
    """A Tune searcher that asks the strategy for candidates and tells it their results.

    It limits the candidates in flight itself (Tune's ConcurrencyLimiter has restore problems, see RAY_NOTES),
    re-launches the proposals that were in flight when an earlier attempt of the run ended, and stops asking
    when the budget is spent. Every finished candidate goes to `record(proposal, result_or_None, status)`.
    """

    def __init__(
        self,
        strategy,
        *,
        trials: int | None,
        concurrency: int,
        deadline: float | None,
        request: Callable[[Any], CandidateRequest],
        record: Callable[..., None],
        scheduler=None,
        on_running: Callable[[int], None] = lambda n: None,
    ) -> None:
        super().__init__(metric=METRIC, mode="max")
        self.strategy, self.trials, self.concurrency, self.deadline = strategy, trials, concurrency, deadline
        self.request, self.record, self.scheduler, self.on_running = request, record, scheduler, on_running
        self.in_flight: dict[str, Any] = {}  # Tune trial id -> Proposal
        self.relaunch = list(strategy.pending())  # in flight when the last attempt ended: trained again
        self.curves: dict[str, list[float]] = {}  # per-epoch accuracies, for candidates ASHA stops
        self.exhausted: str | None = None
        self.failure: BaseException | None = None  # an error of the search itself: it ends the search

    def _guarded(self, step: Callable[[], Any], default: Any = None) -> Any:
        """Run one of Tune's callbacks; an exception (a bug, a failing on_result listener, a full disk) is
        kept for the driver and ends the search through `StopOnFailure`, where Tune would log it and wait."""
        if self.failure is not None:
            return default
        try:
            return step()
        except Exception as e:
            self.failure = e
            return default

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles the searcher into tuner.pkl for its own restore, which this engine does not use
        # (the run folder is the state); the live strategy and callbacks stay out of it.
        return {"_metric": self._metric, "_mode": self._mode}

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return True  # concurrency is limited here, not by Tune's ConcurrencyLimiter

    def budget_spent(self) -> bool:
        if self.exhausted or (self.trials is not None and self.strategy.num_proposed >= self.trials):
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline

    def suggest(self, trial_id: str):
        return self._guarded(lambda: self._suggest(trial_id), Searcher.FINISHED)

    def _suggest(self, trial_id: str):
        if len(self.in_flight) >= self.concurrency:
            return None
        if self.relaunch:
            proposal = self.relaunch.pop(0)
        elif self.budget_spent():
            return Searcher.FINISHED if not self.in_flight else None
        else:
            try:
                proposal = self.strategy.ask()
            except strategies.SpaceExhaustedError as e:
                self.exhausted = str(e)  # every architecture has been seen: the search is complete
                return Searcher.FINISHED if not self.in_flight else None
            if proposal is None:
                return None  # waiting for results the next proposal depends on
        self.in_flight[trial_id] = proposal
        self.on_running(len(self.in_flight))
        # The dataset travels separately (the object store), never inside Tune's config.
        return {"request": {k: v for k, v in self.request(proposal).__dict__.items() if k != "dataset"}}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._guarded(lambda: self._on_epoch(trial_id, result))

    def _on_epoch(self, trial_id: str, result: dict) -> None:
        if not result.get("final") and "epoch" in result:
            self.curves.setdefault(trial_id, []).append(float(result[METRIC]))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self._guarded(lambda: self._complete(trial_id, result, error))

    def _complete(self, trial_id: str, result: dict | None, error: bool) -> None:
        proposal = self.in_flight.pop(trial_id, None)
        curve = self.curves.pop(trial_id, [])
        self.on_running(len(self.in_flight))
        if proposal is None:
            return
        if result and result.get("final"):
            self.record(proposal, result, None)
        elif self.scheduler is not None and trial_id in self.scheduler.stopped:
            # The report that made ASHA stop the trial reaches only this call, not on_trial_result.
            if result and result.get("epoch", 0) > len(curve):
                curve.append(float(result[METRIC]))
            self.record(proposal, {"val_curve": curve}, CandidateStatus.STOPPED)
        elif error:
            self.record(proposal, None, CandidateStatus.FAILED)
        # otherwise interrupted (Ctrl-C): the proposal stays pending and is trained again on resume

    def save(self, checkpoint_path: str) -> None:
        pass

    def restore(self, checkpoint_path: str) -> None:
        pass


class StopOnFailure(tune.Stopper):
    """Ends the whole experiment within one controller step once the searcher has failed."""

    def __init__(self, searcher: StrategySearcher) -> None:
        self.searcher = searcher

    def __call__(self, trial_id: str, result: dict) -> bool:
        return self.searcher.failure is not None

    def stop_all(self) -> bool:
        return self.searcher.failure is not None


def make_trainable(evaluator: Evaluator, cpus: float, gpus: float, data=None, inbox=None):
    return tune.with_resources(
        tune.with_parameters(candidate_trainable, evaluator=evaluator, data=data, inbox=inbox),
        {"cpu": cpus, "gpu": gpus},
    )


def candidate_request(proposal, config) -> CandidateRequest:
    from nas.searching.joint import candidate_recipe

    arch, _ = split(proposal.arch)
    return CandidateRequest(
        proposal=proposal.id,
        arch_json=search_spaces.to_json(arch),
        space=config.space,
        space_options=config.space_options,
        # with the candidate's recipe, fitted to the data once, here
        preset=run_preset(config, candidate_recipe(config, proposal.arch)).to_dict(),
        data=config.data,
        seed=config.seed * 1_000_003
        + proposal.id,  # distinct per candidate, the same when it is trained again
        split_seed=config.seed,
        val_size=config.val_size,
        data_spec=config.data_spec,
        test_fraction=config.test_fraction,
    )
