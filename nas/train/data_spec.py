"""What a model takes as input, resolved once where the data is read and then carried whole: the `DataSpec`.

The data readers (nas/train/data_sources.py) are the only place that works out the image size (and why), the
class names and the per-channel mean and std; everything after them (the candidate request, config.json,
checkpoints, final.json, exports) carries this value, and `nas.train.presets.fit_preset` is the one function
that fits a training preset to it. Imports nothing heavy: it travels in configs and requests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # per-channel mean of CIFAR-10's 50,000 training images, in [0, 1]
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
# How every image becomes the network's input (nas.train.data_sources.to_rgb_array; exports repeat it).
RESIZE_POLICY = "RGB, transparency over white, squashed to image_size x image_size (bilinear)"


@dataclass(frozen=True)
class DataSpec:
    """The input a model was trained on: square RGB images of `image_size` pixels, normalised by `mean` and
    `std`, labelled with `class_names`."""

    image_size: int  # pixels, square
    image_size_reason: str  # how the size was chosen: "--image-size", the CIFAR family's, the median image's
    class_names: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, in [0, 1], of the training images
    std: tuple[float, ...]
    channels: int = 3
    resize: str = RESIZE_POLICY
    source: str = ""  # what was read, for records

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; also the `preprocessing` of checkpoints and exports (image_size, mean, std,
        class_names and the rest)."""
        return {**dataclasses.asdict(self), "num_classes": self.num_classes}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSpec:
        """From `to_dict`, or from what runs and checkpoints recorded before the spec existed (config.json's
        `dataset` summary, a checkpoint's `preprocessing`: no reason, resize policy or channels)."""
        names = data.get("class_names") or [str(i) for i in range(int(data["num_classes"]))]
        return cls(
            image_size=int(data["image_size"]),
            image_size_reason=str(data.get("image_size_reason") or f"{int(data['image_size'])}: recorded"),
            class_names=tuple(str(n) for n in names),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
            channels=int(data.get("channels", 3)),
            resize=str(data.get("resize") or RESIZE_POLICY),
            source=str(data.get("source") or ""),
        )

    @classmethod
    def of(cls, value: DataSpec | Mapping[str, Any] | None) -> DataSpec | None:
        return value if value is None or isinstance(value, DataSpec) else cls.from_dict(value)


def recorded_spec(config: Mapping[str, Any]) -> DataSpec | None:
    """The spec a run's config.json recorded (`data_spec`; runs from before the DataSpec: their `dataset`
    summary), or None when the run read no data."""
    recorded = config.get("data_spec") or config.get("dataset")
    return DataSpec.from_dict(recorded) if recorded else None


def cifar10_spec(num_classes: int = len(CLASS_NAMES), image_size: int = 32) -> DataSpec:
    """CIFAR-10's input: what a run without own data, and weights saved before checkpoints carried their
    spec, were trained on (other class counts are numbered)."""
    names = CLASS_NAMES if num_classes == len(CLASS_NAMES) else tuple(str(i) for i in range(num_classes))
    return DataSpec(image_size, f"{image_size}: CIFAR-10's size", names, CIFAR10_MEAN, CIFAR10_STD)


__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CLASS_NAMES",
    "RESIZE_POLICY",
    "DataSpec",
    "cifar10_spec",
    "recorded_spec",
]
