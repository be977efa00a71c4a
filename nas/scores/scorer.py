"""Score architectures without training them: build with the space's builder, feed one seeded batch, cache by
canonical hash.

A `Scorer` is fixed by what makes a score reproducible: the space (and its options), the model size, the batch
of images, the initialisation seed, the device type and the torch version. Its cache key hashes all of them,
so a score read back from disk is the one that would be computed now; isomorphic architectures (equal
canonical hash) share one entry. Entries live in memory and as one small JSON file per architecture under
`$NAS_CACHE_DIR/scores/<key>/`, written new-then-renamed, so several processes may fill the same cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import search_spaces
from nas import atomic
from nas.scores import DEFAULT_SCORES, SCORES, WORST
from search_spaces.base import Architecture, ModelConfig, SearchSpace

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
DEFAULT_BATCH = 64  # images per batch: Mellor et al. score NB201 cells on 128; 64 ranked as well in our probe


def score_batch(
    data: str | os.PathLike | None,
    *,
    seed: int = 0,
    size: int = DEFAULT_BATCH,
    val_size: int = 5000,
    image_size: int | None = None,
    test_fraction: float = 0.2,
) -> np.ndarray:
    """`size` training images (uint8, N x S x S x 3; all of them if there are fewer) drawn with `seed` from
    the training part of the run's split (the validation images a search ranks candidates by are never used),
    in index order. `image_size`: a run's, from its DataSpec (None: the data's own size rule)."""
    from nas.train.data import load_splits

    splits = load_splits(
        data, seed=seed, val_size=val_size, image_size=image_size, test_fraction=test_fraction
    )
    n = len(splits.train_labels)
    picked = np.sort(np.random.default_rng(seed).choice(n, size=min(size, n), replace=False))
    return np.ascontiguousarray(splits.train_images[picked])


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class Scorer:
    """Scores architectures of one space, at one model size, on one batch; never trains, never raises for a
    bad candidate: one that cannot be built or scored gets `WORST` for every score and its reason in
    "error"."""

    def __init__(
        self,
        space: SearchSpace,
        model: ModelConfig,
        images: np.ndarray,
        *,
        seed: int = 0,
        device: str | None = None,
        names: Sequence[str] = DEFAULT_SCORES,
        cache_dir: str | os.PathLike | None = "default",
    ) -> None:
        unknown = [n for n in names if n not in SCORES]
        if unknown:
            raise ValueError(f"unknown score {unknown[0]!r}; scores: {', '.join(sorted(SCORES))}")
        self.space, self.seed, self.names = space, int(seed), tuple(names)
        # Scoring looks at the network the search trains, without what only training uses.
        self.model = dataclasses.replace(model, auxiliary=False, drop_path=0.0)
        self.device = torch.device(device or default_device())
        from nas.train.augment import CIFAR10_MEAN, CIFAR10_STD, normalize

        pixels = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(self.device)
        mean = torch.tensor(CIFAR10_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(CIFAR10_STD, device=self.device).view(1, 3, 1, 1)
        self.images = normalize(pixels, mean, std)
        self.key = self._key(images)
        if cache_dir == "default":
            from nas.train.data import cache_dir as nas_cache_dir

            cache_dir = nas_cache_dir() / "scores"
        self.folder = None if cache_dir is None else Path(cache_dir) / self.key
        self._memory: dict[str, dict[str, Any]] = {}
        self.computed = 0  # architectures scored by this object (not read from a cache)
        self.compute_s = 0.0  # seconds spent computing them
        # seconds by part: "build", a score's name, or the function of scores computed together
        self.part_s: dict[str, float] = {}
        self.part_cpu_s: dict[str, float] = {}  # the same in process CPU time: what a shared machine hides

    def _key(self, images: np.ndarray) -> str:
        identity = {
            "format": CACHE_FORMAT,
            "space": self.space.name,
            "space_options": self.space.options(),
            "model": dataclasses.asdict(self.model),
            "batch": hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest(),
            "batch_shape": list(images.shape),
            "seed": self.seed,
            "device": self.device.type,
            "torch": torch.__version__.split("+")[0],
            "scores": list(self.names),
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=list).encode()).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        """What the scores depend on, for records."""
        return {
            "scores": list(self.names),
            "model": dataclasses.asdict(self.model),
            "batch_size": int(self.images.shape[0]),
            "seed": self.seed,
            "device": self.device.type,
            "cache_key": self.key,
        }

    # -- scoring --

    def score(self, arch: Architecture) -> dict[str, Any]:
        """{score name: value, ..., "error": None or one line, "seconds": compute time (0 if cached)}."""
        h = search_spaces.canonical_hash(arch)
        record = self._memory.get(h) or self._read(h)
        if record is None:
            record = self._compute(arch)
            self._write(h, record)
        self._memory[h] = record
        return dict(record)

    def score_many(
        self, archs: Iterable[Architecture], on_each: Callable[[int, dict[str, Any]], None] | None = None
    ) -> list[dict[str, Any]]:
        records = []
        for i, arch in enumerate(archs):
            records.append(self.score(arch))
            if on_each is not None:
                on_each(i, records[-1])
        return records

    def _build(self, arch: Architecture) -> torch.nn.Module:
        # The same initialisation for every architecture: the global CPU generator is seeded inside a fork, so
        # the caller's random state is untouched; weights are drawn on the CPU and then moved, so they do not
        # depend on the device.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = self.space.build(arch, self.model)
        return model.to(self.device).train()

    def _compute(self, arch: Architecture) -> dict[str, Any]:
        # One network per architecture: every score leaves it as it found it (nas.scores._common.untouched),
        # so each sees the freshly initialised network, and scores computed together in one pass (AZ-NAS's)
        # run that pass once.
        started, cpu_started = time.perf_counter(), time.process_time()
        record: dict[str, Any] = {"error": None}
        try:
            model = self._build(arch)
            self._time("build", (started, cpu_started))
            joint: dict[Callable, dict[str, float]] = {}
            for name in self.names:
                score, began = SCORES[name], (time.perf_counter(), time.process_time())
                if score.joint is None:
                    value = score.compute(model, self.images)
                    self._time(name, began)
                else:
                    if score.joint not in joint:
                        joint[score.joint] = score.joint(model, self.images)
                        self._time(score.joint.__name__, began)
                    value = joint[score.joint][name]
                if not math.isfinite(value):
                    raise FloatingPointError(f"{name} is {value}")
                record[name] = float(value)
        except Exception as e:  # noqa: BLE001 - includes CUDA out of memory: unscorable, the caller goes on
            reason = " ".join(f"{type(e).__name__}: {e}".split())[:300]
            log.warning("could not score %s: %s", arch, reason)
            record = {name: WORST for name in self.names}
            record["error"] = reason
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
        seconds = time.perf_counter() - started
        self.computed += 1
        self.compute_s += seconds
        record["seconds"] = seconds
        return record

    def _time(self, part: str, started: tuple[float, float]) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.part_s[part] = self.part_s.get(part, 0.0) + time.perf_counter() - started[0]
        self.part_cpu_s[part] = self.part_cpu_s.get(part, 0.0) + time.process_time() - started[1]

    # -- the disk cache --

    def _path(self, h: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{h}.json"

    def _read(self, h: str) -> dict[str, Any] | None:
        path = self._path(h)
        if path is None or not path.exists():
            return None
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None  # unreadable: computed again and rewritten
        if not all(name in record for name in self.names):
            return None
        return {**record, "seconds": 0.0}

    def _write(self, h: str, record: dict[str, Any]) -> None:
        path = self._path(h)
        if path is None:
            return
        try:
            atomic.write_json(path, record)
        except OSError as e:  # a cache that cannot be written costs time, never the scores
            log.warning("could not write the score cache %s: %s", path, e)


def sample_distinct(space: SearchSpace, n: int, seed: int) -> list[Architecture]:
    """`n` architectures drawn uniformly with `seed`, no two with the same canonical hash (fewer if the space
    runs out within 100 n draws)."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    archs: list[Architecture] = []
    for _ in range(100 * max(n, 1)):
        if len(archs) >= n:
            break
        arch = space.sample(rng)
        h = search_spaces.canonical_hash(arch)
        if h not in seen:
            seen.add(h)
            archs.append(arch)
    return archs
