"""The nb201 architecture values: plain, validated, torch-free (see the package docstring)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import networkx as nx

from search_spaces.base import ArchitectureError

NODES = 4
EDGES: tuple[tuple[int, int], ...] = (
    (0, 1),
    (0, 2),
    (1, 2),
    (0, 3),
    (1, 3),
    (2, 3),
)  # (from, to), string order
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# NB201's op names, as entries of the shared op registry.
REGISTRY_OP = {
    "none": "none",
    "skip_connect": "identity",
    "nor_conv_1x1": "conv_1x1",
    "nor_conv_3x3": "conv_3x3",
    "avg_pool_3x3": "avg_pool_3x3",
}
_EDGE_TEXT = re.compile(r"^(?P<op>[a-z0-9_]+)~(?P<src>\d+)$")


@dataclass(frozen=True)
class Nb201Arch:
    """`ops[k]` is the op on edge `EDGES[k]`."""

    ops: tuple[str, ...]
    space: ClassVar[str] = "nb201"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        if len(self.ops) != len(EDGES):
            raise ArchitectureError(f"an nb201 cell has {len(EDGES)} edges, got {len(self.ops)} ops")
        for (src, dst), op in zip(EDGES, self.ops):
            if op not in OPS:
                raise ArchitectureError(f"edge {src}->{dst}: unknown op {op!r}; nb201 ops: {', '.join(OPS)}")

    def op(self, src: int, dst: int) -> str:
        return self.ops[EDGES.index((src, dst))]

    def __str__(self) -> str:
        return "+".join(
            "|" + "|".join(f"{self.op(src, dst)}~{src}" for src in range(dst)) + "|"
            for dst in range(1, NODES)
        )

    @classmethod
    def parse(cls, text: str) -> Nb201Arch:
        stages = text.strip().split("+")
        if len(stages) != NODES - 1:
            raise ArchitectureError(
                f"nb201 string {text!r} has {len(stages)} '+'-separated nodes, expected {NODES - 1} "
                "as in |op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
            )
        ops = {}
        for dst, stage in enumerate(stages, start=1):
            if not (stage.startswith("|") and stage.endswith("|")):
                raise ArchitectureError(
                    f"nb201 string {text!r}: node {dst} part {stage!r} must be wrapped in '|'"
                )
            entries = stage[1:-1].split("|")
            if len(entries) != dst:
                raise ArchitectureError(
                    f"nb201 string {text!r}: node {dst} needs {dst} inputs, got {len(entries)}"
                )
            for expected_src, entry in enumerate(entries):
                match = _EDGE_TEXT.match(entry)
                if not match or int(match["src"]) != expected_src:
                    raise ArchitectureError(
                        f"nb201 string {text!r}: node {dst} input {expected_src} must read "
                        f"'op~{expected_src}', got {entry!r}"
                    )
                ops[(expected_src, dst)] = match["op"]
        return cls(tuple(ops[edge] for edge in EDGES))

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "cell": str(self)}

    def live_edges(self) -> tuple[tuple[int, int, str], ...]:
        """Edges that carry something from the input to the output: not 'none', and on an input-output
        path."""
        g = nx.DiGraph()
        g.add_nodes_from(range(NODES))
        g.add_edges_from(edge for edge, op in zip(EDGES, self.ops) if op != "none")
        from_input = nx.descendants(g, 0) | {0}
        to_output = nx.ancestors(g, NODES - 1) | {NODES - 1}
        return tuple(
            (src, dst, op)
            for (src, dst), op in zip(EDGES, self.ops)
            if op != "none" and src in from_input and dst in to_output
        )

    def canonical_form(self) -> str:
        """Live edges only, minimised over the one relabelling the DAG allows: swapping nodes 1 and 2 when no
        live edge joins them. A cell with no live path computes zeros: all such cells are one class."""
        live = self.live_edges()
        forms = [sorted(live)]
        if not any({src, dst} == {1, 2} for src, dst, _ in live):
            swap = {1: 2, 2: 1}
            forms.append(sorted((swap.get(s, s), swap.get(d, d), op) for s, d, op in live))
        return json.dumps(min(forms), separators=(",", ":"))

    def to_graph(self) -> nx.MultiDiGraph:
        g = nx.MultiDiGraph()
        for node in range(NODES):
            kind = "input" if node == 0 else "output" if node == NODES - 1 else "node"
            g.add_node(node, kind=kind, label=str(node))
        for (src, dst), op in zip(EDGES, self.ops):
            g.add_edge(src, dst, op=op)
        return g
