"""A synthetic NAS-Bench-201-format table: one validation accuracy (%) for each of the 15,625 cells.

The real NAS-Bench-201 tables are not shipped, so strategies are compared on this stand-in. It is made to
resemble the real CIFAR-10 landscape in the ways that matter to a search strategy, not to predict it:

* only live edges count (an edge carrying `none`, or on no input-output path, computes nothing), so cells
  that are the same network score the same up to noise, and a cell with no live path scores ~10% (chance);
* per-edge op effects: convolutions help most on the edges of the long path 0->1->2->3 and into node 3,
  `skip_connect` helps most on the shortcut 0->3 (the best real NB201 cells are convolutions with a residual
  skip), pooling adds little, and `none` on an edge into node 3 costs depth;
* pairwise interactions: a structured pair (a residual shortcut helps only with a convolution body) plus small
  random interactions between every pair of (edge, op) choices, so the landscape is not separable;
* per-cell noise (std 0.2 points, like NB201's seed-to-seed spread), and a squashing map to the 10-94% range
  with most cells between 70% and 90%, as in NB201.

Everything is drawn from `seed`, so the same seed gives the same table on every machine.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pyarrow as pa

from search_spaces.nb201 import EDGES, OPS, Nb201Arch

ARCH_COLUMN = "arch"
METRIC_COLUMN = "val_acc"

_E = {edge: k for k, edge in enumerate(EDGES)}
# Effect of each op on each edge, in score units (see the module docstring for the story).
_CONV_EDGE = {(0, 1): 1.0, (0, 2): 0.7, (1, 2): 1.0, (0, 3): 0.3, (1, 3): 0.9, (2, 3): 1.1}
_OP_EFFECT = {
    "none": {edge: 0.0 for edge in EDGES} | {(1, 3): -0.4, (2, 3): -0.8},
    "skip_connect": {edge: 0.25 for edge in EDGES} | {(0, 3): 1.0},
    "nor_conv_1x1": {edge: 0.6 * w for edge, w in _CONV_EDGE.items()},
    "nor_conv_3x3": dict(_CONV_EDGE),
    "avg_pool_3x3": {edge: 0.1 for edge in EDGES} | {(2, 3): -0.2},
}
_CONVS = ("nor_conv_1x1", "nor_conv_3x3")
INTERACTION_STD = 0.12  # score units, each pair of live (edge, op) choices
NOISE_STD = 0.2  # accuracy points, per cell


def _score(arch: Nb201Arch, interactions: np.ndarray) -> float | None:
    """Structured score of the live cell; None when nothing reaches the output."""
    live = arch.live_edges()
    if not live:
        return None
    keys = [_E[(src, dst)] * len(OPS) + OPS.index(op) for src, dst, op in live]
    score = sum(_OP_EFFECT[op][(src, dst)] for src, dst, op in live)
    score += sum(interactions[a, b] for a, b in itertools.combinations(keys, 2))
    ops = {(src, dst): op for src, dst, op in live}
    conv_body = any(ops.get(e) in _CONVS for e in ((1, 3), (2, 3)))
    if ops.get((0, 3)) == "skip_connect":
        score += 0.6 if conv_body else -0.6  # a shortcut alone around pooling/nothing is a shallow net
    if all(ops.get(e) in _CONVS for e in ((0, 1), (1, 2), (2, 3))):
        score += 0.5  # three stacked convolutions: the deepest path the cell allows
    return score


def synthetic_nb201_rows(seed: int = 0) -> list[tuple[str, float]]:
    """(NB201 string, validation accuracy in %) for every cell, in the order of itertools.product over ops."""
    rng = np.random.default_rng(seed)
    size = len(EDGES) * len(OPS)
    upper = np.triu(rng.normal(0.0, INTERACTION_STD, (size, size)), 1)
    interactions = upper + upper.T
    cells = [Nb201Arch(ops) for ops in itertools.product(OPS, repeat=len(EDGES))]
    noise = rng.normal(0.0, NOISE_STD, len(cells))
    rows = []
    for arch, eps in zip(cells, noise):
        score = _score(arch, interactions)
        if score is None:
            acc = 10.0 + abs(eps) / 3  # chance level on 10 classes
        else:
            acc = 10.0 + 84.0 / (1.0 + math.exp(-0.75 * (score + 1.0))) + eps
        rows.append((str(arch), round(float(min(max(acc, 10.0), 94.0)), 3)))
    return rows


def synthetic_nb201_table(seed: int = 0) -> pa.Table:
    rows = synthetic_nb201_rows(seed)
    return pa.table({ARCH_COLUMN: [a for a, _ in rows], METRIC_COLUMN: [m for _, m in rows]})


def write_table(table: pa.Table, path: str | os.PathLike) -> None:
    """CSV or Parquet by the file's suffix, written atomically."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from nas.atomic import atomic_path

    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    with atomic_path(path) as tmp:
        if suffix == "csv":
            pa_csv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)
