"""A checkpoint carries what rebuilds its model: the architecture, the space's options, the model config and
the weights, plus what the model expects of its input (its DataSpec: size, normalisation, class names) and
free-form metadata (accuracy, run, versions)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import search_spaces
from nas.atomic import atomic_path
from nas.errors import UserError
from nas.train.data_spec import DataSpec
from search_spaces import Architecture, ModelConfig, SearchSpace


@dataclass
class Checkpoint:
    arch: Architecture
    space_options: dict[str, Any]
    model_config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any] = field(default_factory=dict)
    data_spec: DataSpec | None = None  # the input it was trained on; None: CIFAR-10's (old checkpoints)

    @property
    def space(self) -> SearchSpace:
        return search_spaces.make_space(self.arch.space, **self.space_options)

    def build(self) -> nn.Module:
        """The model with these weights, in eval mode, on the CPU."""
        model = self.space.build(self.arch, self.model_config)
        model.load_state_dict(self.state_dict, strict=True)
        return model.eval()


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> None:
    payload = {
        "format": "nas-checkpoint/1",
        "arch": checkpoint.arch.to_dict(),
        "space_options": checkpoint.space_options,
        "model_config": dataclasses.asdict(checkpoint.model_config),
        "state_dict": {k: v.detach().cpu() for k, v in checkpoint.state_dict.items()},
        "metadata": checkpoint.metadata,
        # The key of checkpoints from before the DataSpec, which load as one (DataSpec.from_dict).
        "preprocessing": None if checkpoint.data_spec is None else checkpoint.data_spec.to_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no checkpoint at {path}; train one with `nas final RUN` or pass --weights FILE")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("format") != "nas-checkpoint/1":
            raise ValueError(f"format is {payload.get('format')!r}")
        return Checkpoint(
            arch=search_spaces.arch_from_json(payload["arch"]),
            space_options=payload["space_options"],
            model_config=ModelConfig(**payload["model_config"]),
            state_dict=payload["state_dict"],
            metadata=payload.get("metadata", {}),
            data_spec=DataSpec.of(payload.get("preprocessing")),
        )
    except UserError:
        raise
    except Exception as e:  # a truncated or foreign file: say which and why, in one line
        raise UserError(f"{path} is not a readable nas checkpoint ({type(e).__name__}: {e})") from None
