"""Joint search of an architecture and its training recipe: a space that wraps another and adds one
categorical decision per recipe key (`{"lr": [0.1, 0.05], "norm": ["batch", "none"]}`), so every strategy
proposes recipe values as it proposes ops: evolution mutates them, REINFORCE samples them as extra steps of
its decision sequence. With `fixed`, the architecture is that one and only the recipe is searched (`nas
tune`). Values are JSON scalars; what a key means is the engine's business (nas/train/recipe.py), except that
`build` applies keys naming a `ModelConfig` field (norm, dropout, drop_path). Not in the space registry: it
is made around a registered space and recreated from `options()`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from search_spaces.base import Architecture, ArchitectureError, ModelConfig, SearchSpace

if TYPE_CHECKING:
    import networkx as nx
    from torch import nn

_SCALARS = (bool, int, float, str)


@dataclass(frozen=True)
class RecipeArch:
    """An architecture of the wrapped space and the recipe it is trained with, as (key, value) pairs in the
    space's key order."""

    space: ClassVar[str] = "recipe"
    arch: Architecture
    recipe: tuple[tuple[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "arch": self.arch.to_dict(), "recipe": dict(self.recipe)}

    def canonical_form(self) -> str:
        # Bool before int: json writes True as true, never as 1, so flip=true and a 1 stay apart.
        return f"{self.arch.space}:{self.arch.canonical_form()}|{json.dumps(self.recipe)}"

    def to_graph(self) -> nx.MultiDiGraph:
        return self.arch.to_graph()

    @property
    def recipe_dict(self) -> dict[str, Any]:
        return dict(self.recipe)


class RecipeSpace(SearchSpace):
    name: ClassVar[str] = "recipe"

    def __init__(
        self, base: SearchSpace, choices: Mapping[str, Sequence[Any]], fixed: Architecture | None = None
    ) -> None:
        if not choices:
            raise ArchitectureError("recipe space: give at least one key to tune")
        for key, values in choices.items():
            if isinstance(values, (str, bytes)) or not values:
                raise ArchitectureError(f"recipe space: {key} needs a non-empty list of values")
            if not all(isinstance(v, _SCALARS) for v in values):
                raise ArchitectureError(f"recipe space: {key}'s values must be numbers, strings or booleans")
            if len({json.dumps(v) for v in values}) != len(values):
                raise ArchitectureError(f"recipe space: {key} lists a value twice")
        # A fixed architecture is taken as read (from_dict checks its structure), not checked against the
        # space's options: published cells (DARTS's 4 blocks) are tuned with a default space.
        self.base, self.fixed = base, fixed
        self.choices = {k: list(v) for k, v in choices.items()}

    # -- the recipe part --

    def _recipe(self, indices: Sequence[int]) -> tuple[tuple[str, Any], ...]:
        return tuple((k, self.choices[k][int(i)]) for k, i in zip(self.choices, indices))

    def _indices(self, arch: RecipeArch) -> list[int]:
        # json.dumps keeps 1 and True (and 1 and 1.0) apart, which == would not.
        return [[json.dumps(c) for c in self.choices[k]].index(json.dumps(v)) for k, v in arch.recipe]

    def sample(self, rng: np.random.Generator) -> RecipeArch:
        arch = self.fixed if self.fixed is not None else self.base.sample(rng)
        return RecipeArch(arch, self._recipe([rng.integers(len(v)) for v in self.choices.values()]))

    def mutate(self, arch: RecipeArch, rng: np.random.Generator) -> RecipeArch:
        """One change: of one recipe value, or of the architecture, in proportion to their decisions."""
        self.validate(arch)
        keys = [i for i, v in enumerate(self.choices.values()) if len(v) > 1]
        base_steps = 0 if self.fixed is not None else len(self.base.decisions())
        if not keys and not base_steps:
            raise ArchitectureError("recipe space: a single candidate cannot be mutated")
        if rng.random() < base_steps / (base_steps + len(keys)):
            return RecipeArch(self.base.mutate(arch.arch, rng), arch.recipe)
        indices = self._indices(arch)
        step = keys[int(rng.integers(len(keys)))]
        size = len(list(self.choices.values())[step])
        indices[step] = (indices[step] + 1 + int(rng.integers(size - 1))) % size
        return RecipeArch(arch.arch, self._recipe(indices))

    def decisions(self) -> list[int]:
        base = [] if self.fixed is not None else self.base.decisions()
        return base + [len(v) for v in self.choices.values()]

    def encode(self, arch: RecipeArch) -> list[int]:
        self.validate(arch)
        base = [] if self.fixed is not None else self.base.encode(arch.arch)
        return base + self._indices(arch)

    def decode(self, choices: Sequence[int]) -> RecipeArch:
        self.check_decoding(choices)
        n = len(self.choices)
        arch = self.fixed if self.fixed is not None else self.base.decode(choices[:-n])
        return RecipeArch(arch, self._recipe(choices[-n:]))

    def from_dict(self, data: dict[str, Any]) -> RecipeArch:
        if not isinstance(data, dict) or data.get("space") != self.name or "arch" not in data:
            raise ArchitectureError('recipe space: expected {"space": "recipe", "arch": ..., "recipe": ...}')
        recipe = data.get("recipe")
        if not isinstance(recipe, dict) or list(recipe) != list(self.choices):
            raise ArchitectureError(f"recipe space: the recipe must set exactly {', '.join(self.choices)}")
        arch = RecipeArch(self.base.from_dict(data["arch"]), tuple(recipe.items()))
        self.validate(arch)
        return arch

    def parse(self, text: str) -> RecipeArch:
        try:
            return self.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ArchitectureError(f"recipe space: not valid JSON: {e}") from None

    def validate(self, arch: Architecture) -> None:
        if not isinstance(arch, RecipeArch):
            raise ArchitectureError(f"recipe space: expected a RecipeArch, got {type(arch).__name__}")
        if self.fixed is None:
            self.base.validate(arch.arch)
        elif arch.arch != self.fixed:
            raise ArchitectureError("recipe space: the architecture is not the fixed one being tuned")
        if [k for k, _ in arch.recipe] != list(self.choices):
            raise ArchitectureError(f"recipe space: the recipe must set exactly {', '.join(self.choices)}")
        for key, value in arch.recipe:
            if json.dumps(value) not in [json.dumps(c) for c in self.choices[key]]:
                raise ArchitectureError(f"recipe space: {key}={value!r} is not one of {self.choices[key]}")

    def build(self, arch: Architecture, config: ModelConfig) -> nn.Module:
        """The wrapped space's network, with the recipe's model settings (norm, dropout, drop_path)."""
        self.validate(arch)
        fields = {f.name for f in dataclasses.fields(ModelConfig)}
        model = dataclasses.replace(config, **{k: v for k, v in arch.recipe if k in fields})
        return self.base.build(arch.arch, model)

    @classmethod
    def network_class(cls) -> type[nn.Module]:
        raise TypeError("a recipe space builds the wrapped space's network: export the architecture inside")

    def options(self) -> dict[str, Any]:
        return {
            "base": self.base.name,
            "base_options": self.base.options(),
            "choices": self.choices,
            "fixed": None if self.fixed is None else self.fixed.to_dict(),
        }


def split(arch: Architecture) -> tuple[Architecture, dict[str, Any]]:
    """(the architecture, its recipe): a plain architecture has an empty recipe."""
    if isinstance(arch, RecipeArch):
        return arch.arch, arch.recipe_dict
    return arch, {}
