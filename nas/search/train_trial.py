"""The search's default evaluator: train one candidate with the run's preset and report every epoch."""

from __future__ import annotations

from typing import Any

import search_spaces
from nas.search.candidate import CandidateRequest, EpochReport
from nas.train.presets import Preset


def evaluate_candidate(request: CandidateRequest, report: EpochReport) -> dict[str, Any]:
    from nas.train.data import load_splits
    from nas.train.trainer import train_candidate

    preset = Preset.from_dict(request.preset)
    space = search_spaces.make_space(request.space, **request.space_options)
    arch = search_spaces.arch_from_json(request.arch_json, **request.space_options)
    # Loaded once per worker process (nas.train.data keeps it in memory), so reused actors do not reload it.
    splits = load_splits(
        request.data,
        seed=request.split_seed,
        val_size=request.val_size,
        train_subset=preset.train.train_subset,
        val_subset=preset.train.val_subset,
        image_size=request.image_size,
        test_fraction=request.test_fraction,
    )
    preset = preset.for_data(splits.num_classes, splits.image_size)  # own data: classes, size, augmentation
    result = train_candidate(
        lambda: space.build(arch, preset.model), preset, splits, seed=request.seed, on_epoch=report
    )
    return result.record()
