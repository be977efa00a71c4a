"""Stand-ins for candidate training in search tests: instant, deterministic, optionally failing or slow."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import search_spaces


@dataclass(frozen=True)
class FakeEvaluator:
    seconds_per_epoch: float = 0.0
    fail_every: int = 0  # proposals whose id is a multiple of this (id > 0) raise
    log_path: str | None = None  # one line per finished candidate: "proposal hash"

    def __call__(self, request, report):
        arch = search_spaces.arch_from_json(request.arch_json)
        digest = search_spaces.canonical_hash(arch)
        accuracy = int(digest[:8], 16) / 2**32  # a fixed "accuracy" per architecture, in [0, 1)
        if self.fail_every and request.proposal and request.proposal % self.fail_every == 0:
            raise RuntimeError(f"injected failure in proposal {request.proposal}")
        curve = _train(accuracy, request, report, self.seconds_per_epoch)
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(f"{request.proposal} {digest} {os.getpid()}\n")
        return _completed(curve, self.seconds_per_epoch * request.epochs)


@dataclass(frozen=True)
class NodeLoggingEvaluator:
    """The real candidate training, refusing to run without data shipped by the driver, and logging the Ray
    node each candidate starts and ends on ("start|end proposal node_id"), so a test can see a candidate
    move nodes."""

    log_path: str
    seconds_before: float = 1.0  # keeps candidates in flight long enough for a node to be lost under them

    def __call__(self, request, report):
        import ray

        from nas.searching.train_trial import evaluate_candidate

        if request.dataset is None:
            raise RuntimeError("no data shipped with the request")
        node = ray.get_runtime_context().get_node_id()
        self._log(f"start {request.proposal} {node}")
        time.sleep(self.seconds_before)
        result = evaluate_candidate(request, report)
        self._log(f"end {request.proposal} {node}")
        return result

    def _log(self, line: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(line + "\n")


@dataclass(frozen=True)
class InvalidResults:
    """FakeEvaluator, except that some proposals return a bad value for one result key (`bad`: proposal ->
    (key, value)) and `bad_report` proposals report a NaN accuracy through the per-epoch callback."""

    bad: tuple[tuple[int, str, object], ...] = ()
    bad_report: tuple[int, ...] = ()

    def __call__(self, request, report):
        if request.proposal in self.bad_report:
            report(1, float("nan"))
        result = FakeEvaluator()(request, report)
        for proposal, key, value in self.bad:
            if proposal == request.proposal:
                result[key] = value
        return result


@dataclass(frozen=True)
class RecipeEvaluator:
    """FakeEvaluator whose fixed "accuracy" depends on the recipe the candidate is trained with (the preset
    the request carries) as well as on its architecture, so recipes of one architecture differ."""

    seconds_per_epoch: float = 0.0
    log_path: str | None = None

    def __call__(self, request, report):
        import hashlib
        import json

        train, model = request.preset["train"], request.preset["model"]
        key = json.dumps([request.arch_json, train, model], sort_keys=True)
        accuracy = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32
        curve = _train(accuracy, request, report, self.seconds_per_epoch)
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(f"{request.proposal} {train['lr']} {model['norm']} {os.getpid()}\n")
        return _completed(curve, self.seconds_per_epoch * request.epochs)


def _train(accuracy: float, request, report, seconds_per_epoch: float) -> list[float]:
    """A validation curve rising linearly to `accuracy`, reported epoch by epoch as a trainer would."""
    curve = []
    for epoch in range(1, request.epochs + 1):
        time.sleep(seconds_per_epoch)
        curve.append(accuracy * epoch / request.epochs)
        report(epoch, curve[-1])
    return curve


def _completed(curve: list[float], wall_s: float) -> dict:
    return {
        "status": "completed",
        "val_curve": curve,
        "val_accuracy": curve[-1],
        "params": 1000,
        "flops": 2000,
        "wall_s": wall_s,
        "images_per_s": 1.0,
        "error": None,
    }
