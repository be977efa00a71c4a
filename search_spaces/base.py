"""What every search space shares: the architecture protocol, the space interface and the model config.

Nothing here imports torch: architectures are plain values that strategies, the CLI and result files handle
without building a network. Only `SearchSpace.build` touches torch, through the space's `network_class()`,
which imports it lazily.
"""

from __future__ import annotations

import abc
import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

if TYPE_CHECKING:
    import networkx as nx
    from torch import nn


class ArchitectureError(ValueError):
    """An architecture value that breaks the rules of its space (unknown op, bad index, wrong size)."""


class Architecture(Protocol):
    """An immutable, validated, torch-free description of one network's cells."""

    space: ClassVar[str]

    def to_dict(self) -> dict[str, Any]: ...

    def canonical_form(self) -> str:
        """A string equal for exactly the architectures that compute the same function up to relabelling."""
        ...

    def to_graph(self) -> nx.MultiDiGraph: ...


def to_json(arch: Architecture) -> str:
    return json.dumps(arch.to_dict(), sort_keys=True, separators=(",", ":"))


def canonical_hash(arch: Architecture) -> str:
    """20 hex digits (80 bits) of SHA-256 over the canonical form: short to print, collision-free in
    practice."""
    text = f"{arch.space}:{arch.canonical_form()}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


NORMS = ("batch", "none")  # ModelConfig.norm: batch norm after every convolution, or none


