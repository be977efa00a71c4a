"""Image-classification data as uint8 arrays, from whichever source the user has, and the seeded splits.

Sources (`data_path`; a path that exists wins over a dataset name):
  None or "cifar10"          torchvision's CIFAR10, downloaded once into `<cache>/torchvision` (fails fast offline)
  "cifar100", "svhn", "fashionmnist", "mnist"   that torchvision dataset, same download rules
  .../cifar-10-batches-py    torchvision's pickled CIFAR-10 batches (or the folder holding that folder)
  folder with train.parquet and test.parquet    the Hugging Face layout: an image column (`img.bytes` or `image`)
                             and `label` (integers named by the schema metadata when it has names, or strings)
  folder with train/<class>/* and test/<class>/*   an image folder; classes are the sorted folder names
  folder with <class>/*      one image folder, split per class into train and test (`test_fraction`, seed 0)

Every image comes out as (S, S, 3) uint8 RGB at one size S: `image_size`, else 32 for the CIFAR family, else the
median of sqrt(width x height) over the images, rounded to what the networks can halve (a multiple of 4 up to
32, of 8 up to 64) and capped at 64. Grayscale and palette images become RGB, transparent ones are laid over
white, and images of another size are squashed to S x S (bilinear, PIL's antialiasing when shrinking): nothing
is cut off. `to_rgb_array` is that conversion; exported models repeat it in their `predict`. Labels are int64.

Decoded files (Parquet, image folders) are cached as an .npz under `$NAS_CACHE_DIR` (default `~/.cache/nas`;
its `cifar10/` folder keeps its historical name), keyed by the source files' names, sizes and mtimes and the
requested size, and every source is also kept in memory, so later candidates in the same process do not reload
it. Per-channel mean and std come from the training images (CIFAR-10 keeps its published values).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import pickle
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.atomic import atomic_path
from nas.errors import UserError

log = logging.getLogger(__name__)

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (32, 32, 3)  # CIFAR-10's
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # per-channel mean of CIFAR-10's 50,000 training images, in [0, 1]
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
MAX_AUTO_SIZE = 64  # the automatic image size never exceeds this: compute per candidate stays near CIFAR's
MIN_IMAGE_SIZE = 8  # below this the networks' two reductions leave nothing to pool
MAX_IMAGE_SIZE = 512
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
TEST_SPLIT_SEED = 0  # the test split of a single class folder never depends on the run's seed
DATA_HELP = (
    "pass --data PATH: a folder with train/<class>/ and test/<class>/ images, a folder with one sub-folder of "
    "images per class, a folder with train.parquet and test.parquet, a cifar-10-batches-py folder, or a "
    "dataset name (cifar10, cifar100, svhn, fashionmnist, mnist)"
)
_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class TorchvisionSource:
    cls: str  # class name in torchvision.datasets
    host: str  # probed before downloading: torchvision's own download has no timeout
    split_kw: str  # "train" (bool) or "split" ("train"/"test")
    family_size: int | None  # 32 for the CIFAR family; None: the median size rule


TORCHVISION = {
    "cifar10": TorchvisionSource("CIFAR10", "www.cs.toronto.edu", "train", 32),
    "cifar100": TorchvisionSource("CIFAR100", "www.cs.toronto.edu", "train", 32),
    "svhn": TorchvisionSource("SVHN", "ufldl.stanford.edu", "split", 32),
    "fashionmnist": TorchvisionSource(
        "FashionMNIST", "fashion-mnist.s3-website.eu-central-1.amazonaws.com", "train", None
    ),
    "mnist": TorchvisionSource("MNIST", "ossci-datasets.s3.amazonaws.com", "train", None),
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """The train/test split as read from one source, decoded at one size. Arrays are read-only."""

    train_images: np.ndarray  # (N, S, S, 3) uint8
    train_labels: np.ndarray  # (N,) int64 in [0, len(class_names))
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # what was read, for records
    class_names: tuple[str, ...] = CLASS_NAMES
    image_size_reason: str = "32: CIFAR-10's size"
    mean: tuple[float, float, float] = CIFAR10_MEAN  # per channel, of the training images, in [0, 1]
    std: tuple[float, float, float] = CIFAR10_STD

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[1])

    def summary(self) -> dict[str, Any]:
        """What a run records about its data (config.json, final.json, checkpoints)."""
        return {
            "source": self.source,
            "image_size": self.image_size,
            "image_size_reason": self.image_size_reason,
            "num_classes": len(self.class_names),
            "class_names": list(self.class_names),
            "mean": list(self.mean),
            "std": list(self.std),
            "train_images": len(self.train_labels),
            "test_images": len(self.test_labels),
        }


Cifar10 = Dataset  # the name from when CIFAR-10 was the only data


@dataclass(frozen=True, eq=False)
class Splits:
    """What a training run may see: plain numpy arrays and metadata (picklable, so it can be shipped to
    workers). `eq=False` keeps identity hashing: the trainer caches device copies by it.

    With `val_size=0` (final training) the validation arrays are empty; the test arrays are None unless
    `include_test=True`, so search trials cannot touch the test set by accident.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray | None
    test_labels: np.ndarray | None
    source: str
    seed: int
    class_names: tuple[str, ...] = ()  # () when unknown (hand-made splits): classes are then numbered
    mean: tuple[float, float, float] = CIFAR10_MEAN  # normalisation, from the training images
    std: tuple[float, float, float] = CIFAR10_STD
    image_size_reason: str = "32: CIFAR-10's size"

    def preprocessing(self) -> dict[str, Any]:
        """What a model trained on these splits expects of its input (stored in checkpoints and exports)."""
        return {
            "image_size": self.image_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "class_names": list(self.class_names) or [str(i) for i in range(self.num_classes)],
            "resize": "RGB, transparency over white, squashed to image_size x image_size (bilinear)",
        }

    @property
    def num_classes(self) -> int:
        seen = int(max(self.train_labels.max(initial=-1), self.val_labels.max(initial=-1))) + 1
        return max(seen, len(self.class_names))

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[1]) if self.train_images.ndim == 4 else IMAGE_SHAPE[0]


