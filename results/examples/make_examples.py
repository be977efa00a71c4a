"""Rebuild the example pictures in this folder: `python results/examples/make_examples.py` from the repo root.

The progress plot is drawn from two SYNTHETIC runs (made-up accuracies, sizes and times from a fixed seed) so
the docs can show the plot before a real search has run; its file name says so. The cells are real: DARTS-V2
as published, and a 5-block nasnet architecture and an NB201 cell sampled with NB201_SEED.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

import search_spaces
from nas.atomic import write_json
from nas.runs.folder import RunFolder, write_trials
from nas.runs.trial import CandidateStatus
from nas.viz.cell_diagram import save_cell_diagram
from nas.viz.progress_plot import plot_progress
from search_spaces.known_cells import DARTS_V2

HERE = Path(__file__).parent
SEED = 0
NB201_SEED = 9  # a cell with one "none" edge and four different ops, so the picture shows most of the key


def synthetic_run(
    folder: Path, strategy: str, learns: bool, rng: np.random.Generator, n: int = 60
) -> RunFolder:
    """A run folder of made-up results: `learns` runs drift towards higher accuracy as candidates arrive."""
    space = search_spaces.make_space("nasnet")
    run = RunFolder(folder)
    write_json(
        run.config_path, {"name": folder.name, "strategy": strategy, "space": "nasnet", "synthetic": True}
    )
    rows, clock = [], 1_700_000_000.0
    for i in range(n):
        arch = space.sample(rng)
        params = float(np.exp(rng.normal(np.log(2.0e6), 0.45)))
        clock += float(rng.uniform(40, 110))  # seconds between results
        status = CandidateStatus(rng.choice(list(CandidateStatus), p=[0.84, 0.06, 0.10]))
        drift = 0.03 * (1 - np.exp(-i / 20)) if learns else 0.0
        acc = 0.88 + 0.012 * np.log(params / 1e6) + drift + float(rng.normal(0, 0.012))
        if status == CandidateStatus.STOPPED:
            acc -= 0.08  # stopped runs report an early-epoch accuracy
        rows.append(
            {
                "trial_id": f"t{i:03d}",
                "proposal": i,
                "arch": search_spaces.to_json(arch),
                "arch_hash": search_spaces.canonical_hash(arch),
                "strategy": strategy,
                "space": "nasnet",
                "val_curve": None if status == CandidateStatus.FAILED else [acc],
                "val_accuracy": None if status == CandidateStatus.FAILED else acc,
                "params": int(params),
                "flops": None,
                "wall_s": None,
                "images_per_s": None,
                "status": str(status),
                "error": "synthetic failure" if status == CandidateStatus.FAILED else None,
                "finished_at": clock,
            }
        )
    write_trials(run.trials_path, rows)
    return run


def main() -> None:
    rng = np.random.default_rng(SEED)
    save_cell_diagram(
        DARTS_V2,
        HERE / "darts_v2_cells.png",
        title="DARTS-V2 cells",
        caption="search_spaces.known_cells.DARTS_V2 (Liu et al. 2019, figs. 4-5)",
    )
    nasnet = search_spaces.make_space("nasnet").sample(rng)
    save_cell_diagram(
        nasnet,
        HERE / "nasnet_sampled_cells.png",
        title="A sampled 5-block nasnet architecture",
        caption=f"make_space('nasnet').sample(default_rng({SEED})), hash "
        f"{search_spaces.canonical_hash(nasnet)}",
    )
    nb201 = search_spaces.make_space("nb201").sample(np.random.default_rng(NB201_SEED))
    save_cell_diagram(nb201, HERE / "nb201_cell.png", title="An NB201 cell", caption=str(nb201))

    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            synthetic_run(Path(tmp) / "synthetic-random", "random", False, np.random.default_rng(1)),
            synthetic_run(Path(tmp) / "synthetic-evolution", "evolution", True, np.random.default_rng(2)),
        ]
        plot_progress(
            runs,
            HERE / "progress_synthetic.png",
            title="SYNTHETIC DATA: made-up results from a fixed seed, to show the plot's layout",
        )
    shutil.rmtree(HERE / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