# ModelConfig is also copied, source and all, into exported model files (nas/export/codegen.py), which are
# checked with ruff's defaults: keep its lines within 88 characters.
@dataclass(frozen=True)
class ModelConfig:
    """How to build a network around the searched cells; passed whole to
    `SearchSpace.build`, saved whole in checkpoints and exports."""

    # C: channels of each op in the first stage; doubled at every reduction
    channels: int = 16
    # N: 3 stages of N cells; nasnet adds a reduction cell between stages (3N + 2)
    cells_per_stage: int = 2
    num_classes: int = 10
    # largest probability of dropping a cell branch (Zoph et al. 2018); 0: off
    drop_path: float = 0.0
    # auxiliary classifier at 2/3 depth (Szegedy et al. 2015), for final training
    auxiliary: bool = False
    # stem width = stem_multiplier * C, as in DARTS (Liu et al. 2019)
    stem_multiplier: int = 3
    # input height = width in pixels (for FLOPs, exports and the stem below)
    image_size: int = 32
    # the stem downsamples by this (1, 2, 4...) so large images cost what CIFAR's do
    stem_stride: int = 1
    # after every convolution: "batch" norm (Ioffe & Szegedy 2015) or "none"
    norm: str = "batch"
    # probability of zeroing a feature before the classifier (Srivastava et al.
    # 2014); 0: no dropout layer
    dropout: float = 0.0

    @property
    def stem_conv(self) -> tuple[int, int, int]:
        """(kernel, stride, padding) of the stem's convolution: 3x3 at stride 1 or 2;
        a (s+1)x(s+1) kernel at stride s > 2, so every pixel is seen."""
        s = self.stem_stride
        return (3, s, 1) if s <= 2 else (s + 1, s, s // 2)

    def __post_init__(self) -> None:
        stride = self.stem_stride
        checks = {
            "channels": (self.channels >= 1, "at least 1"),
            "cells_per_stage": (self.cells_per_stage >= 1, "at least 1"),
            "num_classes": (self.num_classes >= 2, "at least 2"),
            "drop_path": (0.0 <= self.drop_path < 1.0, "in [0, 1)"),
            "stem_multiplier": (self.stem_multiplier >= 1, "at least 1"),
            "image_size": (self.image_size >= 1, "at least 1"),
            "stem_stride": (stride >= 1 and stride & (stride - 1) == 0, "a power of 2"),
            "norm": (self.norm in NORMS, "one of " + ", ".join(NORMS)),
            "dropout": (0.0 <= self.dropout < 1.0, "in [0, 1)"),
        }
        for name, (ok, allowed) in checks.items():
            if not ok:
                value = getattr(self, name)
                raise ValueError(f"model config: {name}={value!r} must be {allowed}")


class SearchSpace(abc.ABC):
    """The interface strategies use without knowing which space they explore.

    `decisions()`/`encode()`/`decode()` present an architecture as a fixed-length sequence of categorical
    choices, which is what an autoregressive RL controller emits.
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Architecture:
        """An architecture drawn uniformly over the space's choices."""

    @abc.abstractmethod
    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One local change; never returns an architecture equal to `arch`."""

    @abc.abstractmethod
    def decisions(self) -> list[int]:
        """The number of choices at each step of the decision sequence."""

    @abc.abstractmethod
    def encode(self, arch: Architecture) -> list[int]: ...

    @abc.abstractmethod
    def decode(self, choices: Sequence[int]) -> Architecture: ...

    @abc.abstractmethod
    def from_dict(self, data: dict[str, Any]) -> Architecture:
        """Rebuild and validate an architecture of this space from `Architecture.to_dict()` output."""

    @abc.abstractmethod
    def parse(self, text: str) -> Architecture:
        """Read an architecture from its string form (JSON, or the space's own notation such as NB201's)."""

    @abc.abstractmethod
    def validate(self, arch: Architecture) -> None:
        """Raise ArchitectureError unless `arch` belongs to this space as configured (ops, number of
        blocks)."""

    def build(self, arch: Architecture, config: ModelConfig) -> nn.Module:
        """`network_class()(arch, config)`, for an architecture of this space (not necessarily within its
        options: published cells are built with a default space)."""
        if getattr(arch, "space", None) != self.name:
            raise ArchitectureError(f"expected a {self.name} architecture, got {type(arch).__name__}")
        return self.network_class()(arch, config)

    @classmethod
    @abc.abstractmethod
    def network_class(cls) -> type[nn.Module]:
        """The space's network: an `nn.Module` class built as `cls(arch, config)`. `nas export` copies its
        source, and that of every engine class and function it names, into the exported file, and writes the
        architecture and config as constants; so its code should name what it needs directly (ops through
        `OPS`), read only the fields of the architecture value, fit in 88 columns, and keep `forward`
        TorchScript-compatible (no Python objects, ModuleLists iterated rather than indexed)."""

    @abc.abstractmethod
    def options(self) -> dict[str, Any]:
        """The keyword arguments that recreate this space (saved in run folders)."""

    # -- what pictures and export need; class-level, so that neither builds a space --

    diagram_note: ClassVar[str] = ""  # how to read this space's cell diagrams, printed under them
    # This space's op names that the op registry (search_spaces/ops.py) spells differently, e.g. NB201's
    # skip_connect is the registry's identity: pictures colour an op by its registry name.
    registry_ops: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def diagram_cells(cls, arch: Architecture) -> dict[str, nx.MultiDiGraph]:
        """The graphs a cell diagram draws, by panel title: by default one panel of `arch.to_graph()`."""
        return {f"{cls.name} cell": arch.to_graph()}

    # -- what model-based strategies need --

    def features(self, arch: Architecture) -> np.ndarray:
        """A fixed-length numeric encoding for a surrogate model: one-hot of every decision (for NB201, of the
        op on each edge). Works for any space that has `decisions`/`encode`; a space may override it with a
        richer encoding."""
        sizes = self.decisions()
        offsets = np.cumsum([0, *sizes[:-1]])
        out = np.zeros(int(sum(sizes)), dtype=np.float32)
        out[offsets + np.asarray(self.encode(arch))] = 1.0
        return out

    def all_architectures(self, limit: int) -> list[Architecture] | None:
        """Every architecture of the space (isomorphic ones included) when there are at most `limit`, in the
        order of the decision sequences; None when there are more."""
        sizes = self.decisions()
        if math.prod(sizes) > limit:
            return None
        return [self.decode(c) for c in itertools.product(*(range(n) for n in sizes))]

    def check_decoding(self, choices: Sequence[int]) -> None:
        sizes = self.decisions()
        if len(choices) != len(sizes):
            raise ArchitectureError(f"{self.name}: expected {len(sizes)} decisions, got {len(choices)}")
        for step, (choice, size) in enumerate(zip(choices, sizes)):
            if not 0 <= choice < size:
                raise ArchitectureError(f"{self.name}: decision {step} is {choice}, must be in [0, {size})")
