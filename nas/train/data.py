"""Image-classification data as uint8 arrays, from whichever source the user has, and the seeded splits.

Sources (`data_path`; a path that exists wins over a dataset name):
  None or "cifar10"          torchvision's CIFAR10, downloaded once into `<cache>/torchvision` (fails fast offline)
  "cifar100", "svhn", "fashionmnist", "mnist"   that torchvision dataset, same download rules
  .../cifar-10-batches-py    torchvision's pickled CIFAR-10 batches (or the folder holding that folder)
  folder with train.parquet and test.parquet    the Hugging Face layout: an image column (`img.bytes` or `image`)
                             and `label` (integers named by the schema metadata when it has names, or strings)
  folder with train/<class>/* and test/<class>/*   an image folder; classes are the sorted folder names
  folder with <class>/*      one image folder, split per class into train and test (`test_fraction`, seed 0)

Each source has its module: nas/train/downloads.py (torchvision names, cifar-10-batches-py),
parquet_data.py, image_folders.py; images.py holds what they share (size rule, conversion, decoding,
`finish_dataset`, where the DataSpec of nas/train/data_spec.py is resolved). This module finds the source,
caches what was decoded, and makes the seeded splits.

Decoded files (Parquet, image folders) are cached as an .npz under `$NAS_CACHE_DIR` (default `~/.cache/nas`;
its `cifar10/` folder keeps its historical name), keyed by the source files' names, sizes and mtimes and the
requested size, and every source is also kept in memory, so later candidates in the same process do not reload
it. Per-channel mean and std come from the training images (CIFAR-10 keeps its published values).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from nas.atomic import atomic_path
from nas.errors import UserError
from nas.train.data_spec import CIFAR10_MEAN, CIFAR10_STD, CLASS_NAMES, DataSpec, cifar10_spec
from nas.train.downloads import TORCHVISION, cache_dir, read_batches, read_torchvision
from nas.train.image_folders import class_folder_sources, class_folders, folder_sources, image_files
from nas.train.images import (
    DATA_HELP,
    Dataset,
    auto_image_size,
    check_image_size,
    choose_size,
    decode,
    finish_dataset,
    readonly,
    stem_stride,
    to_rgb_array,
)
from nas.train.parquet_data import parquet_class_names, parquet_files, read_parquet

log = logging.getLogger(__name__)

IMAGE_SHAPE = (32, 32, 3)  # CIFAR-10's

Cifar10 = Dataset  # the name from when CIFAR-10 was the only data


@dataclass(frozen=True, eq=False)
class Splits:
    """What a training run may see: plain numpy arrays and the DataSpec (picklable, so it can be shipped to
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
    spec: DataSpec | None = None  # None for hand-made splits: CIFAR-10's normalisation, numbered classes

    @property
    def data_spec(self) -> DataSpec:
        if self.spec is not None:
            return self.spec
        seen = int(max(self.train_labels.max(initial=-1), self.val_labels.max(initial=-1))) + 1
        size = int(self.train_images.shape[1]) if self.train_images.ndim == 4 else IMAGE_SHAPE[0]
        return replace(
            cifar10_spec(seen, size), image_size_reason=f"{size}: the arrays' size", source=self.source
        )

    @property
    def num_classes(self) -> int:
        return self.data_spec.num_classes

    @property
    def image_size(self) -> int:
        return self.data_spec.image_size

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.data_spec.class_names

    @property
    def mean(self) -> tuple[float, ...]:
        return self.data_spec.mean

    @property
    def std(self) -> tuple[float, ...]:
        return self.data_spec.std


_MEMORY: dict[str, Dataset] = {}


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
                _MEMORY[key] = read_torchvision(name, image_size)
            return _MEMORY[key]
        raise UserError(
            f"no data at {path}: the folder does not exist and is not a dataset name; {DATA_HELP}"
        )
    kind, train_files, test_files = _detect(path)
    suffix = f":{test_fraction}" if kind == "classes" else ""
    key = f"{kind}:{_fingerprint(train_files + test_files)}:{image_size}{suffix}"
    if key not in _MEMORY:
        if kind == "batches":
            _MEMORY[key] = read_batches(train_files[0].parent, image_size)
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
        train_images=readonly(data.train_images[train_idx]),
        train_labels=readonly(data.train_labels[train_idx]),
        val_images=readonly(data.train_images[val_idx]),
        val_labels=readonly(data.train_labels[val_idx]),
        test_images=data.test_images if include_test else None,
        test_labels=data.test_labels if include_test else None,
        source=data.source,
        seed=seed,
        spec=data.spec,
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


# ---- finding the source and caching what was decoded ----------------------------------------------------


def _detect(path: Path) -> tuple[str, list[Path], list[Path]]:
    """(kind, train files, test files) of the first layout found at `path`."""
    for folder in (path, path / "cifar-10-batches-py"):
        train = [folder / f"data_batch_{i}" for i in range(1, 6)]
        if all(f.is_file() for f in train + [folder / "test_batch"]):
            return "batches", train, [folder / "test_batch"]
    for folder in (path, path / "plain_text", path / "data"):
        train, test = parquet_files(folder, "train"), parquet_files(folder, "test")
        if train and test:
            return "parquet", train, test
    if path.is_dir() and (path / "train").is_dir() and (path / "test").is_dir():
        train, test = (image_files(path / split) for split in ("train", "test"))
        if train and test:
            return "folder", train, test
        empty = "train" if not train else "test"
        raise UserError(f"{path / empty} has no images in class sub-folders (<class>/image.jpg); {DATA_HELP}")
    if path.is_dir():
        files = image_files(path)
        if files:
            return "classes", files, []
    raise UserError(
        f"no dataset found in {path}: looked for train/<class>/ + test/<class>/ images, <class>/ images, "
        f"train.parquet + test.parquet, and cifar-10-batches-py; {DATA_HELP}"
    )


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
        class_names = parquet_class_names(train_files + test_files)
    else:
        class_names = tuple(class_folders(path / "train" if kind == "folder" else path))
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
            train, test, class_names = read_parquet(path, train_files, test_files, class_names)
        elif kind == "folder":
            train, test = folder_sources(path, train_files, test_files, class_names)
        else:
            train, test = class_folder_sources(train_files, class_names, test_fraction)
        size, reason = choose_size(image_size, train.blobs + test.blobs, source)
        train_x, test_x = decode(train, size, path), decode(test, size, path)
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
    return finish_dataset(*arrays, source=source, class_names=class_names, reason=reason)


__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CLASS_NAMES",
    "DATA_HELP",
    "TORCHVISION",
    "Cifar10",
    "DataSpec",
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
