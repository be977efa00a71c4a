"""Seconds per proposal of `bo` once it has N results, on NB201 (its whole 8,765-cell pool ranked each time):

    python benchmarks/bo_speed.py [--results 100 500] [--proposals 5]

The first N proposals are uniform samples (`initial=N`, no scores), answered by the synthetic table; then the
next `--proposals` model-based proposals are timed: wall time and the process's CPU time (on a machine shared
with other jobs the CPU time is the figure to trust).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

import search_spaces
import strategies
from nas.bench.synthetic_table import synthetic_nb201_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--proposals", type=int, default=5)
    args = parser.parse_args()
    import sklearn

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}; "
        f"{os.cpu_count()} CPUs, {platform.machine()}, load average {os.getloadavg()[0]:.1f}"
    )
    space = search_spaces.make_space("nb201")
    table = {space.parse(a): m for a, m in synthetic_nb201_rows(0)}
    for n in args.results:
        strategy = strategies.make_strategy("bo", space, seed=0, initial=n)
        for _ in range(n):
            p = strategy.ask()
            strategy.tell(p.id, table[p.arch])
        wall, cpu = [], []
        for _ in range(args.proposals):
            w, c = time.perf_counter(), time.process_time()
            p = strategy.ask()
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
            strategy.tell(p.id, table[p.arch])
        print(
            f"{n} results: {np.median(wall):.3f} s wall, {np.median(cpu):.3f} s CPU per proposal "
            f"(median of {args.proposals}; load average now {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
