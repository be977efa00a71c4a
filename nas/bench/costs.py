"""Cost columns of a tabular benchmark, computed by the engine's own builder and cached in a file.

A tabular benchmark lists architectures and a metric; to search it under a parameter or FLOP budget, every
row needs its costs. They are computed once per space, model size and architecture with `search_spaces.cost`
(for NB201 from 25 builds, the costs adding up over the six edges, checked against full builds; otherwise one
build per architecture) and kept in `$NAS_CACHE_DIR/costs/<space>-<digest>.parquet`, keyed by `arch_key` (the
exact architecture). The model size is NAS-Bench-201's own network for nb201 (C=16, N=5: 0.07M-1.53M
parameters, as in Dong & Yang 2020) and the proxy preset's otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from search_spaces.base import Architecture, ModelConfig, SearchSpace

TABLE_MODEL = {"nb201": ModelConfig(channels=16, cells_per_stage=5)}  # the benchmark's own network size

log = logging.getLogger(__name__)


def table_model_config(space: SearchSpace) -> ModelConfig:
    if space.name in TABLE_MODEL:
        return TABLE_MODEL[space.name]
    from nas.train.presets import PRESETS

    return PRESETS["proxy"].model


def cost_cache_path(space: SearchSpace, config: ModelConfig) -> Path:
    from dataclasses import asdict

    from nas.train.data import cache_dir

    identity = json.dumps({"space_options": space.options(), "model": asdict(config)}, sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return cache_dir() / "costs" / f"{space.name}-{digest}.parquet"


def table_costs(
    space: SearchSpace, archs: Iterable[Architecture], config: ModelConfig | None = None
) -> dict[Architecture, dict[str, float]]:
    """{arch: {"params": ..., "flops": ...}} for every architecture, from the cache file where it has them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nas.atomic import atomic_path
    from search_spaces.cost import additive_costs, arch_key, build_stats

    config = config or table_model_config(space)
    archs = list(archs)
    path = cost_cache_path(space, config)
    known: dict[str, tuple[int, int]] = {}
    if path.is_file():
        try:
            data = pq.read_table(path).to_pydict()
            known = {k: (p, f) for k, p, f in zip(data["arch_key"], data["params"], data["flops"])}
        except (pa.ArrowException, OSError, KeyError, ValueError) as e:  # torn or foreign: recomputed
            log.warning("ignoring the unreadable cost cache %s (%s)", path, e)
    keys = {arch: arch_key(arch) for arch in archs}
    missing = [arch for arch in archs if keys[arch] not in known]
    if missing:
        start = time.perf_counter()
        computed = additive_costs(space, config, missing)
        how = "additive over decisions"
        if computed is None:
            how = "one build per architecture"
            computed = {arch: build_stats(space, arch, config) for arch in missing}
        log.info(
            "computed the costs of %d %s architectures in %.1f s (%s); cached in %s",
            len(missing),
            space.name,
            time.perf_counter() - start,
            how,
            path,
        )
        known.update({keys[arch]: cost for arch, cost in computed.items()})
        columns = {"arch_key": list(known), "params": [], "flops": []}
        for params, flops in known.values():
            columns["params"].append(int(params))
            columns["flops"].append(int(flops))
        schema = pa.schema([("arch_key", pa.string()), ("params", pa.int64()), ("flops", pa.int64())])
        try:
            with atomic_path(path) as tmp:
                pq.write_table(pa.table(columns, schema=schema), tmp)
        except OSError as e:
            log.warning(
                "could not cache the costs at %s (%s); set NAS_CACHE_DIR to a writable folder", path, e
            )
    return {arch: {"params": known[keys[arch]][0], "flops": known[keys[arch]][1]} for arch in archs}