_MEMORY: dict[str, Dataset] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("NAS_CACHE_DIR") or Path.home() / ".cache" / "nas")


def load_dataset(
    data_path: str | os.PathLike | None = None,
    *,
    image_size: int | None = None,
    test_fraction: float = 0.2,
) -> Dataset:
    """Read the dataset at `data_path` (see the module docstring) at `image_size` pixels (None: automatic)."""
    check_image_size(image_size)
    if not 0.0 < test_fraction < 1.0:
        raise UserError(
            f"test fraction {test_fraction} must be between 0 and 1 (0.2 keeps a fifth for testing)"
        )
    if data_path is None:
        data_path = "cifar10"
    path = Path(data_path).expanduser()
    if not path.exists():
        name = str(data_path).lower().replace("-", "").replace("_", "")
        if name in TORCHVISION:
            key = f"torchvision:{name}:{image_size}"
            if key not in _MEMORY:
                _MEMORY[key] = _read_torchvision(name, image_size)
            return _MEMORY[key]
        raise UserError(
            f"no data at {path}: the folder does not exist and is not a dataset name; {DATA_HELP}"
        )
    kind, train_files, test_files = _detect(path)
    suffix = f":{test_fraction}" if kind == "classes" else ""
    key = f"{kind}:{_fingerprint(train_files + test_files)}:{image_size}{suffix}"
    if key not in _MEMORY:
        if kind == "batches":
            _MEMORY[key] = _read_batches(train_files[0].parent, image_size)
        else:
            _MEMORY[key] = _read_cached(key, kind, path, train_files, test_files, image_size, test_fraction)
    return _MEMORY[key]


def load_cifar10(data_path: str | os.PathLike | None = None) -> Dataset:
    """`load_dataset` at its defaults (kept for callers from when CIFAR-10 was the only data)."""
    return load_dataset(data_path)


