"""One candidate's evaluation, as the search sends it to a Ray worker: a plain, picklable request and the
function that trains the candidate and reports each epoch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from nas.runs.trial import METRIC

REPORTED = "reported_" + METRIC  # the evaluator's validation accuracy as returned, before any check

if TYPE_CHECKING:
    from nas.train.data_spec import DataSpec

EpochReport = Callable[[int, float], None]  # (epoch counted from 1, validation accuracy in [0, 1])


@dataclass(frozen=True)
class CandidateRequest:
    proposal: int
    arch_json: str
    space: str
    space_options: dict[str, Any] = field(default_factory=dict)
    preset: dict[str, Any] = field(default_factory=dict)  # Preset.to_dict(), already fitted to the data
    data: str | None = None
    seed: int = 0  # this candidate's training seed
    split_seed: int = 0  # the run's seed: every candidate is validated on the same held-out images
    val_size: int | None = None
    data_spec: DataSpec | None = None  # what the run's data resolved to; None: CIFAR-10 (no data read)
    test_fraction: float = 0.2  # own data: share of each class tested when --data is one folder per class
    # The run's training/validation images (nas.train.data.Splits), filled in on the worker from Ray's object
    # store; None: read `data` from this machine's disk.
    dataset: Any = field(default=None, compare=False, repr=False)

    @property
    def epochs(self) -> int:
        return int(self.preset["train"]["epochs"])


class Evaluator(Protocol):
    def __call__(self, request: CandidateRequest, report: EpochReport) -> dict[str, Any]:
        """Train and measure the candidate; return at least status (CandidateStatus: completed or failed),
        val_curve, val_accuracy, params, flops, wall_s, images_per_s and error; optionally "weights", the
        trained state_dict as torch.save bytes (sent back through Ray). Must not raise for a bad candidate."""
        ...
