"""`nas show` and `nas plot`: pictures of a cell and of a search's progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.commands.options import OutputOption, ResultsDir, TopKOption, arch_help
from nas.errors import UserError

PICTURE_SUFFIXES = (".png", ".svg", ".pdf")  # matplotlib writes each by the suffix


def _check_output(path: Path) -> Path:
    if path.suffix.lower() not in PICTURE_SUFFIXES:
        raise UserError(f"-o {path}: pictures are written as .png, .svg or .pdf; change the file's suffix")
    return path


def show(
    target: Annotated[
        str, typer.Argument(metavar="ARCH|RUN", help=arch_help().removesuffix(".") + "; or a run.")
    ],
    results_dir: ResultsDir = None,
    rank: Annotated[
        int | None,
        typer.Option("--rank", min=1, show_default="1", help="For a run: draw the K-th best candidate."),
    ] = None,
    output: Annotated[
        Path | None,
        OutputOption("Picture to write: .png, .svg or .pdf by its suffix.", "ARCH.png, or RUN/best_cell.png"),
    ] = None,
) -> None:
    """Draw the cells of an architecture, or of a run's best (or --rank K) candidate."""
    from nas.arch_file import is_known_cell, read_arch_file
    from nas.runs.folder import open_run
    from nas.viz.cell_diagram import save_cell_diagram
    from nas.viz.run_pictures import candidate_arch, candidate_caption

    given = Path(target)
    if given.is_file() or is_known_cell(target):
        if rank is not None:
            raise UserError(
                f"--rank picks a candidate of a run, but {target} is an architecture; drop --rank"
            )
        arch = read_arch_file(target)
        import search_spaces

        default = given.with_suffix(".png") if given.is_file() else Path(f"{target}.png")
        path = _check_output(output or default)
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
    output: Annotated[
        Path | None,
        OutputOption(
            "Picture to write: .png, .svg or .pdf by its suffix.",
            "RUN/progress.png, or results/progress_A_vs_B.png",
        ),
    ] = None,
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
    top_k: Annotated[int, TopKOption(help="With --curves: how many candidates, best first.")] = 4,
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
        _plot_curves(folders, output, top_k)
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