def load_splits(
    data_path: str | os.PathLike | None,
    *,
    seed: int = 0,
    val_size: int | None = None,
    train_subset: int | None = None,
    val_subset: int | None = None,
    include_test: bool = False,
    image_size: int | None = None,
    test_fraction: float = 0.2,
) -> Splits:
    """A stratified, seeded train/validation split of the training set (45,000/5,000 for CIFAR-10).

    `val_size=None` holds out a tenth of the training images, at most 5,000. `train_subset`/`val_subset` keep a
    stratified subset of each part (smoke runs); `val_size=0` trains on the whole training set, as final
    training does.
    """
    data = load_dataset(data_path, image_size=image_size, test_fraction=test_fraction)
    n = len(data.train_labels)
    if val_size is None:
        val_size = min(5000, max(1, round(n / 10)))
    if not 0 <= val_size < n:
        raise UserError(f"validation size {val_size} must be in [0, {n}): the training set has {n} images")
    for name, value in (("train_subset", train_subset), ("val_subset", val_subset)):
        if value is not None and value < 1:
            raise UserError(f"{name}={value} must be at least 1")
    rng = np.random.default_rng(seed)
    val_idx = stratified_sample(data.train_labels, val_size, rng)
    train_idx = np.setdiff1d(np.arange(n), val_idx, assume_unique=True)
    if train_subset is not None and train_subset < len(train_idx):
        train_idx = train_idx[stratified_sample(data.train_labels[train_idx], train_subset, rng)]
    if val_subset is not None and val_subset < len(val_idx):
        val_idx = val_idx[stratified_sample(data.train_labels[val_idx], val_subset, rng)]
    return Splits(
        train_images=_readonly(data.train_images[train_idx]),
        train_labels=_readonly(data.train_labels[train_idx]),
        val_images=_readonly(data.train_images[val_idx]),
        val_labels=_readonly(data.train_labels[val_idx]),
        test_images=data.test_images if include_test else None,
        test_labels=data.test_labels if include_test else None,
        source=data.source,
        seed=seed,
        class_names=data.class_names,
        mean=data.mean,
        std=data.std,
        image_size_reason=data.image_size_reason,
    )


