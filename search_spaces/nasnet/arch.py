"""The nasnet architecture values: plain, validated, torch-free (see the package docstring)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import networkx as nx

from search_spaces.base import ArchitectureError
from search_spaces.op_names import known_ops

CELL_INPUTS = 2

# The op set of the issue that defined this space; NASNet (Zoph et al. 2018, sec. 3) and ENAS (Pham et al.
# 2018, sec. 2.3) use these or a subset of them.
DEFAULT_OPS = (
    "identity",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "max_pool_3x3",
    "avg_pool_3x3",
    "conv_1x1",
)
DEFAULT_BLOCKS = 5  # B = 5 in NASNet and ENAS


@dataclass(frozen=True)
class Block:
    """`ops[k]` is applied to the state `inputs[k]`; the block's state is the sum of the two results."""

    inputs: tuple[int, int]
    ops: tuple[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "ops", tuple(self.ops))
        if len(self.inputs) != 2 or len(self.ops) != 2:
            raise ArchitectureError(
                f"a block has exactly 2 inputs and 2 ops, got inputs={list(self.inputs)} ops={list(self.ops)}"
            )


@dataclass(frozen=True)
class Cell:
    """Blocks in order; `concat` lists the block states concatenated into the output (default: the loose
    ends).

    Published cells such as DARTS concatenate every block, so `concat` may name more than the loose ends, but
    it must name all of them, or a block would compute nothing that reaches the output.
    """

    blocks: tuple[Block, ...]
    concat: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        blocks = tuple(b if isinstance(b, Block) else Block(**b) for b in self.blocks)
        object.__setattr__(self, "blocks", blocks)
        if not blocks:
            raise ArchitectureError("a cell needs at least one block")
        known = known_ops()
        for b, block in enumerate(blocks):
            for state in block.inputs:
                if not isinstance(state, int) or not 0 <= state < CELL_INPUTS + b:
                    raise ArchitectureError(
                        f"block {b}: input index {state!r} out of range; block {b} may read states "
                        f"0..{CELL_INPUTS + b - 1} (cell inputs 0, 1 and earlier blocks)"
                    )
            for op in block.ops:
                if op not in known:
                    raise ArchitectureError(
                        f"block {b}: unknown op {op!r}; known ops: {', '.join(sorted(known))}"
                    )
        loose = self.loose_ends()
        if self.concat is None:
            object.__setattr__(self, "concat", loose)
            return
        concat = tuple(self.concat)
        valid = range(CELL_INPUTS, CELL_INPUTS + len(blocks))
        if not concat or any(s not in valid for s in concat) or len(set(concat)) != len(concat):
            raise ArchitectureError(
                f"concat {list(concat)} must list distinct block states in {valid.start}..{valid.stop - 1}"
            )
        missing = set(loose) - set(concat)
        if missing:
            raise ArchitectureError(f"concat {list(concat)} leaves out unused block states {sorted(missing)}")
        object.__setattr__(self, "concat", tuple(sorted(concat)))

    def loose_ends(self) -> tuple[int, ...]:
        consumed = {s for block in self.blocks for s in block.inputs}
        return tuple(s for s in range(CELL_INPUTS, CELL_INPUTS + len(self.blocks)) if s not in consumed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocks": [{"inputs": list(b.inputs), "ops": list(b.ops)} for b in self.blocks],
            "concat": list(self.concat),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        try:
            blocks = tuple(Block(tuple(b["inputs"]), tuple(b["ops"])) for b in data["blocks"])
            return cls(blocks, tuple(data["concat"]) if data.get("concat") is not None else None)
        except (KeyError, TypeError) as e:
            raise ArchitectureError(
                f'a cell is {{"blocks": [{{"inputs": [i, j], "ops": [a, b]}}, ...]}}: {e!r}'
            ) from None

    def canonical_form(self) -> str:
        """The smallest encoding over all relabellings that compute the same thing: blocks renumbered in any
        order their dependencies allow, the two (op, input) pairs of a block in either order, concat as a set.
        Exhaustive over topological orders, which is cheap for cells of a handful of blocks."""
        n = len(self.blocks)
        deps = [{s - CELL_INPUTS for s in block.inputs if s >= CELL_INPUTS} for block in self.blocks]
        best: str | None = None

        def encode(order: list[int]) -> str:
            new_state = {CELL_INPUTS + old: CELL_INPUTS + new for new, old in enumerate(order)}

            def relabel(s: int) -> int:
                return new_state.get(s, s)

            blocks = [
                sorted((op, relabel(s)) for op, s in zip(self.blocks[old].ops, self.blocks[old].inputs))
                for old in order
            ]
            return json.dumps([blocks, sorted(relabel(s) for s in self.concat)], separators=(",", ":"))

        def extend(order: list[int], placed: set[int]) -> None:
            nonlocal best
            if len(order) == n:
                form = encode(order)
                if best is None or form < best:
                    best = form
                return
            for b in range(n):
                if b not in placed and deps[b] <= placed:
                    order.append(b)
                    placed.add(b)
                    extend(order, placed)
                    placed.discard(b)
                    order.pop()

        extend([], set())
        assert best is not None
        return best

    def to_graph(self) -> nx.MultiDiGraph:
        """Nodes: the two cell inputs, one per block and "output"; each edge carries the op it applies."""
        g = nx.MultiDiGraph()
        g.add_node(0, kind="input", label="c_{k-2}")
        g.add_node(1, kind="input", label="c_{k-1}")
        for b, block in enumerate(self.blocks):
            g.add_node(CELL_INPUTS + b, kind="block", label=str(b))
            for op, state in zip(block.ops, block.inputs):
                g.add_edge(state, CELL_INPUTS + b, op=op)
        g.add_node("output", kind="output", label="c_{k}")
        for state in self.concat:
            g.add_edge(state, "output", op="concat")
        return g


@dataclass(frozen=True)
class NasnetArch:
    normal: Cell
    reduce: Cell
    space: ClassVar[str] = "nasnet"

    def __post_init__(self) -> None:
        for name in ("normal", "reduce"):
            if not isinstance(getattr(self, name), Cell):
                raise ArchitectureError(f"{name} must be a Cell, got {type(getattr(self, name)).__name__}")

    def cells(self) -> dict[str, Cell]:
        return {"normal": self.normal, "reduce": self.reduce}

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "normal": self.normal.to_dict(), "reduce": self.reduce.to_dict()}

    def canonical_form(self) -> str:
        return f"normal={self.normal.canonical_form()};reduce={self.reduce.canonical_form()}"

    def to_graph(self) -> nx.MultiDiGraph:
        g = nx.MultiDiGraph()
        for name, cell in self.cells().items():
            g.update(nx.relabel_nodes(cell.to_graph(), lambda node, name=name: (name, node)))
        return g

    def __str__(self) -> str:
        def show(cell: Cell) -> str:
            blocks = " ".join(
                f"[{a}({i}) + {b}({j})]" for (a, b), (i, j) in ((bl.ops, bl.inputs) for bl in cell.blocks)
            )
            return f"{blocks} -> concat{list(cell.concat)}"

        return f"normal: {show(self.normal)}\nreduce: {show(self.reduce)}"
