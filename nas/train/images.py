"""What every data source shares: the image size rule and checks, the conversion of one image to the
network's input, decoding, the normalisation, and `finish_dataset`, the one exit of every reader, where the
DataSpec is resolved.

Every image comes out as (S, S, 3) uint8 RGB at one size S: `image_size`, else 32 for the CIFAR family, else
the median of sqrt(width x height) over the images, rounded to what the networks can halve (a multiple of 4 up
to 32, of 8 up to 64) and capped at 64. Grayscale and palette images become RGB, transparent ones are laid over
white, and images of another size are squashed to S x S (bilinear, PIL's antialiasing when shrinking): nothing
is cut off. `to_rgb_array` is that conversion; exported models repeat it in their `predict`. Labels are int64.
Per-channel mean and std come from the training images (CIFAR-10 keeps its published values).
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import UserError
from nas.train.data_spec import CIFAR10_MEAN, CIFAR10_STD, CLASS_NAMES, DataSpec

log = logging.getLogger(__name__)

MAX_AUTO_SIZE = 64  # the automatic image size never exceeds this: compute per candidate stays near CIFAR's
MIN_IMAGE_SIZE = 8  # below this the networks' two reductions leave nothing to pool
MAX_IMAGE_SIZE = 512
DATA_HELP = (
    "pass --data PATH: a folder with train/<class>/ and test/<class>/ images, a folder with one sub-folder "
    "of images per class, a folder with train.parquet and test.parquet, a cifar-10-batches-py folder, or a "
    "dataset name (cifar10, cifar100, svhn, fashionmnist, mnist)"
)


@dataclass(frozen=True, eq=False)
class Dataset:
    """The train/test split as read from one source, decoded at one size, with its DataSpec. Arrays are
    read-only."""

    train_images: np.ndarray  # (N, S, S, 3) uint8
    train_labels: np.ndarray  # (N,) int64 in [0, spec.num_classes)
    test_images: np.ndarray
    test_labels: np.ndarray
    spec: DataSpec

    @property
    def image_size(self) -> int:
        return self.spec.image_size

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.spec.class_names

    @property
    def source(self) -> str:
        return self.spec.source

    @property
    def image_size_reason(self) -> str:
        return self.spec.image_size_reason

    @property
    def mean(self) -> tuple[float, ...]:
        return self.spec.mean

    @property
    def std(self) -> tuple[float, ...]:
        return self.spec.std

    def summary(self) -> dict[str, Any]:
        """What a record keeps about the data: the spec and the image counts."""
        return {
            **self.spec.to_dict(),
            "train_images": len(self.train_labels),
            "test_images": len(self.test_labels),
        }


def stem_stride(image_size: int) -> int:
    """How much the networks' stem downsamples: the smallest power of two that brings the image to 32 pixels
    or fewer, so that compute per candidate stays close to CIFAR's."""
    stride = 1
    while image_size / stride > 32:
        stride *= 2
    return stride


def check_image_size(size: int | None) -> None:
    """Refuse sizes the networks cannot take: after the stem, two reductions must halve the image evenly."""
    if size is None:
        return
    if not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise UserError(f"image size {size} must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} pixels")
    step = 4 * stem_stride(size)
    if size % step:
        lower, upper = size - size % step, size - size % step + step
        raise UserError(
            f"image size {size} cannot be halved evenly by the networks (stem stride {stem_stride(size)}, "
            f"then two reductions); use a multiple of {step}, such as "
            f"{lower if lower >= MIN_IMAGE_SIZE else upper}"
        )