def stratified_sample(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of k items whose class proportions match `labels` (largest remainders settle rounding)."""
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * k / len(labels)
    take = np.floor(exact).astype(np.int64)
    short = k - int(take.sum())
    # Ties broken by class order, so the result depends only on the labels, k and the rng.
    take[np.argsort(-(exact - take), kind="stable")[:short]] += 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:t] for c, t in zip(classes, take)]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


# ---- image size and conversion ------------------------------------------------------------------------------


def stem_stride(image_size: int) -> int:
    """How much the networks' stem downsamples: the smallest power of two that brings the image to 32 pixels or
    fewer, so that compute per candidate stays close to CIFAR's."""
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
            f"image size {size} cannot be halved evenly by the networks (stem stride {stem_stride(size)}, then "
            f"two reductions); use a multiple of {step}, such as {lower if lower >= MIN_IMAGE_SIZE else upper}"
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
    """One PIL image as (size, size, 3) uint8 RGB: transparency laid over white, grayscale and palettes to RGB,
    any other size squashed to size x size (bilinear). Exported models' `predict` does exactly this."""
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


def _finish(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    source: str,
    class_names: tuple[str, ...],
    reason: str,
) -> Dataset:
    """Check the labels against the classes and attach the normalisation: the one exit of every reader."""
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
    if class_names == CLASS_NAMES and train_x.shape[1] == 32:
        mean, std = CIFAR10_MEAN, CIFAR10_STD  # CIFAR-10 keeps the published statistics it always had
    else:
        mean, std = normalization(train_x)
    return Dataset(
        *(_readonly(a) for a in (train_x, train_y, test_x, test_y)),
        source=source,
        class_names=class_names,
        image_size_reason=reason,
        mean=mean,
        std=std,
    )


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# ---- finding and reading the sources ----------------------------------------------------------------------


def _detect(path: Path) -> tuple[str, list[Path], list[Path]]:
    """(kind, train files, test files) of the first layout found at `path`."""
    for folder in (path, path / "cifar-10-batches-py"):
        train = [folder / f"data_batch_{i}" for i in range(1, 6)]
        if all(f.is_file() for f in train + [folder / "test_batch"]):
            return "batches", train, [folder / "test_batch"]
    for folder in (path, path / "plain_text", path / "data"):
        train, test = _parquet_files(folder, "train"), _parquet_files(folder, "test")
        if train and test:
            return "parquet", train, test
    if path.is_dir() and (path / "train").is_dir() and (path / "test").is_dir():
        train, test = (_image_files(path / split) for split in ("train", "test"))
        if train and test:
            return "folder", train, test
        empty = "train" if not train else "test"
        raise UserError(f"{path / empty} has no images in class sub-folders (<class>/image.jpg); {DATA_HELP}")
    if path.is_dir():
        files = _image_files(path)
        if files:
            return "classes", files, []
    raise UserError(
        f"no dataset found in {path}: looked for train/<class>/ + test/<class>/ images, <class>/ images, "
        f"train.parquet + test.parquet, and cifar-10-batches-py; {DATA_HELP}"
    )


def _image_files(folder: Path) -> list[Path]:
    """Image files one level down (<class>/<file>), sorted; hidden files and other suffixes are not images."""
    return sorted(
        f
        for f in folder.glob("*/*")
        if f.is_file()
        and f.suffix.lower() in IMAGE_SUFFIXES
        and not f.name.startswith(".")
        and not f.parent.name.startswith(".")
    )


def _class_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _parquet_files(folder: Path, split: str) -> list[Path]:
    exact = folder / f"{split}.parquet"
    return [exact] if exact.is_file() else sorted(folder.glob(f"{split}-*.parquet"))


def _fingerprint(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def _read_cached(
    key: str,
    kind: str,
    path: Path,
    train_files: list[Path],
    test_files: list[Path],
    image_size: int | None,
    test_fraction: float,
) -> Dataset:
    fingerprint = key.split(":")[1]
    suffix = ("" if image_size is None else f"-{image_size}px") + (
        f"-test{test_fraction:g}" if kind == "classes" else ""
    )
    cache = cache_dir() / "cifar10" / f"{kind}-{fingerprint}{suffix}.npz"
    source = f"{kind} {path}"
    if kind == "parquet":
        class_names = _parquet_class_names(train_files + test_files)
    else:
        class_names = tuple(_class_folders(path / "train" if kind == "folder" else path))
    arrays = None
    if cache.is_file():
        try:
            with np.load(cache) as z:
                arrays = [z[name] for name in ("train_x", "train_y", "test_x", "test_y")]
                reason = str(z["reason"]) if "reason" in z else f"{arrays[0].shape[1]}: median image size"
                if "class_names" in z:
                    class_names = tuple(str(c) for c in z["class_names"])
        except Exception as e:  # a torn or foreign cache file only costs a re-decode
            log.warning("ignoring unreadable cache %s (%s: %s)", cache, type(e).__name__, e)
            arrays = None
    if arrays is None:
        start = time.perf_counter()
        if kind == "parquet":
            train, test, class_names = _read_parquet(path, train_files, test_files, class_names)
        elif kind == "folder":
            train, test = _folder_sources(path, train_files, test_files, class_names)
        else:
            train, test = _class_folder_sources(train_files, class_names, test_fraction)
        size, reason = _choose_size(image_size, train.blobs + test.blobs, source)
        train_x, test_x = _decode(train, size, path), _decode(test, size, path)
        arrays = [train_x, train.labels, test_x, test.labels]
        log.info(
            "decoded %d images from %s at %dx%d in %.1f s",
            len(train.labels) + len(test.labels),
            path,
            size,
            size,
            time.perf_counter() - start,
        )
        try:
            with atomic_path(cache) as tmp, open(tmp, "wb") as f:
                np.savez(
                    f,
                    train_x=train_x,
                    train_y=train.labels,
                    test_x=test_x,
                    test_y=test.labels,
                    reason=np.array(reason),
                    class_names=np.array(class_names),
                )
        except OSError as e:  # a read-only home must not stop training; it only makes the next start slower
            log.warning(
                "could not cache decoded images at %s (%s); set NAS_CACHE_DIR to a writable folder", cache, e
            )
    return _finish(*arrays, source=source, class_names=class_names, reason=reason)


@dataclass
class _Encoded:
    """Undecoded images of one split: bytes or file paths, their labels, and names for error messages."""

    blobs: list[bytes | Path]
    labels: np.ndarray
    names: list[str]


def _folder_sources(
    root: Path, train_files: list[Path], test_files: list[Path], class_names: tuple[str, ...]
) -> tuple[_Encoded, _Encoded]:
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({f.parent.name for f in test_files} - set(index))
    if unknown:
        raise UserError(
            f"{root / 'test'} has classes {unknown} that {root / 'train'} lacks; a model cannot learn a class "
            "it never sees: add training images or remove them from test/"
        )
    empty = [c for c in class_names if not any(f.parent.name == c for f in train_files)]
    if empty:
        raise UserError(
            f"{root / 'train'}: class folder{'s' if len(empty) > 1 else ''} {', '.join(empty[:5])} "
            f"{'hold' if len(empty) > 1 else 'holds'} no images; add some or remove the folder"
        )

    def encoded(files: list[Path]) -> _Encoded:
        labels = np.array([index[f.parent.name] for f in files], np.int64)
        return _Encoded(list(files), labels, [str(f) for f in files])

    return encoded(train_files), encoded(test_files)


def _class_folder_sources(
    files: list[Path], class_names: tuple[str, ...], test_fraction: float
) -> tuple[_Encoded, _Encoded]:
    """One folder per class, split per class: round(n * fraction) images of each class (at least one, at most
    n - 1) go to test, chosen with a fixed seed, so the test set is the same for every run."""
    root = files[0].parent.parent
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[f.parent.name] for f in files], np.int64)
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [class_names[c] for c in np.flatnonzero(counts == 0)]
    if empty:
        raise UserError(
            f"{root}: class folder{'s' if len(empty) > 1 else ''} {', '.join(empty[:5])} "
            f"{'hold' if len(empty) > 1 else 'holds'} no images; add some or remove the folder"
        )
    lonely = [class_names[c] for c in np.flatnonzero(counts < 2)]
    if lonely and len(class_names) >= 2:
        raise UserError(
            f"{root}: class{'es' if len(lonely) > 1 else ''} {', '.join(lonely[:5])} "
            f"{'have' if len(lonely) > 1 else 'has'} a single image; each class needs at least 2 (one to "
            "train on, one to test on)"
        )
    rng = np.random.default_rng(TEST_SPLIT_SEED)
    test_idx = []
    for c, n in enumerate(counts):
        k = min(n - 1, max(1, round(n * test_fraction)))
        test_idx.append(rng.permutation(np.flatnonzero(labels == c))[:k])
    is_test = np.zeros(len(files), bool)
    if test_idx:
        is_test[np.concatenate(test_idx)] = True

    def encoded(mask: np.ndarray) -> _Encoded:
        chosen = [f for f, m in zip(files, mask) if m]
        return _Encoded(chosen, labels[mask], [str(f) for f in chosen])

    return encoded(~is_test), encoded(is_test)


