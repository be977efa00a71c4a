"""The engine's own overhead per candidate: Ray scheduling, strategy, result writing, with trivial candidates.

    python benchmarks/search_overhead.py --trials 100 --concurrency 2

Prints seconds per candidate amortised over the run (Ray start-up excluded and printed separately), and the
steady state: seconds per candidate between the first tenth of the results and the last one (the workers'
start-up and the pictures drawn at the end excluded), with the first and the last tenth of that stretch
apart, so a cost that grows with the run shows as a ratio above 1."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.runs.trial import CandidateStatus


def trivial_evaluator(request, report):
    report(1, 0.5)
    return {
        "status": CandidateStatus.COMPLETED,
        "val_curve": [0.5],
        "val_accuracy": 0.5,
        "params": 0,
        "flops": 0,
        "wall_s": 0.0,
        "images_per_s": 0.0,
        "error": None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--strategy", default="evolution")
    parser.add_argument("--space", default="nasnet")
    args = parser.parse_args()

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from nas.searching.config import make_config
    from nas.searching.driver import run_search

    started = time.perf_counter()
    ray.init(
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=tempfile.mkdtemp(prefix="nasray", dir="/tmp"),
    )
    ray_start = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as results:
        config = make_config(
            {
                "name": "overhead",
                "strategy": args.strategy,
                "space": args.space,
                "trials": args.trials,
                "concurrency": args.concurrency,
                "preset": "smoke",
                "cpus_per_trial": os.cpu_count() / args.concurrency,
                "gpus_per_trial": 0,
            }
        )
        arrived: list[float] = []
        started = time.perf_counter()
        outcome = run_search(
            config,
            results_dir=results,
            evaluator=trivial_evaluator,
            quiet=True,
            on_result=lambda row: arrived.append(time.perf_counter()),
        )
        search_s = time.perf_counter() - started
    ray.shutdown()
    import torch

    print(
        f"{outcome.progress.done} candidates ({args.strategy} on {args.space}, "
        f"concurrency {args.concurrency}) in {search_s:.1f} s: "
        f"{search_s / outcome.progress.done:.3f} s per candidate; Ray start {ray_start:.1f} s"
    )
    steady = arrived[len(arrived) // 10 :]
    tenth = max(len(steady) // 10, 1)

    def rate(times: list[float]) -> float:
        return (times[-1] - times[0]) / max(len(times) - 1, 1)

    first, last = rate(steady[: tenth + 1]), rate(steady[-tenth - 1 :])
    print(
        f"steady state {rate(steady):.3f} s per candidate (results {len(arrived) - len(steady) + 1} to "
        f"{len(arrived)}); first tenth of it {first:.3f}, last tenth {last:.3f} (ratio {last / first:.2f})"
    )
    print(
        f"python {platform.python_version()}, ray {ray.__version__}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )


if __name__ == "__main__":
    main()
