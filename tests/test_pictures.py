"""Pictures: cell diagrams, progress plots, `nas show` / `nas plot` and refresh_run_pictures."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.image
import networkx as nx
import numpy as np
import pytest
from typer.testing import CliRunner

import search_spaces as S
from nas.atomic import write_json
from nas.cli import app, main
from nas.runs.folder import RunFolder, write_trials
from nas.viz.cell_diagram import CellPlan, layered_layout, route_edges
from nas.viz.run_pictures import refresh_run_pictures
from search_spaces.known_cells import DARTS_V2, NASNET_A
from search_spaces.nasnet import Block, Cell

SPACE_NAMES = sorted(S.SPACES)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[1]


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.01  # something was drawn, not a blank canvas


def assert_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")


def make_run(
    folder: Path, space: str, statuses: list[str], seed: int = 0, strategy: str = "random"
) -> RunFolder:
    rng = np.random.default_rng(seed)
    run = RunFolder(folder)
    write_json(run.config_path, {"name": folder.name, "strategy": strategy, "space": space})
    rows = []
    for i, status in enumerate(statuses):
        arch = S.make_space(space).sample(rng)
        acc = None if status == "failed" else float(rng.uniform(0.5, 0.9))
        rows.append(
            {
                "trial_id": f"t{i}",
                "proposal": i,
                "arch": S.to_json(arch),
                "arch_hash": S.canonical_hash(arch),
                "strategy": strategy,
                "space": space,
                "val_curve": None if acc is None else [acc],
                "val_accuracy": acc,
                "params": int(rng.integers(100_000, 5_000_000)),
                "status": status,
                "error": "boom" if status == "failed" else None,
                "finished_at": 1000.0 + 60 * i,
            }
        )
    write_trials(run.trials_path, rows)
    return run


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


# -- layout --


def assert_layered(g, pos):
    for u, v in g.edges():
        assert pos[v][0] > pos[u][0], f"{v} is not right of its predecessor {u}"


@pytest.mark.parametrize("arch", [DARTS_V2, NASNET_A], ids=["darts_v2", "nasnet_a"])
def test_layout_puts_every_node_right_of_its_predecessors(arch):
    for cell in arch.cells().values():
        g = cell.to_graph()
        pos = layered_layout(g)
        assert_layered(g, pos)
        assert pos[0][0] == pos[1][0] == min(x for x, _ in pos.values())  # both cell inputs on the left
        assert pos["output"][0] > max(
            x for n, (x, _) in pos.items() if n != "output"
        )  # output alone on the right
        assert len(set(pos.values())) == len(pos)  # no two nodes on one spot


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_layout_of_sampled_cells(name, rng):
    space = S.make_space(name)
    for _ in range(30):
        arch = space.sample(rng)
        cells = arch.cells().values() if hasattr(arch, "cells") else [arch]
        for cell in cells:
            g = cell.to_graph()
            assert_layered(g, layered_layout(g))


def test_layout_of_a_chain_and_a_shortcut():
    # Longest path decides the layer: c is 2 steps from a even though a also feeds c directly.
    g = nx.MultiDiGraph([("a", "b"), ("b", "c"), ("a", "c")])
    pos = layered_layout(g)
    assert pos["a"][0] < pos["b"][0] < pos["c"][0]


def test_layout_rejects_cycles():
    with pytest.raises(ValueError, match="acyclic"):
        layered_layout(nx.MultiDiGraph([(0, 1), (1, 0)]))


def test_parallel_edges_get_different_bends():
    # Both inputs of the block read the same state: the two edges must not be drawn on top of each other.
    g = Cell(
        (Block((0, 0), ("sep_conv_3x3", "identity")), Block((2, 1), ("identity", "identity")))
    ).to_graph()
    rads = route_edges(g, layered_layout(g))
    bends = [rad for (u, v, _), rad in rads.items() if (u, v) == (0, 2)]
    assert len(bends) == 2 and abs(bends[0] - bends[1]) >= 0.3


def test_edges_bend_around_nodes_in_their_way():
    # nb201 lays 0-1-2-3 on one line; the shortcut 0->3 must not run straight through nodes 1 and 2.
    g = S.make_space("nb201").parse(
        "|skip_connect~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|skip_connect~2|"
    )
    plan = CellPlan.of(g.to_graph())
    straight = [(u, v) for (u, v, _), rad in plan.rads.items() if rad == 0]
    assert (0, 3) not in straight and (0, 2) not in straight and (1, 3) not in straight
    assert (0, 1) in straight


# -- nas show --


@pytest.mark.parametrize("suffix", [".png", ".svg"])
@pytest.mark.parametrize("name", SPACE_NAMES)
def test_show_arch_file(tmp_path, name, suffix, rng):
    arch_file = tmp_path / "arch.json"
    arch_file.write_text(S.to_json(S.make_space(name).sample(rng)))
    out = tmp_path / f"cell{suffix}"
    result = invoke("show", arch_file, "-o", out)
    assert result.exit_code == 0, result.output
    (assert_png if suffix == ".png" else assert_svg)(out)


def test_show_arch_file_defaults_next_to_it(tmp_path):
    arch_file = tmp_path / "darts.json"
    arch_file.write_text(S.to_json(DARTS_V2))
    assert invoke("show", arch_file).exit_code == 0
    assert_png(tmp_path / "darts.png")


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_show_run_best_and_rank(tmp_path, name):
    make_run(tmp_path / "r", name, ["completed", "failed", "completed", "stopped"])
    result = invoke("show", "r", "--results-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert_png(tmp_path / "r" / "best_cell.png")
    result = invoke("show", tmp_path / "r", "--rank", "2", "-o", tmp_path / "second.svg")
    assert result.exit_code == 0, result.output
    assert_svg(tmp_path / "second.svg")


def run_main(monkeypatch, capsys, *args) -> tuple[int, str]:
    """`nas.cli.main` in this process: the entry point `nas` and `python -m nas` call, which turns a UserError
    into one line on stderr and exit code 2."""
    monkeypatch.setattr(sys, "argv", ["nas", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0]


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "odd.json").write_text(
        '{"space": "nasnet", "normal": {"blocks": []}, "reduce": {"blocks": []}}'
    )
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    make_run(tmp_path / "empty", "nb201", ["failed"])
    make_run(tmp_path / "r", "nb201", ["completed"])
    cases = [
        (("show", "nope", "--results-dir", tmp_path), ("no run 'nope'",)),
        (("show", tmp_path / "missing.json"), ("no architecture file",)),
        (("show", tmp_path / "bad.json"), ("bad.json is not a readable architecture", "JSON")),
        (("show", tmp_path / "odd.json"), ("odd.json is not a readable architecture", "block")),
        (("show", tmp_path / "binary.json"), ("cannot read architecture file",)),
        (("show", tmp_path / "r", "--rank", "5"), ("--rank 5 is out of range",)),
        (("show", tmp_path / "bad.json", "--rank", "2"), ("drop --rank",)),
        (("show", tmp_path / "empty"), ("no completed candidates",)),
        (("show", tmp_path / "r", "-o", tmp_path / "x.jpg"), (".png or .svg",)),
        (("plot", "nope", "--results-dir", tmp_path), ("no run 'nope'",)),
        (("plot", tmp_path / "empty"), ("no completed candidates",)),
    ]
    for args, words in cases:
        assert_one_line_error(*run_main(monkeypatch, capsys, *args), *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "binary.json", "empty", "odd.json", "r"]


def test_python_dash_m_nas_reports_a_missing_run(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "nas", "show", "nope", "--results-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert_one_line_error(proc.returncode, proc.stderr, "no run 'nope'")


# -- nas plot and refresh_run_pictures --


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_plot_one_run(tmp_path, name):
    make_run(tmp_path / "a", name, ["completed", "completed", "stopped", "failed", "completed"], seed=1)
    result = invoke("plot", "a", "--results-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert_png(tmp_path / "a" / "progress.png")


def test_plot_compares_runs(tmp_path):
    make_run(tmp_path / "a", "nb201", ["completed", "stopped", "failed", "completed"], seed=1)
    make_run(tmp_path / "b", "nasnet", ["completed", "completed", "completed"], seed=2, strategy="evolution")
    make_run(tmp_path / "c", "nb201", ["failed"], seed=3)  # no results yet: a legend entry, not an error
    result = invoke("plot", "a", "b", "c", "--results-dir", tmp_path, "-o", tmp_path / "compare.svg")
    assert result.exit_code == 0, result.output
    assert_svg(tmp_path / "compare.svg")
    assert invoke("plot", "a", "b", "--results-dir", tmp_path).exit_code == 0
    assert_png(tmp_path / "progress_a_vs_b.png")


def test_refresh_run_pictures_skips_runs_without_results(tmp_path):
    fresh = RunFolder(tmp_path / "fresh")
    write_json(fresh.config_path, {"name": "fresh", "strategy": "random", "space": "nasnet"})
    assert refresh_run_pictures(fresh) == []  # no trials file yet
    failed_only = make_run(tmp_path / "failed", "nasnet", ["failed", "stopped"])
    assert refresh_run_pictures(failed_only) == []
    for run in (fresh, failed_only):
        assert not run.progress_plot_path.exists() and not run.best_cell_path.exists()


def test_refresh_run_pictures_writes_both(tmp_path):
    run = make_run(tmp_path / "r", "nasnet", ["completed", "failed", "completed"])
    written = refresh_run_pictures(run)
    assert written == [run.progress_plot_path, run.best_cell_path]
    for path in written:
        assert_png(path)
    assert sorted(p.name for p in run.path.iterdir()) == [
        "best_cell.png",
        "config.json",
        "progress.png",
        "trials.parquet",
    ]  # no temp files left behind


# -- nas plot --curves and the error pictures of nas final --


def test_plot_curves_draws_train_vs_validation_of_the_top_candidates(tmp_path):
    from nas.train.curves import to_json

    run = make_run(tmp_path / "c", "nb201", ["completed", "stopped", "completed", "failed"], seed=4)
    rows = run.trials()
    for row in rows:
        if row["status"] == "completed":
            row["curves"] = to_json(
                {
                    "epoch": [1, 2, 3],
                    "train_loss": [2.0, 1.2, 0.6],
                    "train_accuracy": [0.3, 0.6, 0.95],
                    "val_loss": [2.1, 1.5, 1.4],
                    "val_accuracy": [0.25, 0.5, row["val_accuracy"]],
                    "lr": [0.1, 0.05, 0.0],
                }
            )
    write_trials(run.trials_path, rows)
    assert [r["curves"] is not None for r in run.trials()] == [True, False, True, False]  # a Parquet column
    result = invoke("plot", "c", "--results-dir", tmp_path, "--curves", "--top", "2")
    assert result.exit_code == 0, result.output
    assert_png(tmp_path / "c" / "curves.png")


def test_plot_curves_of_a_run_without_curves_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    make_run(tmp_path / "old", "nb201", ["failed"], seed=4)
    monkeypatch.setattr(sys, "argv", ["nas", "plot", "old", "--results-dir", str(tmp_path), "--curves"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "no recorded curves" in err and "\n" not in err


def test_error_pictures_are_pngs(tmp_path):
    from nas.viz.error_pictures import confusion_matrix, save_confusion_matrix, save_misclassified

    rng = np.random.default_rng(0)
    true = np.arange(50) % 5
    predicted = np.where(rng.uniform(size=50) < 0.3, (true + 1) % 5, true)
    matrix = confusion_matrix(true, predicted, 5)
    assert matrix.sum() == 50 and np.trace(matrix) == int((true == predicted).sum())
    names = ["a", "b", "c", "d", "e"]
    images = rng.integers(0, 255, (50, 8, 8, 3)).astype(np.uint8)
    save_confusion_matrix(true, predicted, names, tmp_path / "cm.png", "test")
    save_misclassified(images, true, predicted, names, tmp_path / "wrong.png", "test")
    for name in ("cm.png", "wrong.png"):
        assert_png(tmp_path / name)
