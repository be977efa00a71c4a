"""Cell search spaces. A space is one package here (`nasnet/`, `nb201/`) holding everything it needs: its
architecture values (`arch.py`, torch-free), its `SearchSpace` subclass decorated with `@register_space`
(`space.py`: sampling, mutation, decisions, reading, pictures' notes) and its network (`network.py`, torch:
what
`build` returns and its standalone-code twin for `nas export`); it is registered by importing it below.
`make_space(name, **options)` builds one by name. Shared by all: `base.py` (the interfaces), `ops.py` (the op
registry, torch), `code.py` (what export twins share), `stats.py`, `known_cells.py`, `_registry.py`.

May import numpy and networkx; torch only in `ops.py`, `stats.py` and the spaces' `network.py`, imported when
a network is built or an op name checked; never `nas`."""

from __future__ import annotations

# Built-in spaces register themselves on import.
from search_spaces import nasnet, nb201  # noqa: F401
from search_spaces._registry import SPACES, UnknownSpaceError, arch_from_json, make_space, register_space
from search_spaces.base import (
    Architecture,
    ArchitectureError,
    ModelConfig,
    SearchSpace,
    canonical_hash,
    to_json,
)

__all__ = [
    "SPACES",
    "Architecture",
    "ArchitectureError",
    "ModelConfig",
    "SearchSpace",
    "UnknownSpaceError",
    "arch_from_json",
    "canonical_hash",
    "make_space",
    "register_space",
    "to_json",
]
