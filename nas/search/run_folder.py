"""The layout of a run folder and the record of its candidates.

results/RUN/
  config.json          the resolved run config (what `nas search --resume RUN` continues) and its provenance
  strategy_state.json  the strategy's state_dict after the last result, time spent, attempts (RunState)
  trials.parquet       one row per candidate (TRIALS_SCHEMA), rewritten atomically as results arrive
  best.pt              the best candidate so far with the weights it was trained to during the search
  final.json, final.pt the final training's record and checkpoint (`nas final RUN`)
  progress.png, best_cell.png  pictures refreshed at the end of a search
  search.log           Ray's and Tune's own log lines (start-up notices, warnings), kept off the screen
  ray/attempt-N/       Tune's experiment folder of each attempt (written by the driver only)

A new run is checked (`check_new_run`: not there yet, writable) before anything is written and created
(`create_run`) only when every other check has passed; `load_run` reads an existing one back for a resume.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from nas.atomic import atomic_path
from nas.errors import UserError
from nas.search.candidate import METRIC, CandidateStatus

if TYPE_CHECKING:
    from nas.search.config import SearchConfig

DEFAULT_RESULTS_DIR = Path("results")
STATE_FORMAT = "nas-search-state/1"
PROVENANCE_KEY = "provenance"  # config.json: versions and command line of the attempt that wrote it

TRIALS_SCHEMA = pa.schema(
    [
        ("trial_id", pa.string()),
        ("proposal", pa.int64()),  # the strategy's proposal number: the order candidates were asked for
        ("arch", pa.string()),  # search_spaces.to_json
        ("arch_hash", pa.string()),  # search_spaces.canonical_hash
        ("strategy", pa.string()),
        ("space", pa.string()),
        ("val_curve", pa.list_(pa.float64())),  # validation accuracy after each epoch, in [0, 1]
        ("val_accuracy", pa.float64()),  # the last entry of val_curve; null when failed
        ("params", pa.int64()),
        ("flops", pa.int64()),
        ("wall_s", pa.float64()),  # training wall time of this candidate, seconds
        ("images_per_s", pa.float64()),  # training throughput of this candidate
        ("status", pa.string()),  # a CandidateStatus: completed | failed | stopped (early-stopped)
        ("error", pa.string()),  # one line; null unless failed
        ("finished_at", pa.float64()),  # unix time the result arrived; orders the run's progress
        (
            "latency_ms",
            pa.float64(),
        ),  # batch-1 latency when the run's goal measured it (nas/search/budget.py)
        # Training-free scores at initialisation (nas.scores); null when the run did not score, or the
        # candidate could not be scored. Runs written before these columns existed read back without them.
        ("score_synflow", pa.float64()),
        ("score_naswot", pa.float64()),
        # Per-epoch curves as JSON text (nas.train.curves: train/val loss and accuracy, lr); null when none.
        ("curves", pa.string()),
    ]
)


def is_ranked(trial: dict[str, Any]) -> bool:
    """Whether a trials row takes part in the run's ranking: completed, with a validation accuracy."""
    return trial["status"] == CandidateStatus.COMPLETED and trial.get(METRIC) is not None


def rank_key(trial: dict[str, Any]) -> tuple[float, int]:
    """The ranking rule of a run: best validation accuracy first; ties go to the earlier proposal."""
    return (-trial[METRIC], trial.get("proposal") or 0)


