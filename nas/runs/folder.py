"""The layout of a run folder and the record of its candidates.

results/RUN/
  config.json          the resolved run config (what `nas resume RUN` continues) and its provenance
  strategy_state.json  the strategy's state_dict at the last snapshot, time spent, attempts (RunState)
  trials.parquet       one row per candidate (TRIALS_SCHEMA, nas/runs/trial.py), as of the last compaction
  trials.log.jsonl     the candidates recorded since: one JSON line each, appended as results arrive
  best.pt              the best candidate so far with the weights it was trained to during the search
  final.json, final.pt the final training's record and checkpoint (`nas final RUN`)
  progress.png, best_cell.png  pictures refreshed at the end of a search
  search.log           Ray's and Tune's own log lines (start-up notices, warnings), kept off the screen
  ray/attempt-N/       Tune's experiment folder of each attempt (written by the driver only)

Recording a result costs the same whatever the run holds: it is one line appended to trials.log.jsonl.
`compact` folds the log into trials.parquet (new-then-renamed, then the log is emptied) when a search
snapshots its state and when it ends; `trials()` reads both, so a reader never misses a result. A kill
while appending leaves a torn last line, which readers skip; a kill between the two steps of a compaction
leaves rows in both files, which readers count once.

A new run is checked (`check_new_run`: not there yet, writable) before anything is written and created
(`create_run`) only when every other check has passed.
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
from nas.runs.trial import TRIALS_SCHEMA, is_ranked, rank_key

if TYPE_CHECKING:
    from nas.runs.trial import Trial

DEFAULT_RESULTS_DIR = Path("results")
STATE_FORMAT = "nas-search-state/1"
PROVENANCE_KEY = "provenance"  # config.json: versions and command line of the attempt that wrote it


def write_trials(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(
        [{name: row.get(name) for name in TRIALS_SCHEMA.names} for row in rows], schema=TRIALS_SCHEMA
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _read_log(path: Path) -> list[dict[str, Any]]:
    """The rows of a trials log; a torn last line (a kill while appending) is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    rows = []
    for n, line in enumerate(lines):
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines) - 1:  # the last line, never finished: its result was not recorded
                continue
            raise UserError(f"{path} line {n + 1} is corrupt; remove that line to open the run") from None
    return rows


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

    @property
    def trials_log_path(self) -> Path:
        return self.path / "trials.log.jsonl"

    def trials(self) -> list[dict[str, Any]]:
        """Every recorded candidate, in the order results arrived, as TRIALS_SCHEMA rows (dicts)."""
        rows = read_trials(self.trials_path) if self.trials_path.exists() else []
        logged = _read_log(self.trials_log_path)
        if logged:
            compacted = {row["trial_id"] for row in rows}
            rows += [row for row in logged if row["trial_id"] not in compacted]
        return rows

    def append_trial(self, trial: Trial) -> None:
        """Record one candidate: a line appended to the log (flushed, not fsynced: the compaction fsyncs)."""
        with open(self.trials_log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(trial.to_row(), separators=(",", ":")) + "\n")

    def compact(self, rows: list[dict[str, Any]] | None = None) -> None:
        """Fold the log into trials.parquet; `rows`: every row of the run when the caller holds them."""
        if rows is None:
            rows = self.trials()
        if not rows and not self.trials_log_path.exists():
            return
        write_trials(self.trials_path, rows)
        self.trials_log_path.unlink(missing_ok=True)

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
            f"`nas resume {name}` or choose another --name"
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
