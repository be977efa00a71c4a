"""Cell search spaces. A space is one package here (`nasnet/`, `nb201/`) holding everything it needs: its
architecture values (`arch.py`, torch-free), its `SearchSpace` subclass decorated with `@register_space`
(`space.py`: sampling, mutation, decisions, reading, pictures' notes, `network_class`) and its network
(`network.py`, torch: what `build` returns, which `nas export` copies as it is); it is registered by
importing it below. `make_space(name, **options)` builds one by name. Shared by all: `base.py` (the
interfaces and `ModelConfig`, the build settings), `op_names.py` (the op names, torch-free), `ops.py` (the op
registry, torch), `stats.py`, `known_cells.py`, `_registry.py`. docs/spaces.md tells how to add a space.

May import numpy and networkx; torch only in `ops.py`, `stats.py` and the spaces' `network.py`, imported when
a network is built; never `nas`."""

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
