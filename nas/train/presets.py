"""Named training presets: one typed config (model size + training recipe) passed whole.

- `smoke`: a 4-channel, 5-cell network for one epoch on 1,024 images, so a whole search or final run finishes
  on a 2-core CPU in about a minute (demos, tests, CI). Its accuracies mean nothing.
- `cpu`: a search that learns on a 2-core CPU (README's demo: 8 nb201 candidates, then the winner's final
  run). A small network (C=8, one cell per stage: 23k-58k parameters for nb201 cells) sees 21,000 images: 3
  epochs of a stratified 7,000, at batch 64 (more updates per image than 128) with lr 0.3 per 256 and a
  0.3-epoch warm-up, validated on 1,000 images; the final run trains the same way and is tested on all 10,000
  images. Measured on the 2-core x86_64 CPU shared with other jobs (load average 10-40; torch 2.14.1, Ray
  2.60.0, CIFAR-10 JPEG copy): the demo's 8 candidates reached 39.2-43.5% validation accuracy (chance 10%) and
  the winner 47.7% test accuracy. With lighter load (load average 1-7) the same two commands took 561 s
  for the search and 209 s for the final run: 12.8 min, more than the 5 minutes aimed at. Recipes tried
  first on single cells: 3 epochs of 6,000 at batch 128, lr 0.2: 36.4%; this recipe on the same cell:
  39.7%; 4 epochs of 10,000 at batch 128 (twice the images): 44.4% on another cell.
  The length is 21,000 images seen, not 3 epochs, so it follows the data: 3 epochs of CIFAR's 7,000 as above,
  16 epochs (320 steps) of the 1,293 training images of scikit-learn's digits, where a fixed 3 epochs are
  60 steps. `nas final` trains twice a candidate's length (final_scale 2).
  Measured with this recipe on digits (docs/training.md; 2-core CPU under heavy load from other jobs, load
  average 10-33): 8 nasnet candidates reached 94.4-99.3% validation accuracy (median 97.6%) on 144
  held-out images.
- `proxy`: search-time training. Candidates are ranked, not finished, so the network is the DARTS search-size
  one (C=16, 8 cells: ~0.25M parameters for DARTS-V2) and training is 10 epochs. A plain eager loop on one
  H100 took DARTS-V2 there to 86% validation accuracy (shared/datasets/cifar10/README.md), enough to separate
  good cells from bad ones; batch 512 is where that machine's eager throughput levelled off
  (shared/device/README.md).
- `final`: the winner at DARTS's evaluation size (C=36, 20 cells: 3.35M parameters for DARTS-V2) with the
  DARTS evaluation regularisers: cutout 16, drop-path 0.2 rising linearly, auxiliary head weighted 0.4. DARTS
  trains 600 epochs; 60 here keeps a final run near a quarter hour at the measured ~16 s/epoch (CUDA graph,
  batch 256).

None of these values has been tuned on the GPU yet: they are reasoned starting points (see README, Training).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from nas.train.data_spec import DataSpec
from search_spaces import ModelConfig

FLIP_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    # Images per step; the last partial batch of an epoch is dropped so step shapes stay static.
    batch_size: int
    # Peak SGD learning rate per 256 images, scaled linearly with the batch size (Goyal et al. 2017).
    lr: float
    momentum: float = 0.9  # Nesterov momentum
    weight_decay: float = 5e-4  # on conv and linear weights only; BN parameters and biases are not decayed
    label_smoothing: float = 0.1
    warmup_epochs: float = 1.0  # linear LR warm-up from 0 (at most a fifth of training), then cosine to 0
    crop_padding: int = 4  # random-crop padding in pixels; 0 turns crop off
    cutout: int = 0  # side of the cutout square in pixels (DeVries & Taylor 2017); 0 turns it off
    auxiliary_weight: float = 0.4  # loss weight of the auxiliary head when the model has one (DARTS: 0.4)
    train_subset: int | None = None  # train on only this many images (smoke runs); None = the whole split
    val_subset: int | None = None  # validate on only this many images; None = the whole validation split
    # Final evaluation on only this many test images (smoke); None = all 10,000.
    test_subset: int | None = None
    eval_batch_size: int = 1024  # evaluation needs no activations kept for backward, so it can be large
    # Capture the training step in a CUDA graph on GPUs (falls back to eager if it fails).
    cuda_graph: bool = True
    # Training length in images seen (optimizer steps x batch): the epochs follow the data,
    # round(images_seen / images per epoch), at least 1: a small training set gets more epochs, a large
    # one fewer.
    # None: exactly `epochs` epochs whatever the data.
    images_seen: int | None = None
    # At least this many optimizer steps however small the training set (more epochs, never a larger batch).
    min_steps: int = 0
    # `nas final` trains final_scale times a search candidate's length (images_seen, min_steps, or epochs):
    # candidates are only ranked, the final model is the one kept.
    final_scale: float = 1.0
    # Random horizontal flips: "on", "off", or "auto" (off when the training classes are left-right
    # asymmetric, as digits and text are: nas.train.flip_rule).
    flip: str = "auto"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"train config: {name}={getattr(self, name)!r} must be at least 1")
        for name in ("train_subset", "val_subset", "test_subset"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"train config: {name}={getattr(self, name)!r} must be at least 1 or None")
        if self.lr <= 0:
            raise ValueError(f"train config: lr={self.lr!r} must be positive")
        checks = {
            "momentum": 0.0 <= self.momentum < 1.0,
            "weight_decay": self.weight_decay >= 0.0,
            "label_smoothing": 0.0 <= self.label_smoothing < 1.0,
            "warmup_epochs": self.warmup_epochs >= 0.0,
            "crop_padding": self.crop_padding >= 0,
            "cutout": self.cutout >= 0,
            "auxiliary_weight": self.auxiliary_weight >= 0.0,
            "min_steps": self.min_steps >= 0,
            "final_scale": self.final_scale > 0.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"train config: {name}={getattr(self, name)!r} is out of range")
        if self.images_seen is not None and self.images_seen < 1:
            raise ValueError(f"train config: images_seen={self.images_seen!r} must be at least 1 or None")
        if self.flip not in FLIP_MODES:
            raise ValueError(f"train config: flip={self.flip!r} must be one of {', '.join(FLIP_MODES)}")

    def epochs_for(self, n: int) -> int:
        """Epochs over a training set of `n` images: `epochs`, or those that see about `images_seen` images,
        raised until at least `min_steps` optimizer steps are taken (the last partial batch is dropped)."""
        batch = min(self.batch_size, max(n, 1))
        steps_per_epoch = max(n // batch, 1)
        epochs = self.epochs
        if self.images_seen is not None:
            epochs = max(1, round(self.images_seen / (steps_per_epoch * batch)))
        return max(epochs, math.ceil(self.min_steps / steps_per_epoch))

    def for_final(self) -> TrainConfig:
        """The recipe of `nas final`: `final_scale` times a candidate's training length."""
        if self.final_scale == 1.0:
            return self
        scale = self.final_scale
        return dataclasses.replace(
            self,
            epochs=max(1, round(self.epochs * scale)),
            images_seen=None if self.images_seen is None else max(1, round(self.images_seen * scale)),
            min_steps=round(self.min_steps * scale),
            final_scale=1.0,
        )

    def with_epochs(self, epochs: int) -> TrainConfig:
        """Exactly `epochs` epochs whatever the data (`nas final --epochs`)."""
        return dataclasses.replace(self, epochs=epochs, images_seen=None, min_steps=0, final_scale=1.0)

    def scaled_lr(self, batch_size: int) -> float:
        """The peak learning rate at `batch_size` images per step."""
        return self.lr * batch_size / 256


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
        TrainConfig(
            epochs=1,
            batch_size=128,
            lr=0.1,
            warmup_epochs=0.0,
            train_subset=1024,
            val_subset=512,
            test_subset=1000,
        ),
    ),
    "cpu": Preset(
        "cpu",
        ModelConfig(channels=8, cells_per_stage=1),
        TrainConfig(
            epochs=3,
            batch_size=64,
            lr=0.3,
            warmup_epochs=0.3,
            train_subset=7000,
            val_subset=1000,
            images_seen=21_000,  # 3 epochs of CIFAR's 7,000; 16 epochs of digits' 1,293
            final_scale=2.0,
        ),
    ),
    "proxy": Preset(
        "proxy",
        ModelConfig(channels=16, cells_per_stage=2),
        TrainConfig(epochs=10, batch_size=512, lr=0.1, final_scale=2.0),
    ),
    "final": Preset(
        "final",
        ModelConfig(channels=36, cells_per_stage=6, drop_path=0.2, auxiliary=True),
        TrainConfig(epochs=60, batch_size=256, lr=0.1, cutout=16),
    ),
}


def fit_preset(preset: Preset, spec: DataSpec | None) -> Preset:
    """`preset` fitted to the data a model takes (the one place this is done): the classifier's class count,
    the input size with the stem stride that keeps compute per candidate near CIFAR's, and crop padding and
    cutout scaled from their 32-pixel values. At CIFAR-10's 10 classes and 32 pixels (and for `spec=None`,
    CIFAR-10) it is the preset itself."""
    if spec is None:
        return preset
    from nas.train.images import stem_stride

    def scaled(pixels_at_32: int) -> int:
        return round(pixels_at_32 * spec.image_size / 32)

    model = dataclasses.replace(
        preset.model,
        num_classes=spec.num_classes,
        image_size=spec.image_size,
        stem_stride=stem_stride(spec.image_size),
    )
    train = dataclasses.replace(
        preset.train,
        crop_padding=scaled(preset.train.crop_padding),
        cutout=scaled(preset.train.cutout),
    )
    return dataclasses.replace(preset, model=model, train=train)
