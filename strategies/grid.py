"""Grid search: every combination of the space's decisions in order (the last decision varying fastest),
then the search is complete. Meant for small spaces such as a recipe grid of one architecture (`nas tune
--grid`); results are ignored."""

from __future__ import annotations

import math
from typing import Any

from strategies._registry import register_strategy
from strategies.base import SpaceExhaustedError, Strategy


@register_strategy("grid")
class GridSearch(Strategy):
    def __init__(self, space, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self._next = 0  # the next combination's index in mixed radix over space.decisions()

    def _candidate(self):
        sizes = self.space.decisions()
        if self._next >= math.prod(sizes):
            raise SpaceExhaustedError(f"grid: all {math.prod(sizes)} combinations have been proposed")
        index, choices = self._next, []
        for size in reversed(sizes):
            index, choice = divmod(index, size)
            choices.append(choice)
        self._next += 1
        return self.space.decode(choices[::-1])

    def _observe(self, arch, reward) -> None:
        pass

    def _extra_state(self) -> dict[str, Any]:
        return {"next": self._next}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self._next = int(state["next"])
