"""Grid search: every combination of the space's decisions exactly once, then the search is complete. Meant
for small spaces such as a recipe grid of one architecture (`nas tune --grid`); results are ignored.

The order is seeded: proposal k is combination (a k + b) mod N for a random b and a random a coprime to N, a
permutation of the N combinations that needs no list of them. Neighbouring combinations (the same values but
the last) are then not trained one after the other, so early stopping's first rungs are not set by one
corner of the grid."""

from __future__ import annotations

import math
from typing import Any

from strategies._registry import register_strategy
from strategies.base import SpaceExhaustedError, Strategy


@register_strategy("grid")
class GridSearch(Strategy):
    def __init__(self, space, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self._next = 0  # combinations handed out so far
        self._step: tuple[int, int] | None = None  # (a, b), drawn on the first proposal

    def _draw(self, size: int) -> int:
        """A uniform integer in [0, size), also beyond numpy's 64 bits (a nasnet space has ~1e30 cells)."""
        nbytes = (size.bit_length() + 7) // 8 + 8  # 64 extra bits make the modulo bias negligible
        return int.from_bytes(self.rng.bytes(nbytes), "little") % size

    def _candidate(self):
        sizes = self.space.decisions()
        total = math.prod(sizes)
        if self._next >= total:
            raise SpaceExhaustedError(f"grid: all {total} combinations have been proposed")
        if self._step is None:
            a = self._draw(total)
            while math.gcd(a, total) != 1:
                a = self._draw(total)
            self._step = (a, self._draw(total))
        a, b = self._step
        index, choices = (a * self._next + b) % total, []
        for size in reversed(sizes):
            index, choice = divmod(index, size)
            choices.append(choice)
        self._next += 1
        return self.space.decode(choices[::-1])

    def _observe(self, arch, reward) -> None:
        pass

    def _extra_state(self) -> dict[str, Any]:
        # a and b as strings: beyond JSON's safe integers for large spaces
        return {"next": self._next, "step": None if self._step is None else [str(s) for s in self._step]}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self._next = int(state["next"])
        self._step = None if state["step"] is None else (int(state["step"][0]), int(state["step"][1]))
