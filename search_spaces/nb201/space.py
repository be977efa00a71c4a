"""The nb201 SearchSpace: sampling, mutation, decisions, reading, building, pictures and export."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from search_spaces._registry import register_space
from search_spaces.base import ArchitectureError, SearchSpace
from search_spaces.nb201.arch import EDGES, OPS, REGISTRY_OP, Nb201Arch

if TYPE_CHECKING:
    from torch import nn


@register_space("nb201")
class Nb201Space(SearchSpace):
    """NAS-Bench-201 cells: 4 nodes, 6 edges, 5 ops, 15,625 cells (no options)."""

    diagram_note = "Node 0 is the cell input and node 3 its output; each node sums its incoming edges."
    registry_ops = REGISTRY_OP

    def options(self) -> dict[str, Any]:
        return {}

    def sample(self, rng: np.random.Generator) -> Nb201Arch:
        return Nb201Arch(tuple(OPS[int(i)] for i in rng.integers(len(OPS), size=len(EDGES))))

    def mutate(self, arch: Nb201Arch, rng: np.random.Generator) -> Nb201Arch:
        """One edge gets a different op (Dong & Yang 2020, sec. 5, regularized evolution baseline)."""
        self.validate(arch)
        edge = int(rng.integers(len(EDGES)))
        choices = [op for op in OPS if op != arch.ops[edge]]
        ops = list(arch.ops)
        ops[edge] = choices[int(rng.integers(len(choices)))]
        return Nb201Arch(tuple(ops))

    def decisions(self) -> list[int]:
        return [len(OPS)] * len(EDGES)

    def encode(self, arch: Nb201Arch) -> list[int]:
        self.validate(arch)
        return [OPS.index(op) for op in arch.ops]

    def decode(self, choices: Sequence[int]) -> Nb201Arch:
        self.check_decoding(choices)
        return Nb201Arch(tuple(OPS[int(c)] for c in choices))

    def from_dict(self, data: dict[str, Any]) -> Nb201Arch:
        if data.get("space", self.name) != self.name:
            raise ArchitectureError(f"expected a {self.name} architecture, got space {data.get('space')!r}")
        if not isinstance(data.get("cell"), str):
            raise ArchitectureError(
                'nb201 architecture JSON needs "cell": "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"'
            )
        return Nb201Arch.parse(data["cell"])

    def parse(self, text: str) -> Nb201Arch:
        text = text.strip()
        if text.startswith("{"):
            try:
                return self.from_dict(json.loads(text))
            except json.JSONDecodeError as e:
                raise ArchitectureError(f"nb201 architecture JSON is invalid: {e}") from None
        return Nb201Arch.parse(text)

    def validate(self, arch: Nb201Arch) -> None:
        if not isinstance(arch, Nb201Arch):
            raise ArchitectureError(f"expected an nb201 architecture, got {type(arch).__name__}")

    @classmethod
    def network_class(cls) -> type[nn.Module]:
        from search_spaces.nb201.network import Nb201Network

        return Nb201Network