def auto_image_size(sizes: list[tuple[int, int]]) -> tuple[int, str]:
    """(size, reason) from the images' (width, height): the median of sqrt(w*h), rounded, capped at 64."""
    median = float(np.median([math.sqrt(w * h) for w, h in sizes]))
    capped = min(median, MAX_AUTO_SIZE)
    step = 4 * stem_stride(max(MIN_IMAGE_SIZE, round(capped)))
    size = int(min(MAX_AUTO_SIZE, max(MIN_IMAGE_SIZE, step * round(capped / step))))
    note = f", capped at {MAX_AUTO_SIZE}" if median > MAX_AUTO_SIZE else ""
    return (
        size,
        f"{size}: median image size {median:g} pixels (sqrt of width x height), rounded to {step}{note}",
    )


def to_rgb_array(image: Any, size: int) -> np.ndarray:
    """One PIL image as (size, size, 3) uint8 RGB: transparency laid over white, grayscale and palettes to
    RGB, any other size squashed to size x size (bilinear). Exported models' `predict` does exactly this."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def normalization(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 (N, H, W, 3) images, in [0, 1], computed in chunks (float64 sums)."""
    total = np.zeros(3)
    squares = np.zeros(3)
    count = 0
    for i in range(0, len(images), 4096):
        chunk = images[i : i + 4096].reshape(-1, 3).astype(np.float64) / 255.0
        total += chunk.sum(0)
        squares += (chunk**2).sum(0)
        count += len(chunk)
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean**2, 0.0))
    std = np.where(std < 1e-3, 1.0, std)  # a constant channel is only shifted, never divided by ~0
    return tuple(round(float(v), 4) for v in mean), tuple(round(float(v), 4) for v in std)


def finish_dataset(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    source: str,
    class_names: tuple[str, ...],
    reason: str,
) -> Dataset:
    """Check the labels against the classes and resolve the DataSpec (size, classes, normalisation): the one
    exit of every reader, and the one place the spec is worked out."""
    where = source
    if len(class_names) < 2:
        raise UserError(
            f"{where} has only {len(class_names)} class ({', '.join(class_names) or 'none'}); a classifier "
            "needs at least 2 classes"
        )
    if len(train_y) == 0:
        raise UserError(f"{where} has no training images; {DATA_HELP}")
    if len(test_y) == 0:
        raise UserError(f"{where} has no test images; add test images or use one folder per class")
    k = len(class_names)
    for split, y in (("training", train_y), ("test", test_y)):
        if y.size and (y.min() < 0 or y.max() >= k):
            raise UserError(
                f"{where}: {split} labels run from {y.min()} to {y.max()} but there are {k} classes"
            )
    counts = np.bincount(train_y, minlength=k)
    empty = [class_names[c] for c in np.flatnonzero(counts == 0)]
    if empty:
        raise UserError(
            f"{where}: class{'es' if len(empty) > 1 else ''} {', '.join(empty[:5])} "
            f"{'have' if len(empty) > 1 else 'has'} no training images; add some or remove the class"
        )
    untested = [class_names[c] for c in np.flatnonzero(np.bincount(test_y, minlength=k) == 0)]
    if untested:
        log.warning(
            "%s: %d class(es) have no test images (%s); test accuracy will not measure them",
            where,
            len(untested),
            ", ".join(untested[:5]),
        )
    if tuple(class_names) == CLASS_NAMES and train_x.shape[1] == 32:
        mean, std = CIFAR10_MEAN, CIFAR10_STD  # CIFAR-10 keeps the published statistics it always had
    else:
        mean, std = normalization(train_x)
    spec = DataSpec(
        image_size=int(train_x.shape[1]),
        image_size_reason=reason,
        class_names=tuple(class_names),
        mean=tuple(mean),
        std=tuple(std),
        source=source,
    )
    return Dataset(*(readonly(a) for a in (train_x, train_y, test_x, test_y)), spec=spec)


def readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass
class Encoded:
    """Undecoded images of one split: bytes or file paths, their labels, and names for error messages."""

    blobs: list[bytes | Path]
    labels: np.ndarray
    names: list[str]


def open_image(blob: bytes | Path):
    from PIL import Image

    return Image.open(blob if isinstance(blob, Path) else io.BytesIO(blob))