def _parquet_class_names(files: list[Path]) -> tuple[str, ...]:
    """Label names from the schema metadata: the Hugging Face `huggingface` features (ClassLabel names) or a
    comma-separated `class_names` key; () when there are none."""
    import pyarrow.parquet as pq

    for f in files:
        try:
            meta = pq.read_schema(f).metadata or {}
        except Exception as e:
            log.debug("no schema metadata in %s (%s); reading it reports why", f, e)
            continue
        if b"huggingface" in meta:
            try:
                info = json.loads(meta[b"huggingface"])
                features = info.get("info", {}).get("features") or info.get("features") or {}
                for column in ("label", "labels"):
                    names = (features.get(column) or {}).get("names")
                    if names:
                        return tuple(str(n) for n in names)
            except (ValueError, AttributeError):
                pass
        if b"class_names" in meta:
            return tuple(meta[b"class_names"].decode().split(","))
    return ()


def _read_parquet(
    root: Path, train_files: list[Path], test_files: list[Path], class_names: tuple[str, ...]
) -> tuple[_Encoded, _Encoded, tuple[str, ...]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def read(files: list[Path]) -> tuple[list[bytes], list]:
        blobs: list[bytes] = []
        labels: list = []
        for f in files:
            try:
                table = pq.read_table(f)
            except Exception as e:
                raise UserError(
                    f"{f} is not a readable Parquet file ({type(e).__name__}: {e}); {DATA_HELP}"
                ) from None
            names = table.column_names
            image_col = next((c for c in ("img", "image") if c in names), None)
            label_col = next((c for c in ("label", "labels") if c in names), None)
            if image_col is None or label_col is None:
                raise UserError(
                    f"{f} has columns {names}; expected an image column (img or image) and label; {DATA_HELP}"
                )
            column = table.column(image_col).combine_chunks()
            if pa.types.is_struct(column.type):
                column = column.field("bytes")
            blobs += column.to_pylist()
            labels += table.column(label_col).to_pylist()
        if any(b is None for b in blobs):
            raise UserError(f"{root} has rows without image bytes; {DATA_HELP}")
        return blobs, labels

    train_blobs, train_raw = read(train_files)
    test_blobs, test_raw = read(test_files)
    if any(isinstance(v, str) for v in train_raw + test_raw):  # string labels: classes are their sorted names
        class_names = tuple(sorted({str(v) for v in train_raw}))
        index = {name: i for i, name in enumerate(class_names)}
        missing = sorted({str(v) for v in test_raw} - set(index))
        if missing:
            raise UserError(
                f"{root}: test labels {missing[:5]} never occur in training; remove them from test"
            )
        train_y = np.array([index[str(v)] for v in train_raw], np.int64)
        test_y = np.array([index[str(v)] for v in test_raw], np.int64)
    else:
        train_y, test_y = _labels(train_raw, root), _labels(test_raw, root)
        k = int(max(train_y.max(initial=-1), test_y.max(initial=-1))) + 1
        if len(class_names) < k:
            class_names = class_names + tuple(str(i) for i in range(len(class_names), k))
    return (
        _Encoded(train_blobs, train_y, [f"training image {i} of {root}" for i in range(len(train_y))]),
        _Encoded(test_blobs, test_y, [f"test image {i} of {root}" for i in range(len(test_y))]),
        class_names,
    )


def _labels(values: list, where: Path) -> np.ndarray:
    try:
        labels = np.asarray(values, dtype=np.int64)
    except (TypeError, ValueError):
        raise UserError(f"labels in {where} are not integers or class names; {DATA_HELP}") from None
    if labels.size and labels.min() < 0:
        raise UserError(f"labels in {where} include {labels.min()}; class labels must be 0 or more")
    return labels


def _open(blob: bytes | Path):
    from PIL import Image

    return Image.open(blob if isinstance(blob, Path) else io.BytesIO(blob))


def _choose_size(requested: int | None, blobs: list[bytes | Path], source: str) -> tuple[int, str]:
    """The requested size, or the automatic one from the sizes of (up to 2,000 of) the images' headers."""
    if requested is not None:
        return requested, f"{requested}: --image-size"
    rng = np.random.default_rng(0)
    sample = rng.permutation(len(blobs))[:2000] if len(blobs) > 2000 else range(len(blobs))
    sizes = []
    for i in sample:
        try:
            with _open(blobs[i]) as img:
                sizes.append(img.size)
        except Exception as e:
            log.debug("no size for image %d of %s (%s); decoding names the file", i, source, e)
            continue
    if not sizes:
        raise UserError(f"no readable image in {source}; {DATA_HELP}")
    return auto_image_size(sizes)


def _decode(encoded: _Encoded, size: int, where: Path) -> np.ndarray:
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
            with _open(blob) as img:
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
                f"{encoded.names[i]} is not a readable image ({type(e).__name__}: {' '.join(str(e).split())}); "
                "fix or remove it"
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


def _resize_all(images: np.ndarray, size: int) -> np.ndarray:
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


def _read_batches(folder: Path, image_size: int | None = None) -> Dataset:
    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        f = folder / name
        try:
            with open(f, "rb") as fh:
                d = pickle.load(fh, encoding="latin1")
            x = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            y = np.asarray(d.get("labels", d.get("fine_labels")), dtype=np.int64)
            if len(x) != len(y):
                raise ValueError(f"{len(x)} images but {len(y)} labels")
        except FileNotFoundError:
            raise UserError(f"{f} is missing; {DATA_HELP}") from None
        except Exception as e:
            raise UserError(
                f"{f} is not a readable CIFAR-10 batch ({type(e).__name__}: {e}); {DATA_HELP}"
            ) from None
        return x, y

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    test_x, test_y = read("test_batch")
    size = image_size or 32
    return _finish(
        _resize_all(np.concatenate([p[0] for p in parts]), size),
        np.concatenate([p[1] for p in parts]),
        _resize_all(test_x, size),
        test_y,
        source=f"cifar-10-batches-py {folder}",
        class_names=CLASS_NAMES,
        reason="32: the CIFAR family's size" if image_size is None else f"{size}: --image-size",
    )


def _read_torchvision(name: str, image_size: int | None) -> Dataset:
    """A torchvision dataset by name from `<cache>/torchvision`, downloaded first if it is not there."""
    spec = TORCHVISION[name]
    root = cache_dir() / "torchvision"
    if name == "cifar10":
        return _read_batches(_download_cifar10(root), image_size)
    import torchvision.datasets as tvd

    cls = getattr(tvd, spec.cls)

    def split(train: bool, download: bool):
        kw = {"train": train} if spec.split_kw == "train" else {"split": "train" if train else "test"}
        return cls(str(root), download=download, **kw)

    try:
        parts = [split(True, False), split(False, False)]
    except Exception:  # not downloaded yet (torchvision raises RuntimeError, or FileNotFoundError for SVHN)
        _probe(spec.host, f"{name} is not in {root}")
        with _SocketTimeout(60.0):
            try:
                parts = [split(True, True), split(False, True)]
            except Exception as e:
                raise UserError(
                    f"downloading {name} into {root} failed ({type(e).__name__}: {e}); {DATA_HELP}"
                ) from None

    def arrays(ds) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(ds.data, dtype=np.uint8)
        if x.ndim == 4 and x.shape[1] == 3:  # SVHN stores (N, 3, H, W)
            x = x.transpose(0, 2, 3, 1)
        y = np.asarray(getattr(ds, "targets", None) if hasattr(ds, "targets") else ds.labels, dtype=np.int64)
        return x, y

    (train_x, train_y), (test_x, test_y) = arrays(parts[0]), arrays(parts[1])
    if spec.family_size is not None and image_size is None:
        size, reason = spec.family_size, f"{spec.family_size}: the CIFAR family's size"
    elif image_size is not None:
        size, reason = image_size, f"{image_size}: --image-size"
    else:
        size, reason = auto_image_size([(train_x.shape[2], train_x.shape[1])])
    classes = getattr(parts[0], "classes", None) or [str(i) for i in range(int(train_y.max()) + 1)]
    return _finish(
        _resize_all(train_x, size),
        train_y,
        _resize_all(test_x, size),
        test_y,
        source=f"torchvision {spec.cls} {root}",
        class_names=tuple(str(c) for c in classes),
        reason=reason,
    )


class _SocketTimeout:
    def __init__(self, seconds: float):
        self.seconds = seconds

    def __enter__(self):
        self.previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self.seconds)

    def __exit__(self, *exc):
        socket.setdefaulttimeout(self.previous)


