"""The record of one candidate: a typed `Trial`, the Parquet schema derived from it, the candidate statuses,
the checks a reported result must pass before it is recorded, and the one ranking rule of a run."""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

METRIC = "val_accuracy"  # what candidates are ranked by, in [0, 1]


class CandidateStatus(enum.StrEnum):
    """How a candidate's training ended; the `status` column of trials.parquet holds these values. A StrEnum,
    so a member equals its plain string ("completed") and is written to Parquet and JSON as that string."""

    COMPLETED = "completed"  # trained for its whole budget; ranked
    FAILED = "failed"  # raised, diverged, lost its worker or reported an invalid result; `error` says why
    STOPPED = "stopped"  # stopped early (by the scheduler or a time limit), with a partial val_curve


@dataclass(frozen=True)
class Trial:
    """One row of trials.parquet. The field order is the column order; TRIALS_SCHEMA is derived from the
    field types, so a new column is one new field here (with a default, so older runs read back)."""

    trial_id: str
    proposal: int  # the strategy's proposal number: the order candidates were asked for
    arch: str  # search_spaces.to_json
    arch_hash: str  # search_spaces.canonical_hash
    strategy: str
    space: str
    val_curve: list[float] = field(default_factory=list)  # validation accuracy after each epoch, in [0, 1]
    val_accuracy: float | None = None  # the last entry of val_curve; None when failed
    params: int | None = None
    flops: int | None = None
    wall_s: float | None = None  # training wall time of this candidate, seconds
    images_per_s: float | None = None  # training throughput of this candidate
    status: str = CandidateStatus.FAILED  # a CandidateStatus
    error: str | None = None  # one line; None unless failed
    finished_at: float | None = None  # unix time the result arrived; orders the run's progress
    latency_ms: float | None = None  # batch-1 latency when the run's goal measured it (searching/budget.py)
    # Training-free scores at initialisation (nas.scores); None when the run did not score, or the candidate
    # could not be scored. Runs written before these columns existed read back without them.
    # One per score of nas.score_names.DEFAULT_SCORES (tests/test_scores.py checks they match).
    score_synflow: float | None = None
    score_meco: float | None = None
    score_az_expressivity: float | None = None
    # Per-epoch curves as JSON text (nas.train.curves: train/val loss and accuracy, lr); None when none.
    curves: str | None = None
    # The recipe the candidate was trained with where it differs from the preset (nas tune, nas search --tune
    # or --recipe): one column per key of nas.train.recipe.KEYS (tests/test_tune.py checks they match).
    recipe_lr: float | None = None
    recipe_batch_size: int | None = None
    recipe_weight_decay: float | None = None
    recipe_epochs: int | None = None
    recipe_images_seen: int | None = None
    recipe_label_smoothing: float | None = None
    recipe_warmup_epochs: float | None = None
    recipe_flip: str | None = None
    recipe_cutout: int | None = None
    recipe_dropout: float | None = None
    recipe_drop_path: float | None = None
    recipe_norm: str | None = None

    def to_row(self) -> dict[str, Any]:
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        row["status"] = str(row["status"])
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Trial:
        return cls(**{name: row[name] for name in TRIAL_FIELDS if name in row})


TRIAL_FIELDS = tuple(f.name for f in dataclasses.fields(Trial))
_ARROW = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    list[float]: pa.list_(pa.float64()),
}


def _arrow_type(annotation: Any) -> pa.DataType:
    """The Arrow type of a field annotation; `X | None` is X (every Arrow column is nullable)."""
    if isinstance(annotation, types.UnionType):
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    return _ARROW[annotation]


TRIALS_SCHEMA = pa.schema([(name, _arrow_type(kind)) for name, kind in typing.get_type_hints(Trial).items()])


def is_ranked(trial: Mapping[str, Any]) -> bool:
    """Whether a trials row takes part in the run's ranking: completed, with a validation accuracy."""
    return trial["status"] == CandidateStatus.COMPLETED and trial.get(METRIC) is not None


def rank_key(trial: Mapping[str, Any]) -> tuple[float, int]:
    """The ranking rule of a run: best validation accuracy first; ties go to the earlier proposal. The live
    best, RUN/best.pt, `nas results`, `Run.best` and the pictures all rank by this key."""
    return (-trial[METRIC], trial.get("proposal") or 0)


def best_of(trials) -> Mapping[str, Any] | None:
    """The best ranked trial by `rank_key`, or None."""
    return min(filter(is_ranked, trials), key=rank_key, default=None)


# -- checking what an evaluator reported --

_COUNTS = ("params", "flops")
_MEASURES = ("wall_s", "images_per_s")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _accuracy_problem(name: str, value: Any) -> str | None:
    if not _is_number(value):
        return f"{name} is {value!r} ({type(value).__name__}), not a number"
    if not math.isfinite(value):
        return f"{name} is {value}"
    if not 0.0 <= value <= 1.0:
        return f"{name} {value} is outside [0, 1]"
    return None


def result_fields(result: Mapping[str, Any]) -> dict[str, Any]:
    """The Trial fields of an evaluator's final result, checked: a result that is not a valid metric (NaN,
    infinite, outside [0, 1], missing, of the wrong type) becomes a failed candidate whose error says why,
    so one bad result never stops the search."""
    status = result.get("status", CandidateStatus.FAILED)
    completed = status == CandidateStatus.COMPLETED
    fields: dict[str, Any] = {
        "status": CandidateStatus.COMPLETED if completed else CandidateStatus.FAILED,
        "val_curve": [],
        "val_accuracy": None,
        "error": None
        if completed
        else (result.get("error") or f"the candidate ended with status {str(status)!r}"),
    }
    problems = []
    curve = result.get("val_curve") or []
    if not isinstance(curve, (list, tuple)):
        problems.append(f"val_curve is {type(curve).__name__}, not a list")
    else:
        bad = next(filter(None, (_accuracy_problem(f"val_curve[{i}]", v) for i, v in enumerate(curve))), None)
        if bad:
            problems.append(bad)
        else:
            fields["val_curve"] = [float(v) for v in curve]
    if completed:
        if METRIC not in result or result[METRIC] is None:
            problems.append("the candidate reported no validation accuracy")
        else:
            bad = _accuracy_problem(METRIC, result[METRIC])
            if bad:
                problems.append(bad)
            else:
                fields[METRIC] = float(result[METRIC])
    for name in (*_COUNTS, *_MEASURES):
        value = result.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            fields[name] = None  # not measured
        elif not _is_number(value) or not math.isfinite(value) or value < 0:
            problems.append(f"{name} is {value!r}, not a non-negative number")
            fields[name] = None
        else:
            fields[name] = int(value) if name in _COUNTS else float(value)
    curves = result.get("curves")
    fields["curves"] = curves if isinstance(curves, str) else None  # JSON text; anything else is not kept
    if completed and problems:
        fields.update(
            status=CandidateStatus.FAILED, val_accuracy=None, error="invalid result: " + "; ".join(problems)
        )
    return fields


__all__ = [
    "METRIC",
    "TRIALS_SCHEMA",
    "TRIAL_FIELDS",
    "CandidateStatus",
    "Trial",
    "best_of",
    "is_ranked",
    "rank_key",
    "result_fields",
]
