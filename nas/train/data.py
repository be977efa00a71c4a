"""CIFAR-10 as uint8 arrays, from whichever copy the user has, and the seeded train/validation split.

Sources (`data_path`):
  None                      torchvision's CIFAR10, downloaded once into `<cache>/torchvision` (fails fast offline)
  .../cifar-10-batches-py   torchvision's pickled batches (or the folder holding that folder)
  folder with train.parquet and test.parquet   the Hugging Face layout: `img.bytes` (or `image`) + `label`
  folder with train/<class>/* and test/<class>/*   an image folder; classes are the sorted folder names

Images come out as (N, 32, 32, 3) uint8, labels as int64. Decoded files (Parquet, image folders) are cached as
an .npz under `$NAS_CACHE_DIR` (default `~/.cache/nas`), keyed by the source files' names, sizes and mtimes,
and every source is also kept in memory, so later candidates in the same process do not reload it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.atomic import atomic_path
from nas.errors import UserError

log = logging.getLogger(__name__)

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (32, 32, 3)
DATA_HELP = (
    "pass --data PATH: a cifar-10-batches-py folder (or its parent), a folder with train.parquet and "
    "test.parquet, or a folder with train/<class>/ and test/<class>/ images"
)
_DOWNLOAD_HOST = ("www.cs.toronto.edu", 443)  # torchvision's CIFAR10 URL
_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True, eq=False)
class Cifar10:
    """The official split as read from one source. Arrays are read-only."""

    train_images: np.ndarray  # (50000, 32, 32, 3) uint8
    train_labels: np.ndarray  # (50000,) int64
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # what was read, for records


@dataclass(frozen=True, eq=False)
class Splits:
    """What a training run may see. `eq=False` keeps identity hashing: the trainer caches device copies by it.

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

    @property
    def num_classes(self) -> int:
        return int(max(self.train_labels.max(initial=-1), self.val_labels.max(initial=-1))) + 1


_MEMORY: dict[str, Cifar10] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("NAS_CACHE_DIR") or Path.home() / ".cache" / "nas")


def load_cifar10(data_path: str | os.PathLike | None = None) -> Cifar10:
    """Read CIFAR-10 from `data_path` (see the module docstring) or torchvision's download."""
    if data_path is None:
        root = cache_dir() / "torchvision"
        key = f"torchvision:{root}"
        if key not in _MEMORY:
            _MEMORY[key] = _read_batches(_download(root))
        return _MEMORY[key]
    path = Path(data_path).expanduser()
    if not path.exists():
        raise UserError(f"no CIFAR-10 data at {path}: the folder does not exist; {DATA_HELP}")
    kind, train_files, test_files = _detect(path)
    key = f"{kind}:{_fingerprint(train_files + test_files)}"
    if key not in _MEMORY:
        if kind == "batches":
            _MEMORY[key] = _read_batches(train_files[0].parent)
        else:
            _MEMORY[key] = _read_cached(key, kind, path, train_files, test_files)
    return _MEMORY[key]


def load_splits(
    data_path: str | os.PathLike | None,
    *,
    seed: int = 0,
    val_size: int = 5000,
    train_subset: int | None = None,
    val_subset: int | None = None,
    include_test: bool = False,
) -> Splits:
    """A stratified, seeded train/validation split of the training set (45,000/5,000 by default).

    `train_subset`/`val_subset` keep a stratified subset of each part (smoke runs); `val_size=0` trains on the
    whole training set, as final training does.
    """
    data = load_cifar10(data_path)
    n = len(data.train_labels)
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
    if (path / "train").is_dir() and (path / "test").is_dir():
        train, test = (
            sorted(f for f in (path / split).glob("*/*") if f.is_file()) for split in ("train", "test")
        )
        if train and test:
            return "folder", train, test
    raise UserError(
        f"no CIFAR-10 data found in {path}: looked for cifar-10-batches-py (data_batch_1..5, test_batch), "
        f"train.parquet + test.parquet, and train/<class>/ + test/<class>/ images; {DATA_HELP}"
    )


def _parquet_files(folder: Path, split: str) -> list[Path]:
    exact = folder / f"{split}.parquet"
    return [exact] if exact.is_file() else sorted(folder.glob(f"{split}-*.parquet"))


