"""The nasnet SearchSpace: sampling, mutation, decisions, reading, building, pictures and export."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from search_spaces._registry import register_space
from search_spaces.base import ArchitectureError, SearchSpace
from search_spaces.nasnet.arch import (
    CELL_INPUTS,
    DEFAULT_BLOCKS,
    DEFAULT_OPS,
    Block,
    Cell,
    NasnetArch,
)
from search_spaces.op_names import known_ops

if TYPE_CHECKING:
    from torch import nn


@register_space("nasnet")
class NasnetSpace(SearchSpace):
    """NASNet/ENAS micro cells: normal and reduction cells of B blocks (options: ops, num_blocks).

    `ops` is the op set searched over (any names of the op registry); `num_blocks` is B.
    """

    diagram_note = (
        "Each block adds the results of its two incoming ops; the cell output c_k concatenates the blocks "
        "joined to it in grey."
    )

    def __init__(self, ops: Sequence[str] = DEFAULT_OPS, num_blocks: int = DEFAULT_BLOCKS):
        self.ops = tuple(ops)
        self.num_blocks = int(num_blocks)
        known = known_ops()
        unknown = [op for op in self.ops if op not in known]
        if unknown:
            raise ArchitectureError(f"nasnet: unknown ops {unknown}; known ops: {', '.join(sorted(known))}")
        if len(self.ops) < 2 or len(set(self.ops)) != len(self.ops):
            raise ArchitectureError(f"nasnet: the op set needs at least 2 distinct ops, got {list(self.ops)}")
        if self.num_blocks < 1:
            raise ArchitectureError(f"nasnet: num_blocks must be at least 1, got {self.num_blocks}")

    def options(self) -> dict[str, Any]:
        return {"ops": list(self.ops), "num_blocks": self.num_blocks}

    # -- sampling and mutation (Real et al. 2019, sec. 2: hidden-state and op mutations) --

    def _sample_cell(self, rng: np.random.Generator) -> Cell:
        blocks = []
        for b in range(self.num_blocks):
            inputs = tuple(int(rng.integers(CELL_INPUTS + b)) for _ in range(2))
            ops = tuple(self.ops[int(rng.integers(len(self.ops)))] for _ in range(2))
            blocks.append(Block(inputs, ops))
        return Cell(tuple(blocks))

    def sample(self, rng: np.random.Generator) -> NasnetArch:
        return NasnetArch(self._sample_cell(rng), self._sample_cell(rng))

    def mutate(self, arch: NasnetArch, rng: np.random.Generator) -> NasnetArch:
        """Change one input or one op of one block of one cell to a different value; the result computes
        something else than `arch` (a change that only relabels the cell is drawn again)."""
        self.validate(arch)
        original = arch.canonical_form()
        for _ in range(100):
            cell_name = ("normal", "reduce")[int(rng.integers(2))]
            cell = getattr(arch, cell_name)
            b = int(rng.integers(self.num_blocks))
            slot = int(rng.integers(2))
            block = cell.blocks[b]
            inputs, ops = list(block.inputs), list(block.ops)
            if rng.random() < 0.5:
                choices = [s for s in range(CELL_INPUTS + b) if s != inputs[slot]]
                inputs[slot] = choices[int(rng.integers(len(choices)))]
            else:
                choices = [op for op in self.ops if op != ops[slot]]
                ops[slot] = choices[int(rng.integers(len(choices)))]
            blocks = cell.blocks[:b] + (Block(tuple(inputs), tuple(ops)),) + cell.blocks[b + 1 :]
            mutant = NasnetArch(**{**arch.cells(), cell_name: Cell(blocks)})
            if mutant.canonical_form() != original:
                return mutant
        raise ArchitectureError("nasnet: found no mutation that changes the architecture")  # pragma: no cover

    # -- decision sequence: per cell, per block: input, input, op, op (Zoph et al. 2018, fig. 3) --

    def decisions(self) -> list[int]:
        steps = []
        for _cell in ("normal", "reduce"):
            for b in range(self.num_blocks):
                steps += [CELL_INPUTS + b, CELL_INPUTS + b, len(self.ops), len(self.ops)]
        return steps

    def encode(self, arch: NasnetArch) -> list[int]:
        self.validate(arch)
        choices = []
        for cell in arch.cells().values():
            for block in cell.blocks:
                choices += [*block.inputs, *(self.ops.index(op) for op in block.ops)]
        return choices

    def decode(self, choices: Sequence[int]) -> NasnetArch:
        self.check_decoding(choices)
        it = iter(int(c) for c in choices)
        cells = []
        for _cell in ("normal", "reduce"):
            blocks = []
            for _ in range(self.num_blocks):
                i, j, a, b = next(it), next(it), next(it), next(it)
                blocks.append(Block((i, j), (self.ops[a], self.ops[b])))
            cells.append(Cell(tuple(blocks)))
        return NasnetArch(*cells)

    # -- reading, checking, building --

    def from_dict(self, data: dict[str, Any]) -> NasnetArch:
        if data.get("space", self.name) != self.name:
            raise ArchitectureError(f"expected a {self.name} architecture, got space {data.get('space')!r}")
        missing = [k for k in ("normal", "reduce") if k not in data]
        if missing:
            raise ArchitectureError(f"nasnet architecture is missing {', '.join(missing)}")
        # Only the structure is checked here, not this space's op set or block count, so that published cells
        # (DARTS uses 4 blocks and dilated convs) can be read, trained and exported with a default space.
        return NasnetArch(Cell.from_dict(data["normal"]), Cell.from_dict(data["reduce"]))

    def parse(self, text: str) -> NasnetArch:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ArchitectureError(f"nasnet architectures are written as JSON: {e}") from None
        if not isinstance(data, dict):
            raise ArchitectureError("nasnet architecture JSON must be an object")
        return self.from_dict(data)

    def validate(self, arch: NasnetArch) -> None:
        if not isinstance(arch, NasnetArch):
            raise ArchitectureError(f"expected a nasnet architecture, got {type(arch).__name__}")
        for name, cell in arch.cells().items():
            if len(cell.blocks) != self.num_blocks:
                raise ArchitectureError(
                    f"{name} cell has {len(cell.blocks)} blocks, this space has {self.num_blocks}"
                )
            for b, block in enumerate(cell.blocks):
                for op in block.ops:
                    if op not in self.ops:
                        raise ArchitectureError(
                            f"{name} cell, block {b}: op {op!r} is not in this space's op set "
                            f"{list(self.ops)}"
                        )

    @classmethod
    def network_class(cls) -> type[nn.Module]:
        from search_spaces.nasnet.network import NasnetNetwork

        return NasnetNetwork

    # -- pictures --

    @classmethod
    def diagram_cells(cls, arch: NasnetArch) -> dict[str, nx.MultiDiGraph]:
        return {f"{name} cell": cell.to_graph() for name, cell in arch.cells().items()}
