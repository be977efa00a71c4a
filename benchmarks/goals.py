"""The claims of docs/benchmarks.md about searching under a goal, on the synthetic NAS-Bench-201 table
(seed 0) with the cost columns computed by the engine's builder (NB201's own network, C=16, N=5):

1. under a parameter limit that excludes most of the table's best cells, constrained evolution's (and rl's,
   and bo's) best metric within the limit at 100 queries beats constrained random search's (one-sided Welch
   t-test and Mann-Whitney U over 100 seeds), and no query of any strategy exceeds the limit;
2. with objectives (val_acc, params), multi-objective evolution's hypervolume at 200 queries beats random
   search's (same tests, 100 seeds).

    python benchmarks/goals.py [--seeds 100] [--max-params 400000] [--figures results/examples]

Every run is seeds 0..N-1 with concurrency 1, exactly what `nas benchmark` does with the same options.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import pyarrow as pa
import scipy
import torch
from scipy import stats

import search_spaces
from nas.bench import budgeted
from nas.bench import tabular as benchmark
from nas.bench.synthetic_table import synthetic_nb201_rows
from nas.viz.front_plot import plot_fronts
from nas.viz.progress_plot import plot_curves
from strategies.objectives import Goal, pareto_mask

NAMES = ["random", "evolution", "rl", "bo"]


def compare(label: str, a: np.ndarray, b: np.ndarray) -> None:
    welch = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    mwu = stats.mannwhitneyu(a, b, alternative="greater")
    print(
        f"{label}: {a.mean():.4f} ± {a.std():.4f} vs {b.mean():.4f} ± {b.std():.4f}; "
        f"Welch t p = {welch.pvalue:.2e}, Mann-Whitney U p = {mwu.pvalue:.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--max-params", type=float, default=400_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--figures", default="results/examples")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, pyarrow {pa.__version__}; {os.cpu_count()} CPUs, {platform.machine()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    space = search_spaces.make_space("nb201")
    table = benchmark.Table(
        "synthetic-nb201-seed0", "val_acc", {space.parse(a): m for a, m in synthetic_nb201_rows(0)}
    )
    start = time.perf_counter()
    table = budgeted.attach_costs(table, space)
    print(
        f"cost columns for {len(table.metrics):,} cells: {time.perf_counter() - start:.1f} s (cache: see log)"
    )

    # 1. a parameter limit
    goal = Goal(limits={"params": args.max_params})
    inside = budgeted.within_limits(table, goal)
    ranked = sorted(table.metrics, key=table.metrics.get, reverse=True)
    top = ranked[: len(ranked) // 100]
    excluded = sum(table.costs[a]["params"] > args.max_params for a in top)
    print(
        f"\n1. params <= {args.max_params:,.0f}: {len(inside.metrics):,} of {len(table.metrics):,} cells "
        f"({100 * len(inside.metrics) / len(table.metrics):.0f}%) within; it excludes {excluded} of the "
        f"{len(top)} best cells (top 1%); best within {max(inside.metrics.values()):.3f}, best overall "
        f"{table.metrics[ranked[0]]:.3f}"
    )
    start = time.perf_counter()
    limited = benchmark.run_benchmark(
        space, table, NAMES, seeds=args.seeds, budget=100, goal=goal, workers=args.workers
    )
    print(f"   {', '.join(NAMES)} x {args.seeds} seeds x 100 queries: {time.perf_counter() - start:.1f} s")
    worst = max(float(limited.costs[n][..., 0].max()) for n in NAMES)
    print(f"   largest params of any query: {worst:,.0f} (limit {args.max_params:,.0f})")
    for name in NAMES:
        best = limited.best_so_far(name)
        print(
            f"   {name:>9}: best within the limit @25 {best[:, 24].mean():.3f}, "
            f"@50 {best[:, 49].mean():.3f}, "
            f"@100 {best[:, 99].mean():.3f} ± {best[:, 99].std():.3f}"
        )
    compare(
        "   evolution vs random, best @100",
        limited.best_so_far("evolution")[:, 99],
        limited.best_so_far("random")[:, 99],
    )
    compare(
        "   rl vs random, best @100", limited.best_so_far("rl")[:, 99], limited.best_so_far("random")[:, 99]
    )
    compare(
        "   bo vs random, best @100", limited.best_so_far("bo")[:, 99], limited.best_so_far("random")[:, 99]
    )
    x = np.arange(10, 101)  # from query 10: the first few queries would squash the differences that matter
    plot_curves(
        {n: (x, limited.best_so_far(n)[:, 9:].mean(0), limited.best_so_far(n)[:, 9:].std(0)) for n in NAMES},
        os.path.join(args.figures, "goal_limit_best.png"),
        xlabel="queries (table lookups of new architectures)",
        ylabel="best val_acc within the limit so far (%)",
        title=f"params <= {args.max_params:,.0f}: mean ± std over {args.seeds} seeds (synthetic NB201 table)",
    )

    # 2. two objectives
    pareto = budgeted.with_targets(Goal(("val_accuracy", "params")), table)
    start = time.perf_counter()
    multi = benchmark.run_benchmark(
        space, table, NAMES, seeds=args.seeds, budget=200, goal=pareto, workers=args.workers
    )
    print(
        f"\n2. objectives val_acc, params (REINFORCE target {pareto.targets['params']:,.0f} params): "
        f"{', '.join(NAMES)} x {args.seeds} seeds x 200 queries: {time.perf_counter() - start:.1f} s"
    )
    norm = budgeted.Normaliser.of(table, pareto)
    checkpoints = [25, 50, 100, 200]
    volumes = budgeted.hypervolume_at(multi, norm, checkpoints)
    print(
        f"   the table's own front: hypervolume {budgeted.table_front_hypervolume(table, pareto, norm):.4f}"
    )
    for name in NAMES:
        cells = ", ".join(
            f"@{q} {v.mean():.4f} ± {v.std():.4f}" for q, v in zip(checkpoints, volumes[name].T)
        )
        print(f"   {name:>9}: hypervolume {cells}")
    compare("   evolution vs random, hypervolume @200", volumes["evolution"][:, -1], volumes["random"][:, -1])
    compare("   rl vs random, hypervolume @200", volumes["rl"][:, -1], volumes["random"][:, -1])
    compare("   bo vs random, hypervolume @200", volumes["bo"][:, -1], volumes["random"][:, -1])
    budgeted.plot_hypervolume(multi, table, os.path.join(args.figures, "goal_pareto_hypervolume.png"))
    points = np.array([[table.costs[a]["params"] / 1e6, m] for a, m in table.metrics.items()])
    fronts = {}
    for name in ("random", "evolution"):
        seed0 = np.stack([multi.costs[name][0, :, 0] / 1e6, multi.metrics[name][0]], 1)
        fronts[name] = seed0[pareto_mask(np.stack([seed0[:, 0], -seed0[:, 1]], 1))]
    plot_fronts(
        points,
        fronts,
        os.path.join(args.figures, "goal_pareto_fronts.png"),
        xlabel="parameters (millions, log scale; NB201 network C=16, N=5)",
        ylabel="val_acc (%)",
        title="fronts after 200 queries, seed 0 (synthetic NB201 table)",
    )
    print(f"\nwrote {args.figures}/goal_limit_best.png, goal_pareto_hypervolume.png, goal_pareto_fronts.png")


if __name__ == "__main__":
    main()
