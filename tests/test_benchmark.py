"""Tabular benchmark mode: the synthetic table, the library, and `nas benchmark` end to end."""

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

import search_spaces as S
from nas.bench import tabular as B
from nas.bench.synthetic_table import synthetic_nb201_rows, write_table
from nas.cli import main
from search_spaces.nb201 import EDGES, OPS, Nb201Arch


@pytest.fixture(scope="module")
def rows():
    return synthetic_nb201_rows(0)


@pytest.fixture(scope="module")
def table_files(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("tables")
    table = pa.table({"arch": [a for a, _ in rows], "val_acc": [m for _, m in rows]})
    write_table(table, folder / "synth.csv")
    write_table(table, folder / "synth.parquet")
    return folder


@pytest.fixture(scope="module")
def table(table_files):
    return B.load_table(table_files / "synth.parquet", S.make_space("nb201"), "arch", "val_acc")


def run_cli(args, capsys):
    with mock.patch.object(sys, "argv", ["nas", *map(str, args)]), pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code or 0, captured.out, captured.err


# -- the synthetic table --


def test_synthetic_table_is_deterministic_and_covers_the_space(rows):
    assert len(rows) == 5**6 == len({a for a, _ in rows})
    assert synthetic_nb201_rows(0) == rows
    assert synthetic_nb201_rows(1) != rows
    acc = np.array([m for _, m in rows])
    assert 10 <= acc.min() and acc.max() <= 94
    assert 80 < np.median(acc) < 88  # most cells train fine, as in NAS-Bench-201
    dead = Nb201Arch(("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "none", "none", "none"))
    assert dict(rows)[str(dead)] < 11  # nothing reaches the output: chance level


def test_synthetic_table_has_the_intended_structure(rows):
    archs = [Nb201Arch.parse(a) for a, _ in rows]
    acc = np.array([m for _, m in rows])
    ops = np.array([[OPS.index(op) for op in a.ops] for a in archs])
    into_3 = EDGES.index((2, 3))
    none, skip, conv3 = OPS.index("none"), OPS.index("skip_connect"), OPS.index("nor_conv_3x3")
    assert acc[ops[:, into_3] == none].mean() < acc[ops[:, into_3] != none].mean() - 5
    top = np.argsort(-acc)[:16]
    assert (ops[top, EDGES.index((0, 3))] == skip).mean() >= 0.75  # a residual shortcut
    assert (ops[top, into_3] == conv3).mean() >= 0.5
    # Interactions: an additive model over (edge, op) leaves far more than the 0.2-point noise unexplained.
    live = acc > 11
    features = np.zeros((live.sum(), len(EDGES) * len(OPS) + 1))
    features[:, -1] = 1
    for e in range(len(EDGES)):
        features[np.arange(live.sum()), e * len(OPS) + ops[live, e]] = 1
    coef, *_ = np.linalg.lstsq(features, acc[live], rcond=None)
    assert np.std(acc[live] - features @ coef) > 1.0


def test_synthetic_table_command_writes_csv(tmp_path, capsys, rows):
    code, out, _ = run_cli(["synthetic-table", tmp_path / "t.csv"], capsys)
    assert code == 0 and "15,625" in out
    loaded = B.load_table(tmp_path / "t.csv", S.make_space("nb201"), "arch", "val_acc")
    assert {str(a): m for a, m in loaded.metrics.items()} == dict(rows)


# -- the library --


def test_table_lookup_and_top_threshold(table, rows):
    assert len(table.metrics) == 15_625 and table.top_count == 16
    assert sorted((m for _, m in rows), reverse=True)[15] == table.top_threshold
    arch = S.make_space("nb201").parse(rows[7][0])
    assert table.lookup(arch) == rows[7][1]


def test_result_curves(table):
    result = B.run_benchmark(S.make_space("nb201"), table, ["random", "evolution"], seeds=3, budget=40)
    for name in ("random", "evolution"):
        best = result.best_so_far(name)
        assert best.shape == (3, 40) and (np.diff(best, axis=1) >= 0).all()
        reach = result.queries_to_reach(name, table.top_threshold)
        for seed, q in enumerate(reach):
            hits = np.flatnonzero(result.metrics[name][seed] >= table.top_threshold)
            assert q == (hits[0] + 1 if len(hits) else np.inf)
    again = B.run_benchmark(S.make_space("nb201"), table, ["evolution"], seeds=3, budget=40)
    np.testing.assert_array_equal(again.metrics["evolution"], result.metrics["evolution"])


def test_worker_processes_give_the_same_curves(table):
    space = S.make_space("nb201")
    serial = B.run_benchmark(space, table, ["rl", "evolution"], seeds=3, budget=25, workers=1)
    parallel = B.run_benchmark(space, table, ["rl", "evolution"], seeds=3, budget=25, workers=2)
    for name in ("rl", "evolution"):
        np.testing.assert_array_equal(serial.metrics[name], parallel.metrics[name])
    assert serial.cache_hits == parallel.cache_hits


def test_evolution_beats_random_on_the_synthetic_table(table):
    """A small version of the claim in docs/benchmarks.md (benchmarks/strategies.py runs it with 100 seeds).
    The seeds are fixed, so this is a deterministic check, and the margin is large: p is ~1e-4 where 0.01 is
    asked."""
    result = B.run_benchmark(S.make_space("nb201"), table, ["random", "evolution"], seeds=20, budget=100)
    random_best = result.best_so_far("random")[:, -1]
    evolution_best = result.best_so_far("evolution")[:, -1]
    assert stats.mannwhitneyu(evolution_best, random_best, alternative="greater").pvalue < 0.01


# -- the command --


def test_benchmark_command_writes_curves_and_plot(table_files, tmp_path, capsys):
    out_file, plot_file = tmp_path / "curves.parquet", tmp_path / "curves.png"
    code, out, err = run_cli(
        [
            "benchmark",
            "--table",
            table_files / "synth.csv",
            "--arch-column",
            "arch",
            "--metric-column",
            "val_acc",
            "--strategy",
            "random,evolution,rl",
            "--seeds",
            "2",
            "--trials",
            "30",
            "--output",
            out_file,
            "--plot",
            plot_file,
        ],
        capsys,
    )
    assert code == 0, err
    assert "best @25" in out and "best @50" not in out
    for name in ("random", "evolution", "rl"):
        assert name in out
    curves = pq.read_table(out_file)
    assert curves.column_names == ["strategy", "seed", "query", "metric", "best_so_far"]
    data = curves.to_pydict()
    assert len(data["query"]) == 3 * 2 * 30
    assert data["query"][:30] == list(range(1, 31)) and set(data["seed"]) == {0, 1}
    metric = np.array(data["metric"]).reshape(3, 2, 30)
    np.testing.assert_array_equal(np.maximum.accumulate(metric, axis=2).ravel(), data["best_so_far"])
    assert plot_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_dedupe_spends_queries_on_repeats(table_files, tmp_path, capsys):
    code, out, _ = run_cli(
        [
            "benchmark",
            "--table",
            table_files / "synth.parquet",
            "--strategy",
            "evolution",
            "--seeds",
            "1",
            "--trials",
            "150",
            "--no-dedupe",
        ],
        capsys,
    )
    assert code == 0 and "dedupe off" in out


def bad_csv(tmp_path, rows, bad_row: int, text: str):
    lines = ["arch,val_acc"] + [f"{a},{m}" for a, m in rows[:5]]
    lines[bad_row] = text
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["--metric-column", "acc"], "has no column 'acc' (--metric-column); its columns are arch, val_acc"),
        (["--arch-column", "cell"], "has no column 'cell' (--arch-column)"),
        (
            ["--strategy", "random,bayes"],
            "--strategy: unknown strategy 'bayes'; choose from bo, evolution, grid, random, rl",
        ),
        (["--seeds", "0"], "--seeds must be at least 1, got 0"),
        (["--output", "x.csv"], "--output 'x.csv' must end in .parquet"),
        (["--space", "darts"], "--space: 'darts' is not one of 'nasnet', 'nb201'"),
    ],
)
def test_benchmark_option_errors(table_files, capsys, args, message):
    code, out, err = run_cli(["benchmark", "--table", table_files / "synth.parquet", *args], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_benchmark_table_errors(tmp_path, capsys, rows):
    code, _, err = run_cli(["benchmark", "--table", tmp_path / "missing.csv"], capsys)
    assert code == 2 and err.count("\n") == 1 and "missing.csv does not exist" in err

    path = bad_csv(tmp_path, rows, 3, "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|,50.0")
    code, _, err = run_cli(["benchmark", "--table", path], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "bad.csv row 3 (1 = first data row): 'arch' is not a nb201 architecture" in err and "'conv'" in err

    path = bad_csv(tmp_path, rows, 2, f"{rows[1][0]},n/a")
    code, _, err = run_cli(["benchmark", "--table", path], capsys)
    assert code == 2 and "row 2 (1 = first data row): 'val_acc' must be a finite number" in err


def test_a_table_of_part_of_the_space_is_searched_through_its_rows(tmp_path, capsys, rows):
    """A sample of the space (as ../shared/datasets/nb201_sample): every strategy proposes only its rows."""
    path = tmp_path / "partial.csv"
    kept = rows[::40]
    path.write_text("arch,val_acc\n" + "".join(f"{a},{m}\n" for a, m in kept))
    output = tmp_path / "out.parquet"
    args = ["benchmark", "--table", path, "--seeds", "2", "--budget", "30", "--workers", "1"]
    code, out, _ = run_cli([*args, "--strategies", "random,evolution,rl,bo", "--output", output], capsys)
    assert code == 0 and "best @25" in out
    listed = {m for _, m in kept}
    assert set(pq.read_table(output).column("metric").to_pylist()) <= listed


def test_arch_missing_from_table_is_a_clear_error():
    space = S.make_space("nb201")
    table = B.Table("partial.csv", "val_acc", {space.parse(rows_of_one()): 50.0})
    with pytest.raises(B.UserError, match="partial.csv has no row for architecture .* must list every"):
        table.lookup(space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"))


def rows_of_one() -> str:
    return "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def test_exit_code_from_a_real_process(tmp_path):
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "nas", "benchmark", "--table", str(tmp_path / "nope.parquet")],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    assert done.returncode == 2
    missing = tmp_path / "nope.parquet"
    expected = f"error: table file {missing} does not exist; pass --table with a .csv or .parquet file"
    assert done.stderr.strip().splitlines() == [expected]
