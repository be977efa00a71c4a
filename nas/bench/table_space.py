"""A space restricted to the rows of a table that lists only part of it (e.g. 1,000 of NB201's 15,625 cells),
so that every strategy proposes only cells the table can answer.

Sampling is uniform over the rows; a mutation moves to a row at the smallest Hamming distance (in the space's
decision sequence) from the parent, drawn uniformly among those; decoding a decision sequence (REINFORCE's
controller) gives the nearest row, the first in table order on a tie. Everything else is the full space's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from search_spaces.base import Architecture, SearchSpace


class TableSpace(SearchSpace):
    def __init__(self, space: SearchSpace, archs: Sequence[Architecture]) -> None:
        if not archs:
            raise ValueError("a table space needs at least one architecture")
        self.base = space
        self.name = space.name  # the same architectures and files: only which ones may be proposed differs
        self.diagram_note, self.registry_ops = space.diagram_note, space.registry_ops
        self.rows = list(archs)
        self._codes = np.array([space.encode(a) for a in self.rows])

    def _nearest(self, code: Sequence[int], exclude_equal: bool) -> np.ndarray:
        distance = (self._codes != np.asarray(code)).sum(1)
        if exclude_equal:
            distance[distance == 0] = distance.max() + 1
        return np.flatnonzero(distance == distance.min())

    def sample(self, rng: np.random.Generator) -> Architecture:
        return self.rows[int(rng.integers(len(self.rows)))]

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        if len(self.rows) < 2:
            raise ValueError("a table of one row has no mutation")
        nearest = self._nearest(self.base.encode(arch), exclude_equal=True)
        return self.rows[int(nearest[int(rng.integers(len(nearest)))])]

    def decisions(self) -> list[int]:
        return self.base.decisions()

    def encode(self, arch: Architecture) -> list[int]:
        return self.base.encode(arch)

    def decode(self, choices: Sequence[int]) -> Architecture:
        self.base.check_decoding(choices)
        return self.rows[int(self._nearest(choices, exclude_equal=False)[0])]

    def features(self, arch: Architecture) -> np.ndarray:
        return self.base.features(arch)

    def all_architectures(self, limit: int) -> list[Architecture] | None:
        return list(self.rows) if len(self.rows) <= limit else None

    def from_dict(self, data: dict[str, Any]) -> Architecture:
        return self.base.from_dict(data)

    def parse(self, text: str) -> Architecture:
        return self.base.parse(text)

    def validate(self, arch: Architecture) -> None:
        self.base.validate(arch)

    def network_class(self):  # the table's space's network (an instance's base, hence not a classmethod)
        return self.base.network_class()

    def options(self) -> dict[str, Any]:
        return self.base.options()


def covering_space(space: SearchSpace, archs: Sequence[Architecture], limit: int = 1_000_000) -> SearchSpace:
    """`space` itself when the table lists every architecture of it, else the space of the table's rows."""
    every = space.all_architectures(limit)
    if every is not None and set(every) <= set(archs):
        return space
    return TableSpace(space, archs)
