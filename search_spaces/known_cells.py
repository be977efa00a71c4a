"""Published cells written in this engine's nasnet space, for tests, baselines and `nas final --arch`.

Each block is ((op, input), (op, input)); inputs 0 and 1 are the previous two cells, 2 + b is block b.
DARTS's `skip_connect` is this registry's `identity`.
"""

from __future__ import annotations

from search_spaces.nasnet import Block, Cell, NasnetArch

Pair = tuple[str, int]


def cell(*blocks: tuple[Pair, Pair], concat: tuple[int, ...] | None = None) -> Cell:
    return Cell(tuple(Block((a[1], b[1]), (a[0], b[0])) for a, b in blocks), concat)


# Zoph et al. 2018, "Learning Transferable Architectures for Scalable Image Recognition", fig. 4 (NASNet-A).
NASNET_A = NasnetArch(
    normal=cell(
        (("sep_conv_5x5", 1), ("sep_conv_3x3", 0)),
        (("sep_conv_5x5", 0), ("sep_conv_3x3", 0)),
        (("avg_pool_3x3", 1), ("identity", 0)),
        (("avg_pool_3x3", 0), ("avg_pool_3x3", 0)),
        (("sep_conv_3x3", 1), ("identity", 1)),
    ),
    reduce=cell(
        (("sep_conv_5x5", 1), ("sep_conv_7x7", 0)),
        (("max_pool_3x3", 1), ("sep_conv_7x7", 0)),
        (("avg_pool_3x3", 1), ("sep_conv_5x5", 0)),
        (("identity", 3), ("avg_pool_3x3", 2)),
        (("sep_conv_3x3", 2), ("max_pool_3x3", 1)),
    ),
)

# Pham et al. 2018, "Efficient Neural Architecture Search via Parameter Sharing", fig. 7 (ENAS micro cells).
ENAS = NasnetArch(
    normal=cell(
        (("sep_conv_3x3", 1), ("identity", 1)),
        (("sep_conv_5x5", 1), ("identity", 0)),
        (("avg_pool_3x3", 0), ("sep_conv_3x3", 1)),
        (("sep_conv_3x3", 0), ("avg_pool_3x3", 1)),
        (("sep_conv_5x5", 1), ("avg_pool_3x3", 0)),
    ),
    reduce=cell(
        (("sep_conv_5x5", 0), ("avg_pool_3x3", 1)),
        (("sep_conv_3x3", 1), ("avg_pool_3x3", 1)),
        (("avg_pool_3x3", 1), ("sep_conv_3x3", 1)),
        (("sep_conv_5x5", 4), ("avg_pool_3x3", 1)),
        (("sep_conv_3x3", 5), ("sep_conv_5x5", 0)),
    ),
)

# Liu et al. 2019, "DARTS: Differentiable Architecture Search", fig. 4-5 (second-order DARTS, "DARTS-V2").
# DARTS concatenates all four blocks, not only the unused ones. 3.3M parameters at C=36 with 20 cells (table
# 1).
DARTS_V2 = NasnetArch(
    normal=cell(
        (("sep_conv_3x3", 0), ("sep_conv_3x3", 1)),
        (("sep_conv_3x3", 0), ("sep_conv_3x3", 1)),
        (("sep_conv_3x3", 1), ("identity", 0)),
        (("identity", 0), ("dil_conv_3x3", 2)),
        concat=(2, 3, 4, 5),
    ),
    reduce=cell(
        (("max_pool_3x3", 0), ("max_pool_3x3", 1)),
        (("identity", 2), ("max_pool_3x3", 1)),
        (("max_pool_3x3", 0), ("identity", 2)),
        (("identity", 2), ("max_pool_3x3", 1)),
        concat=(2, 3, 4, 5),
    ),
)

KNOWN_CELLS: dict[str, NasnetArch] = {"nasnet_a": NASNET_A, "enas": ENAS, "darts_v2": DARTS_V2}
