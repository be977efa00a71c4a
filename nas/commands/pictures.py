"""`nas show` and `nas plot`: pictures of a cell and of a search's progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import ResultsDir
from nas.errors import UserError

PICTURE_SUFFIXES = (".png", ".svg")

Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Picture to write; .png or .svg by its suffix.")
]


def _check_output(path: Path) -> Path:
    if path.suffix.lower() not in PICTURE_SUFFIXES:
        raise UserError(f"-o {path}: pictures are written as .png or .svg; change the file's suffix")
    return path


def show(
    target: Annotated[
        str, typer.Argument(metavar="ARCH.json|RUN", help="An architecture JSON file, or a run.")
    ],
    results_dir: ResultsDir = None,
    rank: Annotated[
        int | None, typer.Option("--rank", min=1, help="For a run: draw the K-th best candidate (default 1).")
    ] = None,
    output: Output = None,
) -> None:
    """Draw the cells of an architecture, or of a run's best (or --rank K) candidate."""
    from nas.arch_file import read_arch_file
    from nas.runs.folder import open_run
    from nas.viz.cell_diagram import save_cell_diagram
    from nas.viz.run_pictures import candidate_arch, candidate_caption

    given = Path(target)
    if given.is_file():
        if rank is not None:
            raise UserError(
                f"--rank picks a candidate of a run, but {target} is an architecture file; drop --rank"
            )
        arch = read_arch_file(given)
        import search_spaces

        path = _check_output(output or given.with_suffix(".png"))
        save_cell_diagram(
            arch,
            path,
            title=given.name,
            caption=f"{arch.space} architecture, hash {search_spaces.canonical_hash(arch)}",
        )
    else:
        if given.suffix.lower() == ".json":
            raise UserError(f"no architecture file {target}; check the path")
        run = open_run(target, results_dir)
        rank = rank or 1
        trial = run.candidate(rank)
        default = run.best_cell_path if rank == 1 else run.path / f"rank{rank}_cell.png"
        path = _check_output(output or default)
        title = f"Best cell of {run.name}" if rank == 1 else f"Rank {rank} cell of {run.name}"
        save_cell_diagram(
            candidate_arch(trial), path, title=title, caption=candidate_caption(run, trial, rank)
        )
    typer.echo(f"wrote {path}")


def plot(
    runs: Annotated[list[str], typer.Argument(metavar="RUN...", help="One or more runs, by name or folder.")],
    results_dir: ResultsDir = None,
    output: Output = None,
    scores: Annotated[
        bool,
        typer.Option("--scores", help="Plot training-free scores vs validation accuracy instead (one run)."),
    ] = False,
    curves: Annotated[
        bool,
        typer.Option(
            "--curves",
            help="Plot train vs validation loss and accuracy per epoch of the top candidates instead "
            "(one run).",
        ),
    ] = False,
    top: Annotated[
        int, typer.Option("--top", min=1, help="With --curves: how many candidates, best first.")
    ] = 4,
) -> None:
    """Plot search progress: best accuracy so far vs candidates and vs time, and accuracy vs size."""
    from nas.runs.folder import DEFAULT_RESULTS_DIR, open_run
    from nas.viz.progress_plot import plot_progress

    folders = [open_run(name, results_dir) for name in runs]
    if scores and curves:
        raise UserError("--scores and --curves draw different pictures; give one of them")
    if scores:
        _plot_scores(folders, output)
        return
    if curves:
        _plot_curves(folders, output, top)
        return
    if output is None:
        if len(folders) == 1:
            output = folders[0].progress_plot_path
        else:
            output = (
                Path(results_dir or DEFAULT_RESULTS_DIR)
                / f"progress_{'_vs_'.join(f.name for f in folders)}.png"
            )
    path = plot_progress(folders, _check_output(output))
    typer.echo(f"wrote {path}")


def _plot_curves(folders, output: Path | None, top: int) -> None:
    from nas.viz.curves_plot import plot_curves

    if len(folders) != 1:
        raise UserError("--curves plots one run; give a single RUN")
    path = plot_curves(folders[0], _check_output(output or folders[0].path / "curves.png"), top)
    typer.echo(f"wrote {path}")


def _plot_scores(folders, output: Path | None) -> None:
    from nas.viz.score_plot import plot_scores

    if len(folders) != 1:
        raise UserError("--scores plots one run; give a single RUN")
    path = plot_scores(folders[0], _check_output(output or folders[0].path / "scores.png"))
    typer.echo(f"wrote {path}")
