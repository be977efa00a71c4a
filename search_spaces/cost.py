"""What an architecture costs without training: parameters, FLOPs, and latency at batch 1.

`params` and `flops` come from building the network with the space's own builder at a given `ModelConfig` and
counting as `search_spaces.stats.model_stats` does, so they equal what the trainer records for a candidate.
The network is built on the CPU, not on the meta device: with torch 2.14 a forward pass on meta tensors goes
through Python meta kernels and, under FlopCounterMode, took 3x longer than on real CPU tensors (0.69 s
against 0.21 s for an NB201 network at C=16, N=5); building costs the same on both (0.09 s).

`latency_ms` is the median wall time of 20 forward passes of one image (3x32x32 for CIFAR) in eval mode
without gradients, after 3 warm-up passes, on the given device (synchronised on CUDA). It is measured once per
architecture.

Everything is cached by the exact architecture (`arch_key`), not by the canonical hash: the builders also
build ops on edges that no input-to-output path uses, so two isomorphic cells can differ in parameters.

`additive_costs` computes the costs of many architectures from a handful of builds when the space's costs add
up over its decisions (NB201: every edge sees the same input shape whatever the other edges carry), and checks
that on random architectures against full builds before it is trusted.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from search_spaces.base import Architecture, ArchitectureError, ModelConfig, SearchSpace, to_json

COST_NAMES = ("params", "flops", "latency_ms")
LATENCY_WARMUP = 3
LATENCY_RUNS = 20


def arch_key(arch: Architecture) -> str:
    """20 hex digits of SHA-256 over the exact architecture's JSON."""
    return hashlib.sha256(to_json(arch).encode()).hexdigest()[:20]


def input_shape(config: ModelConfig) -> tuple[int, int, int]:
    """One image as the network built at `config` takes it (32x32 unless the config says otherwise)."""
    size = getattr(config, "image_size", None) or 32
    return (3, size, size)


def build_stats(space: SearchSpace, arch: Architecture, config: ModelConfig) -> tuple[int, int]:
    """(params, flops) of the network built on the CPU, counted by `model_stats`."""
    import torch

    from search_spaces.stats import model_stats

    with torch.device("cpu"):
        stats = model_stats(space.build(arch, config), input_shape(config))
    return stats.params, stats.flops


def measure_latency_ms(space: SearchSpace, arch: Architecture, config: ModelConfig, device: str) -> float:
    import torch

    model = space.build(arch, config).to(device).eval()
    x = torch.zeros(1, *input_shape(config), device=device)
    cuda = str(device).startswith("cuda")
    times = []
    with torch.no_grad():
        for run in range(LATENCY_WARMUP + LATENCY_RUNS):
            if cuda:
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model(x)
            if cuda:
                torch.cuda.synchronize(device)
            if run >= LATENCY_WARMUP:
                times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


@dataclass
class CostModel:
    """Costs of architectures of one space at one model size, computed on first use and remembered.

    Call it with an architecture to get {"params": ..., "flops": ..., "latency_ms": ...} (latency only with a
    `latency_device`). `entries()` / `load()` move the memory to and from plain JSON, so a run can keep its
    measured latencies and a resumed search sees exactly the same costs."""

    space: SearchSpace
    config: ModelConfig
    latency_device: str | None = None  # None: latency is not measured
    on_new: Callable[[], None] | None = None  # called after each newly computed architecture (to persist)

    def __post_init__(self) -> None:
        self._memory: dict[str, list] = {}  # arch_key -> [params, flops, latency_ms or None]

    def __call__(self, arch: Architecture) -> dict[str, float]:
        key = arch_key(arch)
        entry = self._memory.get(key)
        if entry is None or (self.latency_device is not None and entry[2] is None):
            params, flops = (entry[0], entry[1]) if entry else build_stats(self.space, arch, self.config)
            latency = None
            if self.latency_device is not None:
                latency = measure_latency_ms(self.space, arch, self.config, self.latency_device)
            entry = self._memory[key] = [int(params), int(flops), latency]
            if self.on_new is not None:
                self.on_new()
        costs = {"params": entry[0], "flops": entry[1]}
        if entry[2] is not None:
            costs["latency_ms"] = entry[2]
        return costs

    def known(self, arch: Architecture) -> dict[str, float] | None:
        """The remembered costs, or None (never computes)."""
        entry = self._memory.get(arch_key(arch))
        if entry is None:
            return None
        return {
            "params": entry[0],
            "flops": entry[1],
            **({"latency_ms": entry[2]} if entry[2] is not None else {}),
        }

    def entries(self) -> dict[str, list]:
        return {k: list(v) for k, v in self._memory.items()}

    def load(self, entries: dict[str, list]) -> None:
        for key, (params, flops, latency) in entries.items():
            self._memory[key] = [int(params), int(flops), None if latency is None else float(latency)]


def additive_costs(
    space: SearchSpace,
    config: ModelConfig,
    archs: Iterable[Architecture],
    *,
    check: int = 8,
    seed: int = 0,
    max_builds: int = 100,
) -> dict[Architecture, tuple[int, int]] | None:
    """(params, flops) of every architecture in `archs` from 1 + Σ(choices - 1) builds, when the costs add up
    over the space's decisions: base = the all-first-choices network, and each (decision, choice) adds what
    changing that one decision adds. Checked against full builds of `check` architectures drawn from `archs`;
    returns None when the costs do not add up, when the all-first-choices architecture is not valid, or when
    the space has so many decisions that `max_builds` builds would not cover them (NASNet cells)."""
    archs = list(archs)
    sizes = space.decisions()
    if 1 + sum(size - 1 for size in sizes) > max_builds:
        return None
    try:
        base_arch = space.decode([0] * len(sizes))
        space.validate(base_arch)
    except ArchitectureError:
        return None
    base = np.array(build_stats(space, base_arch, config), dtype=np.int64)
    delta = []
    for step, size in enumerate(sizes):
        row = [np.zeros(2, dtype=np.int64)]
        for choice in range(1, size):
            choices = [0] * len(sizes)
            choices[step] = choice
            try:
                arch = space.decode(choices)
                space.validate(arch)
            except ArchitectureError:
                return None
            row.append(np.array(build_stats(space, arch, config), dtype=np.int64) - base)
        delta.append(row)

    def predict(arch: Architecture) -> tuple[int, int]:
        total = base.copy()
        for step, choice in enumerate(space.encode(arch)):
            total += delta[step][choice]
        return int(total[0]), int(total[1])

    rng = np.random.default_rng(seed)
    for i in rng.choice(len(archs), size=min(check, len(archs)), replace=False):
        if predict(archs[int(i)]) != build_stats(space, archs[int(i)], config):
            return None
    return {arch: predict(arch) for arch in archs}
