"""How well the training-free scores rank NAS-Bench-201 cells: Spearman and Kendall correlation of every
registered score (or `--scores`), of the default combination and of combinations of subsets of them with
the 200-epoch CIFAR-10 test accuracy of a sample of cells, and seconds per cell (per score and in all).

    nice -n 10 python benchmarks/scores_nb201.py \
        --table ../shared/datasets/nb201_sample/nats_tss_cifar10_1000.csv \
        --data ../shared/datasets/cifar10 --threads 1 --output results/scores_nb201.parquet

Each cell is built once with the engine's NB201 builder at the benchmark's size (C=16, N=5), initialised
with one seed, and every score is computed on it and on one seeded batch of CIFAR-10 training images;
nothing is trained. No disk cache is used (`--cache` turns it on), so the seconds per cell are the real
cost. `--sample N` scores a seeded random subset of N cells (`--holdout`: the others); `--scored FILES`
analyses files written by `--output` again (correlations, combinations, warm-start simulation) without
scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", default="../shared/datasets/nb201_sample/nats_tss_cifar10_1000.csv")
    parser.add_argument("--arch-column", default="arch")
    parser.add_argument("--metric-column", default="test_acc_200ep")
    parser.add_argument("--data", default="../shared/datasets/cifar10", help="CIFAR-10 for the score batch")
    parser.add_argument("--cells", type=int, default=None, help="score only the first N cells of the table")
    parser.add_argument("--sample", type=int, default=None, help="score N cells drawn with --sample-seed")
    parser.add_argument("--sample-seed", type=int, default=0)
    parser.add_argument(
        "--holdout", action="store_true", help="with --sample: score the cells the sample leaves out instead"
    )
    parser.add_argument("--scores", default=None, help="comma-separated scores (default: every registered)")
    parser.add_argument(
        "--max-combination", type=int, default=4, help="largest subset of scores tried as a combination"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells-per-stage", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--cache", action="store_true", help="read and fill the disk cache of scores")
    parser.add_argument("--output", default=None, help="per-cell scores as Parquet")
    parser.add_argument(
        "--scored",
        default=None,
        help="analyse Parquet files written by --output (comma-separated: their rows together, on the "
        "scores all of them have) instead of scoring again",
    )
    parser.add_argument("--draws", type=int, default=2000, help="repeats of the warm-start simulation")
    parser.add_argument(
        "--plot", default=None, help="with --scored: draw each score against the metric (.png)"
    )
    args = parser.parse_args()
    if args.scored:
        import pyarrow.parquet as pq

        files = args.scored.split(",")
        tables = [pq.read_table(f).to_pydict() for f in files]
        common = [c for c in tables[0] if all(c in t for t in tables)]
        scored = {c: [v for t in tables for v in t[c]] for c in common}
        accuracy = scored[args.metric_column]
        # Seconds per cell of the first file that timed every part (the parts are the same code everywhere).
        part_s = json.loads((pq.read_schema(files[0]).metadata or {}).get(b"part_s_per_cell", b"{}"))
        names = [n for n in (args.scores.split(",") if args.scores else scored) if n in _score_names()]
        print(json.dumps(analyse(scored, accuracy, names, part_s, args), indent=2))
        if args.plot:
            from nas.scores import combined_rank

            records = [{n: scored[n][i] for n in names} for i in range(len(accuracy))]
            plot({**scored, "combined_rank": combined_rank(records)}, accuracy, args.plot)
        if args.plot:
            plot(scored, accuracy, args.plot)
        return

    import numpy as np
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet as pq
    import torch

    import search_spaces
    from nas.atomic import atomic_path
    from nas.scores import SCORES
    from nas.scores.scorer import Scorer, score_batch

    if args.threads:
        torch.set_num_threads(args.threads)
    reader = pq.read_table if args.table.endswith(".parquet") else pyarrow.csv.read_csv
    table = reader(args.table).to_pydict()
    strings, accuracy = table[args.arch_column], np.array(table[args.metric_column], dtype=float)
    if args.cells is not None:
        strings, accuracy = strings[: args.cells], accuracy[: args.cells]
    if args.sample is not None:
        order = np.random.default_rng(args.sample_seed).permutation(len(strings))
        picked = np.sort(order[args.sample :] if args.holdout else order[: args.sample])
        strings, accuracy = [strings[i] for i in picked], accuracy[picked]
    names = args.scores.split(",") if args.scores else sorted(SCORES)
    space = search_spaces.make_space("nb201")
    archs = [space.parse(s) for s in strings]
    images = score_batch(args.data, seed=args.seed, size=args.batch_size)
    model = search_spaces.ModelConfig(channels=args.channels, cells_per_stage=args.cells_per_stage)
    scorer = Scorer(
        space,
        model,
        images,
        seed=args.seed,
        device=args.device,
        names=names,
        cache_dir="default" if args.cache else None,
    )
    started, cpu_started = time.perf_counter(), time.process_time()

    def progress(i: int, record: dict) -> None:
        if (i + 1) % 50 == 0 or i + 1 == len(archs):
            rate = (time.perf_counter() - started) / (i + 1)
            print(f"{i + 1}/{len(archs)} cells, {rate:.3f} s per cell", flush=True)

    records = scorer.score_many(archs, progress)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    failed = [r["error"] for r in records if r["error"]]
    columns = {name: np.array([r[name] for r in records]) for name in names}
    part_s = {k: round(v / max(scorer.computed, 1), 4) for k, v in scorer.part_s.items()}
    part_cpu_s = {k: round(v / max(scorer.computed, 1), 4) for k, v in scorer.part_cpu_s.items()}
    summary = {
        "cells": len(archs),
        "sample": None if args.sample is None else {"size": args.sample, "seed": args.sample_seed},
        "unscorable": len(failed),
        "wall_s": round(wall, 1),
        "computed": scorer.computed,  # distinct canonical hashes; isomorphic rows share one score
        "compute_s_per_cell": round(scorer.compute_s / max(scorer.computed, 1), 4),
        "cpu_s_per_cell": round(
            cpu / max(scorer.computed, 1), 4
        ),  # process CPU time: what a shared machine hides
        "part_s_per_cell": part_s,
        "part_cpu_s_per_cell": part_cpu_s,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "scorer": scorer.describe(),
        "table": args.table,
        "data": args.data,
        "threads": torch.get_num_threads(),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "command": " ".join(sys.argv),
        **analyse({**columns, "arch": strings}, accuracy.tolist(), names, part_cpu_s, args),
    }
    print(json.dumps(summary, indent=2))
    if failed:
        print("unscorable:", *failed[:5], sep="\n  ")
    if args.output:
        out = pa.table(
            {
                "arch": strings,
                args.metric_column: accuracy,
                **columns,
                "seconds": [r["seconds"] for r in records],
            }
        ).replace_schema_metadata({"part_s_per_cell": json.dumps(part_cpu_s), "summary": json.dumps(summary)})
        with atomic_path(args.output) as tmp:
            pq.write_table(out, tmp)


def _score_names() -> set[str]:
    from nas.scores import SCORES

    return set(SCORES)


def cost_s(names, part_s: dict) -> float | None:
    """Seconds per cell of computing `names` together: the build, each score's own pass, and each pass that
    gives several scores (AZ-NAS's, snip and grad_norm's, params and flops') once."""
    from nas.scores import SCORES

    parts = {"build"} | {SCORES[n].joint.__name__ if SCORES[n].joint else n for n in names}
    if not part_s or any(p not in part_s for p in parts):
        return None
    return round(sum(part_s[p] for p in parts), 3)


def analyse(columns: dict, accuracy: list[float], names: list[str], part_s: dict, args) -> dict:
    """Spearman and Kendall of each score and of the default combination, the best combinations of up to
    --max-combination scores by each aggregation, and the warm-start simulation of the default."""
    from itertools import combinations

    import numpy as np
    from scipy.stats import kendalltau, spearmanr

    from nas.scores import AGGREGATIONS, DEFAULT_AGGREGATION, DEFAULT_SCORES, combined_rank

    accuracy = np.asarray(accuracy, dtype=float)
    records = [{n: float(columns[n][i]) for n in names} for i in range(len(accuracy))]

    def figures(values) -> dict:
        return {
            "spearman": round(float(spearmanr(values, accuracy).statistic), 4),
            "kendall": round(float(kendalltau(values, accuracy).statistic), 4),
        }

    out: dict = {"scores": {n: {**figures(columns[n]), "s_per_cell": cost_s([n], part_s)} for n in names}}
    if all(n in names for n in DEFAULT_SCORES):
        out["default"] = {
            "scores": list(DEFAULT_SCORES),
            "aggregation": DEFAULT_AGGREGATION,
            **figures(combined_rank(records)),
            "s_per_cell": cost_s(DEFAULT_SCORES, part_s),
        }
        out["warm_start_simulation"] = warm_start_simulation(records, accuracy.tolist(), args.draws)
    tried = []
    for k in range(2, args.max_combination + 1):
        for subset in combinations(names, k):
            for aggregation in AGGREGATIONS:
                rho = float(spearmanr(combined_rank(records, subset, aggregation), accuracy).statistic)
                tried.append((rho, subset, aggregation))
    tried.sort(key=lambda t: -t[0])
    out["best_combinations"] = [
        {
            "scores": list(subset),
            "aggregation": aggregation,
            **figures(combined_rank(records, subset, aggregation)),
            "s_per_cell": cost_s(subset, part_s),
        }
        for _, subset, aggregation in tried[:25]
    ]
    return out


def warm_start_simulation(records: list[dict], accuracy: list[float], draws: int, seed: int = 0) -> dict:
    """What a warm start gives evolution's first population, simulated on the scored cells: draw N cells,
    keep the P = 10 best by the default combination of their scores (ranked within the draw, as a search
    does), and compare the best accuracy among those 10 with the best among 10 random cells (what evolution
    starts from without a warm start). Mean over `draws` repeats, per N."""
    import numpy as np

    from nas.scores import combined_rank

    rng = np.random.default_rng(seed)
    accuracy = np.asarray(accuracy, dtype=float)
    out = {}
    for n in (10, 50, 100, 200):
        if n > len(accuracy):
            continue
        warm, cold = [], []
        for _ in range(draws):
            picked = rng.choice(len(accuracy), size=n, replace=False)
            ranks = combined_rank([records[i] for i in picked])
            top = picked[np.argsort(-ranks, kind="stable")[:10]]
            warm.append(accuracy[top].max())
            cold.append(accuracy[rng.choice(len(accuracy), size=10, replace=False)].max())
        out[f"N={n}"] = {
            "best_of_top10_by_score": round(float(np.mean(warm)), 3),
            "best_of_10_random": round(float(np.mean(cold)), 3),
        }
    return out


def plot(columns: dict, accuracy: list[float], path: str) -> None:
    import numpy as np
    from scipy.stats import spearmanr

    from nas.viz.figures import plt, save_figure

    panels = (("synflow", "log10(1 + synflow)"), ("naswot", "naswot"), ("combined_rank", "default"))
    fig, axes = plt.subplots(1, 3, figsize=(12.6, 4), sharey=True)
    for ax, (column, label) in zip(axes, panels):
        x = np.log10(1 + np.asarray(columns[column])) if column == "synflow" else columns[column]
        ax.scatter(x, accuracy, s=6, alpha=0.5)
        ax.set_title(f"{label}: Spearman {spearmanr(columns[column], accuracy).statistic:.2f}")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("CIFAR-10 test accuracy after 200 epochs (%)")
    fig.suptitle(
        f"{len(accuracy)} NAS-Bench-201 cells: training-free scores at initialisation vs trained accuracy"
    )
    save_figure(fig, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
