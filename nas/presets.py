"""Named training presets: one typed config (model size + training recipe) passed whole.

`smoke` finishes a whole search on a 2-core CPU in about a minute (demos, tests, CI); `proxy` is search-time
training; `final` trains the winner. Values are provisional until measured on the GPU (see README).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from search_spaces import ModelConfig


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float  # peak SGD learning rate at this batch size
    momentum: float = 0.9  # Nesterov momentum
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    cutout: int = 0  # side of the cutout square in pixels (DeVries & Taylor 2017); 0 turns it off
    auxiliary_weight: float = 0.4  # loss weight of the auxiliary head when the model has one (DARTS: 0.4)
    train_subset: int | None = None  # train on only this many images (smoke runs); None = the whole split
    val_subset: int | None = None  # validate on only this many images; None = the whole validation split

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"train config: {name}={getattr(self, name)!r} must be at least 1")
        if self.lr <= 0:
            raise ValueError(f"train config: lr={self.lr!r} must be positive")


@dataclass(frozen=True)
class Preset:
    name: str
    model: ModelConfig
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preset:
        return cls(data["name"], ModelConfig(**data["model"]), TrainConfig(**data["train"]))


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        "smoke",
        ModelConfig(channels=4, cells_per_stage=1),
        TrainConfig(epochs=1, batch_size=128, lr=0.05, train_subset=1024, val_subset=512),
    ),
    "proxy": Preset(
        "proxy",
        ModelConfig(channels=16, cells_per_stage=2),
        TrainConfig(epochs=10, batch_size=512, lr=0.2),
    ),
    "final": Preset(
        "final",
        ModelConfig(channels=36, cells_per_stage=6, drop_path=0.2, auxiliary=True),
        TrainConfig(epochs=60, batch_size=256, lr=0.1, cutout=16),
    ),
}
