"""The engine's strategies and Optuna's samplers side by side on one table, same protocol, same seeds:

    python benchmarks/peers.py --table synth.csv [--seeds 100] [--budget 100] [--max-params 400000]
    python benchmarks/peers.py --table ../shared/datasets/nb201_sample/nats_tss_cifar10_1000.csv \\
        --metric-column test_acc_200ep --scores results/examples/scores_nb201_1000.parquet

Engine: `nas benchmark`'s own runs (nas.bench.tabular.run_benchmark, concurrency 1, seeds 0..N-1; `bo` gets
the table's scores with --scores). Peers: Optuna's TPESampler (`tpe`) and RandomSampler (`optuna-random`, the
control), seeded with the same seed, one categorical parameter per decision of the space (NB201: the op of
each edge). A table that lists only part of the space (the NB201 sample) is searched through its rows: a
peer's suggestion is mapped to the nearest row, as REINFORCE's decisions are (nas/bench/table_space.py).

Protocol, as the engine's: a query is the first lookup of a new cell. A peer's repeat of a cell it already
had (TPE repeats often on a small space) is told the cached value and is not a query; with --count-repeats
every suggestion is a query, repeats too (the protocol of the figures in issue 18's table). Under a limit,
Optuna gets a constraint function (params - limit <= 0); a suggestion outside the limit is told the table's
worst metric, is not a query (its cost is known without training, as the engine's strategies know it) and
is not looked up. A peer that makes 100 x budget suggestions in a row without a new query is stopped there
(its remaining queries repeat its best).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from multiprocessing import get_context

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

import search_spaces
from nas.bench import budgeted
from nas.bench import tabular as benchmark
from nas.bench.table_space import covering_space
from strategies.objectives import Goal

PEERS = ("tpe", "optuna-random")


def run_peer(name, space, table, goal, seed: int, budget: int, count_repeats: bool):
    """(metrics of the queries, repeats answered from the cache, suggestions outside the limits)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sizes = space.decisions()
    worst = min(table.metrics.values())

    def constraints(trial):
        return trial.user_attrs["constraint"]

    kwargs = {"seed": seed}
    if goal is not None:
        kwargs["constraints_func"] = constraints
    sampler = (
        optuna.samplers.TPESampler(**kwargs) if name == "tpe" else optuna.samplers.RandomSampler(seed=seed)
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    seen: dict[str, float] = {}
    out: list[float] = []
    repeats = outside = idle = 0
    while len(out) < budget and idle < 100 * budget:
        trial = study.ask()
        choices = [trial.suggest_categorical(f"d{i}", list(range(n))) for i, n in enumerate(sizes)]
        arch = space.decode(choices)
        violation = 0.0
        if goal is not None:
            costs = table.costs[arch]
            violation = max(float(costs[k]) / v - 1.0 for k, v in goal.limits.items())
        trial.set_user_attr("constraint", [violation])
        if violation > 0:
            outside += 1
            idle += 1
            study.tell(trial, worst)
            continue
        h = search_spaces.canonical_hash(arch)
        if h in seen:
            repeats += 1
            if not count_repeats:
                idle += 1
                study.tell(trial, seen[h])
                continue
            value = seen[h]
        else:
            value = seen[h] = table.lookup(arch)
        out.append(value)
        idle = 0
        study.tell(trial, value)
    while len(out) < budget:
        out.append(max(out) if out else worst)
    return np.array(out), repeats, outside


def _peer_job(job):
    return run_peer(*job)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--table", required=True, help="CSV or Parquet table (nas synthetic-table writes one)"
    )
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--arch-column", default="arch")
    parser.add_argument("--metric-column", default="val_acc")
    parser.add_argument("--strategies", default="random,evolution,rl,bo")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--max-params", type=float, default=None)
    parser.add_argument("--scores", default=None, help="training-free scores of the rows, for bo")
    parser.add_argument("--score-data", default=os.environ.get("NAS_DATA"))
    parser.add_argument("--count-repeats", action="store_true", help="a peer's repeats are queries too")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    import optuna
    import sklearn
    from rich.console import Console

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, optuna {optuna.__version__}, "
        f"scikit-learn {sklearn.__version__}; {os.cpu_count()} CPUs, {platform.machine()}"
    )
    base = search_spaces.make_space(args.space)
    loaded = benchmark.load_table(args.table, base, args.arch_column, args.metric_column)
    goal = None
    full = loaded
    if args.max_params is not None:
        goal = Goal(limits={"params": args.max_params})
        full = budgeted.attach_costs(loaded, base)
        loaded = budgeted.within_limits(full, goal)
    features = None
    if args.scores:
        from nas.bench.warm_start import table_features

        found = table_features(base, full, args.scores, args.score_data, args.arch_column)
        features = benchmark.Features(found.order, found.records)
    space = covering_space(base, list(full.metrics))
    names = [n for n in args.strategies.split(",") if n]

    start = time.perf_counter()
    engine = benchmark.run_benchmark(
        space,
        full,
        names,
        seeds=args.seeds,
        budget=args.budget,
        workers=args.workers,
        goal=goal,
        features=features,
    )
    engine_s = time.perf_counter() - start
    start = time.perf_counter()
    jobs = [
        (p, space, full, goal, s, args.budget, args.count_repeats) for p in PEERS for s in range(args.seeds)
    ]
    if args.workers > 1:
        with get_context("fork").Pool(args.workers) as pool:
            outcomes = pool.map(_peer_job, jobs)
    else:
        outcomes = [_peer_job(j) for j in jobs]
    peers_s = time.perf_counter() - start
    metrics, hits = dict(engine.metrics), dict(engine.cache_hits)
    notes = []
    for peer in PEERS:
        mine = [o for j, o in zip(jobs, outcomes) if j[0] == peer]
        metrics[peer] = np.stack([m for m, _, _ in mine])
        hits[peer] = sum(r for _, r, _ in mine)
        outside = sum(o for _, _, o in mine)
        if outside:
            notes.append(f"{peer}: {outside} suggestions outside the limit (not queries)")
    result = benchmark.BenchmarkResult(args.budget, engine.seeds, metrics, hits)
    console = Console(width=200)
    console.print(
        benchmark.render_summary(
            benchmark.summarize(result, loaded),
            result,
            loaded,
            dedupe=True,
            wall_s=engine_s + peers_s,
            workers=args.workers,
        )
    )
    repeats = "every suggestion counted, repeats too" if args.count_repeats else "repeats not counted"
    print(
        f"peers: {repeats}; 'cache answers' of a peer = its repeats told from the cache. "
        f"engine {engine_s:.1f} s, peers {peers_s:.1f} s"
    )
    for note in notes:
        print(note)
    top1 = sorted(loaded.metrics.values(), reverse=True)[max(1, len(loaded.metrics) // 100) - 1]
    print(f"median queries to the top 1% (metric >= {top1:g}):")
    for name in metrics:
        reach = result.queries_to_reach(name, top1)
        median = float(np.median(reach))
        shown = "> budget" if np.isinf(median) else f"{median:g}"
        print(f"  {name:>14}: {shown} ({int(np.isfinite(reach).sum())}/{len(reach)} reach it)")


if __name__ == "__main__":
    main()