def _probe(host: str, what: str) -> None:
    """Fail at once when the download host is unreachable: torchvision's own download would hang where the
    network drops packets."""
    try:
        socket.create_connection((host, 443), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise UserError(f"{what} and cannot be downloaded ({host} unreachable: {e}); {DATA_HELP}") from None


def _download_cifar10(root: Path) -> Path:
    """torchvision's CIFAR10 in `root`, downloading it if needed."""
    folder = root / "cifar-10-batches-py"
    if all((folder / n).is_file() for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        return folder
    _probe(TORCHVISION["cifar10"].host, f"CIFAR-10 is not in {folder}")
    from torchvision.datasets import CIFAR10

    with _SocketTimeout(60.0):
        try:
            CIFAR10(str(root), train=True, download=True)
        except Exception as e:
            raise UserError(
                f"downloading CIFAR-10 into {root} failed ({type(e).__name__}: {e}); {DATA_HELP}"
            ) from None
    return folder


__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CLASS_NAMES",
    "TORCHVISION",
    "Cifar10",
    "Dataset",
    "Splits",
    "auto_image_size",
    "cache_dir",
    "check_image_size",
    "load_cifar10",
    "load_dataset",
    "load_splits",
    "stem_stride",
    "stratified_sample",
    "to_rgb_array",
]