def _fingerprint(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def _read_cached(key: str, kind: str, path: Path, train_files: list[Path], test_files: list[Path]) -> Cifar10:
    cache = cache_dir() / "cifar10" / f"{kind}-{key.split(':', 1)[1]}.npz"
    source = f"{kind} {path}"
    if cache.is_file():
        try:
            with np.load(cache) as z:
                arrays = [_readonly(z[name]) for name in ("train_x", "train_y", "test_x", "test_y")]
            return Cifar10(*arrays, source=source)
        except Exception as e:  # a torn or foreign cache file only costs a re-decode
            log.warning("ignoring unreadable cache %s (%s: %s)", cache, type(e).__name__, e)
    start = time.perf_counter()
    reader = _read_parquet_split if kind == "parquet" else _read_folder_split
    train_x, train_y = reader(path, train_files)
    test_x, test_y = reader(path, test_files)
    log.info(
        "decoded %d images from %s in %.1f s", len(train_y) + len(test_y), path, time.perf_counter() - start
    )
    try:
        with atomic_path(cache) as tmp, open(tmp, "wb") as f:
            np.savez(f, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)
    except OSError as e:  # a read-only home must not stop training; it only makes the next start slower
        log.warning(
            "could not cache decoded CIFAR-10 at %s (%s); set NAS_CACHE_DIR to a writable folder", cache, e
        )
    return Cifar10(*(_readonly(a) for a in (train_x, train_y, test_x, test_y)), source=source)


def _read_parquet_split(root: Path, files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    blobs: list[bytes] = []
    labels: list[int] = []
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
    return _decode(blobs, [str(f) for f in files], root), _labels(labels, root)


def _read_folder_split(root: Path, files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    classes = sorted({f.parent.name for f in files})
    all_classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    index = {name: i for i, name in enumerate(all_classes)}
    unknown = [c for c in classes if c not in index]
    if unknown:
        raise UserError(
            f"{root / 'test'} has classes {unknown} that {root / 'train'} lacks; the two must match"
        )
    blobs = [f.read_bytes() for f in files]
    return _decode(blobs, [str(f) for f in files], root), np.array(
        [index[f.parent.name] for f in files], np.int64
    )


def _labels(values: list, where: Path) -> np.ndarray:
    try:
        labels = np.asarray(values, dtype=np.int64)
    except (TypeError, ValueError):
        raise UserError(f"labels in {where} are not integers; {DATA_HELP}") from None
    if labels.size and labels.min() < 0:
        raise UserError(f"labels in {where} include {labels.min()}; class labels must be 0 or more")
    return labels


def _decode(blobs: list[bytes | None], names: list[str], where: Path) -> np.ndarray:
    """Decode encoded images to (N, 32, 32, 3) uint8. JPEGs go through one batched torchvision call (measured
    bit-identical to PIL and ~5x faster on one core); anything else (PNG, BMP...) and torchvision builds without
    image decoding go through PIL one by one."""
    if any(b is None for b in blobs):
        raise UserError(f"{where} has rows without image bytes; {DATA_HELP}")
    if not blobs:
        return np.zeros((0, *IMAGE_SHAPE), np.uint8)

    def name(i: int) -> str:
        return names[i] if len(names) == len(blobs) else f"image {i} of {where}"

    images = _decode_jpegs(blobs)
    if images is None:
        from PIL import Image

        images = []
        for i, blob in enumerate(blobs):
            try:
                with Image.open(io.BytesIO(blob)) as img:
                    images.append(np.asarray(img.convert("RGB")))
            except Exception as e:
                raise UserError(
                    f"{name(i)} is not a readable image ({type(e).__name__}: {e}); {DATA_HELP}"
                ) from None
    for i, img in enumerate(images):
        if img.shape != IMAGE_SHAPE:
            raise UserError(
                f"{name(i)} is {img.shape[1]}x{img.shape[0]} pixels; CIFAR-10 images must be 32x32"
            )
    return np.stack(images)


def _decode_jpegs(blobs: list[bytes]) -> list[np.ndarray] | None:
    """All blobs decoded as JPEG by torchvision, or None when any is not a JPEG or torchvision cannot decode."""
    if not all(b[:2] == b"\xff\xd8" for b in blobs):  # the JPEG start-of-image marker
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


def _read_batches(folder: Path) -> Cifar10:
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
    return Cifar10(
        train_images=_readonly(np.ascontiguousarray(np.concatenate([p[0] for p in parts]))),
        train_labels=_readonly(np.concatenate([p[1] for p in parts])),
        test_images=_readonly(np.ascontiguousarray(test_x)),
        test_labels=_readonly(test_y),
        source=f"cifar-10-batches-py {folder}",
    )


def _download(root: Path) -> Path:
    """torchvision's CIFAR10 in `root`, downloading it if needed. Probes the host first with a short timeout,
    because torchvision's own download has none and would hang where the network drops packets."""
    folder = root / "cifar-10-batches-py"
    if all((folder / n).is_file() for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        return folder
    try:
        socket.create_connection(_DOWNLOAD_HOST, timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise UserError(
            f"CIFAR-10 is not in {folder} and cannot be downloaded ({_DOWNLOAD_HOST[0]} unreachable: {e}); {DATA_HELP}"
        ) from None
    from torchvision.datasets import CIFAR10

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60.0)
    try:
        CIFAR10(str(root), train=True, download=True)
    except Exception as e:
        raise UserError(
            f"downloading CIFAR-10 into {root} failed ({type(e).__name__}: {e}); {DATA_HELP}"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
    return folder


__all__ = [
    "CLASS_NAMES",
    "Cifar10",
    "Splits",
    "cache_dir",
    "load_cifar10",
    "load_splits",
    "stratified_sample",
]
