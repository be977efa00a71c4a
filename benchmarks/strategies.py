"""The strategy claims of docs/benchmarks.md, computed on the synthetic NAS-Bench-201 table
(nas/bench/synthetic_table.py):

1. evolution's mean best at 100 queries beats random's (one-sided Welch t-test and Mann-Whitney U, p < 0.01);
2. rl's mean best at 200 queries beats random's (same tests);
4. bo's (strategies/bo.py, here without training-free scores) mean best at 100 queries beats random's;
3. dedupe makes evolution need fewer queries to the table's top 0.1% than evolution without it
   (medians; one-sided Mann-Whitney U with seeds that never got there ranked last).

    python benchmarks/strategies.py [--seeds 100] [--budget 200] [--table-seed 0]

Every run is seeds 0..N-1 with concurrency 1, exactly what `nas benchmark` does.
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
from nas.bench import tabular as benchmark
from nas.bench.synthetic_table import synthetic_nb201_rows


def compare(label: str, a: np.ndarray, b: np.ndarray) -> None:
    welch = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    mwu = stats.mannwhitneyu(a, b, alternative="greater")
    print(
        f"{label}: {a.mean():.3f} ± {a.std():.3f} vs {b.mean():.3f} ± {b.std():.3f}; "
        f"Welch t p = {welch.pvalue:.2e}, Mann-Whitney U p = {mwu.pvalue:.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--table-seed", type=int, default=0)
    args = parser.parse_args()

    print(
        f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, pyarrow {pa.__version__}; {os.cpu_count()} CPUs, {platform.machine()}"
    )
    space = search_spaces.make_space("nb201")
    rows = synthetic_nb201_rows(args.table_seed)
    table = benchmark.Table(
        f"synthetic-nb201-seed{args.table_seed}", "val_acc", {space.parse(a): m for a, m in rows}
    )
    print(
        f"table: {len(rows):,} rows; top 0.1% = {table.top_count} rows with val_acc >= {table.top_threshold}"
    )

    results = {}
    for dedupe in (True, False):
        names = ["random", "evolution", "rl", "bo"] if dedupe else ["evolution"]
        start = time.perf_counter()
        results[dedupe] = benchmark.run_benchmark(
            space, table, names, seeds=args.seeds, budget=args.budget, dedupe=dedupe
        )
        print(
            f"dedupe {'on' if dedupe else 'off'}: {', '.join(names)} x {args.seeds} seeds x {args.budget} "
            f"queries in {time.perf_counter() - start:.1f} s"
        )
    on, off = results[True], results[False]
    checkpoints = benchmark.checkpoints_for(args.budget)
    runs = [("random", on), ("evolution", on), ("rl", on), ("bo", on), ("evolution, no dedupe", off)]
    for name, result in runs:
        key = name.split(",")[0]
        best = result.best_so_far(key)
        reach = result.queries_to_reach(key, table.top_threshold)
        cells = ", ".join(
            f"@{q} {best[:, q - 1].mean():.3f} ± {best[:, q - 1].std():.3f}" for q in checkpoints
        )
        median = np.median(reach)
        print(
            f"{name:>20}: {cells}; median queries to top 0.1% {'> budget' if np.isinf(median) else median:}, "
            f"never reached {int(np.isinf(reach).sum())}/{args.seeds}"
        )

    print("\nclaims")
    q100 = min(100, args.budget) - 1
    compare(
        f"1. evolution vs random, best at {q100 + 1}",
        on.best_so_far("evolution")[:, q100],
        on.best_so_far("random")[:, q100],
    )
    compare(
        f"2. rl vs random, best at {args.budget}",
        on.best_so_far("rl")[:, -1],
        on.best_so_far("random")[:, -1],
    )
    compare(
        f"4. bo vs random, best at {q100 + 1}",
        on.best_so_far("bo")[:, q100],
        on.best_so_far("random")[:, q100],
    )
    with_dedupe = on.queries_to_reach("evolution", table.top_threshold)
    without = off.queries_to_reach("evolution", table.top_threshold)

    def censored(q: np.ndarray) -> np.ndarray:
        return np.where(np.isinf(q), args.budget + 1, q)  # never reached ranks last

    mwu = stats.mannwhitneyu(censored(with_dedupe), censored(without), alternative="less")
    print(
        f"3. evolution queries to top 0.1%: median {np.median(with_dedupe):g} with dedupe "
        f"(never {int(np.isinf(with_dedupe).sum())}) vs {np.median(without):g} without "
        f"(never {int(np.isinf(without).sum())}); Mann-Whitney U p = {mwu.pvalue:.2e}"
    )


if __name__ == "__main__":
    main()