def write_trials(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(
        [{name: row.get(name) for name in TRIALS_SCHEMA.names} for row in rows], schema=TRIALS_SCHEMA
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_trials(path: str | os.PathLike) -> list[dict[str, Any]]:
    try:
        return pq.read_table(path).to_pylist()
    except Exception as e:
        raise UserError(f"{path} is not a readable trials file ({type(e).__name__}: {e})") from None


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def strategy_state_path(self) -> Path:
        return self.path / "strategy_state.json"

    @property
    def trials_path(self) -> Path:
        return self.path / "trials.parquet"

    @property
    def best_checkpoint_path(self) -> Path:
        return self.path / "best.pt"

    @property
    def final_record_path(self) -> Path:
        return self.path / "final.json"

    @property
    def final_checkpoint_path(self) -> Path:
        return self.path / "final.pt"

    @property
    def progress_plot_path(self) -> Path:
        return self.path / "progress.png"

    @property
    def best_cell_path(self) -> Path:
        return self.path / "best_cell.png"

    @property
    def log_path(self) -> Path:
        return self.path / "search.log"

    def config(self) -> dict[str, Any]:
        """The run's saved settings (config.json without its provenance record)."""
        try:
            saved = json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise UserError(
                f"run {self.path} has no config.json; is it a run folder made by `nas search`?"
            ) from None
        except json.JSONDecodeError as e:
            raise UserError(f"{self.config_path} is corrupt ({e}); restore it or start a new run") from None
        saved.pop(PROVENANCE_KEY, None)
        return saved

    def trials(self) -> list[dict[str, Any]]:
        if not self.trials_path.exists():
            return []
        return read_trials(self.trials_path)

    def ranked(self) -> list[dict[str, Any]]:
        """Completed candidates, best first by `rank_key`."""
        return sorted(filter(is_ranked, self.trials()), key=rank_key)

    def candidate(self, rank: int = 1) -> dict[str, Any]:
        """The rank-th best completed candidate (1 = best)."""
        ranked = self.ranked()
        if not ranked:
            raise UserError(f"run {self.name} has no completed candidates yet")
        if not 1 <= rank <= len(ranked):
            raise UserError(
                f"--rank {rank} is out of range: run {self.name} has {len(ranked)} completed candidates"
            )
        return ranked[rank - 1]


def open_run(name_or_path: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> RunFolder:
    """Find an existing run by folder path or by name under the results folder."""
    given = Path(name_or_path)
    candidates = [given] if given.is_absolute() or given.exists() else []
    candidates.append(Path(results_dir or DEFAULT_RESULTS_DIR) / given)
    for path in candidates:
        if path.is_dir():
            return RunFolder(path)
    raise UserError(
        f"no run {str(name_or_path)!r}: looked for {' and '.join(str(p) for p in candidates)}; "
        "pass a run folder path or --results-dir"
    )


@dataclass
class RunState:
    """What survives between attempts of a run, besides trials.parquet (strategy_state.json)."""

    strategy: dict[str, Any] = field(
        default_factory=dict
    )  # the strategy's state_dict; empty before any result
    elapsed_s: float = 0.0  # search time spent by earlier attempts
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "strategy": self.strategy,
            "elapsed_s": self.elapsed_s,
            "attempts": self.attempts,
        }

    @classmethod
    def read(cls, path: Path) -> RunState:
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            if data.get("format") != STATE_FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            return cls(
                strategy=data["strategy"], elapsed_s=float(data["elapsed_s"]), attempts=int(data["attempts"])
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UserError(f"{path} is corrupt ({e}); the run cannot be resumed") from None


def run_folder_for(name: str, results_dir: str | os.PathLike | None) -> RunFolder:
    return RunFolder(Path(results_dir or DEFAULT_RESULTS_DIR).absolute() / name)


def check_new_run(name: str, results_dir: str | os.PathLike | None) -> RunFolder:
    """The folder a new run `name` will get, refused if a run of that name exists or it cannot be written;
    writes nothing."""
    run = run_folder_for(name, results_dir)
    if run.config_path.exists():
        raise UserError(
            f"run {name!r} already exists in {run.path.parent}; resume it with "
            f"`nas search --resume {name}` or choose another --name"
        )
    existing = run.path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"cannot write the run folder {run.path} ({existing} is not a writable folder); "
            "pass a writable --results-dir"
        )
    return run


def create_run(name: str, results_dir: str | os.PathLike | None) -> RunFolder:
    """Make the folder of a new run (after `check_new_run` and every other check has passed)."""
    run = check_new_run(name, results_dir)
    try:
        run.path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(
            f"cannot write the run folder {run.path} ({e.strerror}); pass a writable --results-dir"
        ) from None
    return run


def load_run(
    name: str | os.PathLike, results_dir: str | os.PathLike | None
) -> tuple[RunFolder, SearchConfig, RunState, list[dict[str, Any]]]:
    """An existing run's folder, validated config, saved state and recorded trials; reads only."""
    from nas.search.config import make_config

    run = RunFolder(open_run(name, results_dir).path.absolute())
    saved = run.config()
    try:
        config = make_config({k: v for k, v in saved.items() if k != "format"})
    except UserError as e:
        raise UserError(f"run {run.name} has an invalid config.json: {e}") from None
    return run, config, RunState.read(run.strategy_state_path), run.trials()
