"""The op registry's names, without torch: architecture values check their op names against this list, so
that building, reading and mutating them never imports the ops themselves (search_spaces/ops.py, torch).

ops.py registers one builder for each name here; an op registered later (`register_op`) adds its name.
"""

from __future__ import annotations

OP_NAMES: list[str] = [
    "none",
    "identity",
    "max_pool_3x3",
    "avg_pool_3x3",
    "conv_1x1",
    "conv_3x3",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "dil_conv_3x3",
    "dil_conv_5x5",
]


def known_ops() -> frozenset[str]:
    """The op names an architecture may use now (the built-in ones and any registered since)."""
    return frozenset(OP_NAMES)