def choose_size(requested: int | None, blobs: list[bytes | Path], source: str) -> tuple[int, str]:
    """The requested size, or the automatic one from the sizes of (up to 2,000 of) the images' headers."""
    if requested is not None:
        return requested, f"{requested}: --image-size"
    rng = np.random.default_rng(0)
    sample = rng.permutation(len(blobs))[:2000] if len(blobs) > 2000 else range(len(blobs))
    sizes = []
    for i in sample:
        try:
            with open_image(blobs[i]) as img:
                sizes.append(img.size)
        except Exception as e:
            log.debug("no size for image %d of %s (%s); decoding names the file", i, source, e)
            continue
    if not sizes:
        raise UserError(f"no readable image in {source}; {DATA_HELP}")
    return auto_image_size(sizes)


def decode(encoded: Encoded, size: int, where: Path) -> np.ndarray:
    """Decode to (N, size, size, 3) uint8. When every image is a JPEG, one batched torchvision call decodes
    them (measured bit-identical to PIL and ~5x faster on one core); images of another size, other formats
    and torchvision builds without image decoding go through PIL (`to_rgb_array`) one by one."""
    blobs = encoded.blobs
    out = np.zeros((len(blobs), size, size, 3), np.uint8)
    if not blobs:
        return out
    fast = _decode_jpegs(blobs)
    converted = {"grayscale or palette": 0, "with transparency": 0, "resized": 0}
    for i, blob in enumerate(blobs):
        if fast is not None and fast[i].shape == (size, size, 3):
            out[i] = fast[i]
            continue
        try:
            with open_image(blob) as img:
                img.draft("RGB", (size, size))  # JPEGs: decode at a reduced scale when that is still >= size
                if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                    converted["with transparency"] += 1
                elif img.mode != "RGB":
                    converted["grayscale or palette"] += 1
                if img.size != (size, size):
                    converted["resized"] += 1
                out[i] = to_rgb_array(img, size)
        except Exception as e:
            raise UserError(
                f"{encoded.names[i]} is not a readable image "
                f"({type(e).__name__}: {' '.join(str(e).split())}); fix or remove it"
            ) from None
    done = ", ".join(f"{n} {what}" for what, n in converted.items() if n)
    if done:
        log.info("converted images of %s to %dx%d RGB: %s", where, size, size, done)
    return out


def _decode_jpegs(blobs: list[bytes | Path]) -> list[np.ndarray] | None:
    """All blobs decoded as JPEG by torchvision, or None when any is not an in-memory JPEG or torchvision
    cannot decode."""
    if not all(
        isinstance(b, bytes) and b[:2] == b"\xff\xd8" for b in blobs
    ):  # the JPEG start-of-image marker
        return None
    try:
        import torch

        with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders in favour of torchcodec
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import ImageReadMode, decode_jpeg

            decoded = decode_jpeg(
                [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs], mode=ImageReadMode.RGB
            )
    except Exception:  # no decoder in this build, or a damaged file: PIL names the culprit
        return None
    return [img.permute(1, 2, 0).numpy() for img in decoded]


def resize_all(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, 3) arrays to (N, size, size, 3) through `to_rgb_array`."""
    from PIL import Image

    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1:] == (size, size, 3):
        return np.ascontiguousarray(images)
    if images.shape[3] == 1 and images.shape[1:3] == (size, size):
        return np.ascontiguousarray(np.repeat(images, 3, axis=3))
    out = np.zeros((len(images), size, size, 3), np.uint8)
    for i, img in enumerate(images):
        out[i] = to_rgb_array(Image.fromarray(img[..., 0] if img.shape[2] == 1 else img), size)
    return out


__all__ = [
    "DATA_HELP",
    "Dataset",
    "Encoded",
    "auto_image_size",
    "check_image_size",
    "choose_size",
    "decode",
    "finish_dataset",
    "normalization",
    "open_image",
    "readonly",
    "resize_all",
    "stem_stride",
    "to_rgb_array",
]
