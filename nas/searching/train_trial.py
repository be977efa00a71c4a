"""The search's default evaluator: train one candidate with the run's preset and report every epoch."""

from __future__ import annotations

import io
from typing import Any

import search_spaces
from nas.searching.candidate import CandidateRequest, EpochReport
from nas.train import curves
from nas.train.presets import Preset


def evaluate_candidate(request: CandidateRequest, report: EpochReport) -> dict[str, Any]:
    import torch

    from nas.train.data import load_splits
    from nas.train.trainer import train_candidate

    preset = Preset.from_dict(request.preset)
    space = search_spaces.make_space(request.space, **request.space_options)
    arch = search_spaces.arch_from_json(request.arch_json, **request.space_options)
    # Shipped by the driver through Ray's object store; read from disk only when called outside a search (then
    # once per process: nas.train.data keeps it in memory).
    splits = request.dataset
    if splits is None:
        splits = load_splits(
            request.data,
            seed=request.split_seed,
            val_size=request.val_size,
            train_subset=preset.train.train_subset,
            val_subset=preset.train.val_subset,
            image_size=None if request.data_spec is None else request.data_spec.image_size,
            test_fraction=request.test_fraction,
        )
    result = train_candidate(
        lambda: space.build(arch, preset.model), preset, splits, seed=request.seed, on_epoch=report
    )
    record = result.record()
    # JSON text: one trials.parquet column, whatever its keys
    record["curves"] = curves.to_json(result.curves)
    if result.state_dict is not None:  # sent back through Ray; the driver keeps the best candidate's
        buffer = io.BytesIO()
        torch.save(dict(result.state_dict), buffer)
        record["weights"] = buffer.getvalue()
    return record
