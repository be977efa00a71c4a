"""torchvision's datasets by name, downloaded once into `<cache>/torchvision` (failing fast offline), and
torchvision's pickled CIFAR-10 batches (a cifar-10-batches-py folder)."""

from __future__ import annotations

import pickle
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.errors import UserError
from nas.train.data_spec import CLASS_NAMES
from nas.train.images import DATA_HELP, Dataset, auto_image_size, finish_dataset, resize_all


def cache_dir() -> Path:
    import os

    return Path(os.environ.get("NAS_CACHE_DIR") or Path.home() / ".cache" / "nas")


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


def read_batches(folder: Path, image_size: int | None = None) -> Dataset:
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
    return finish_dataset(
        resize_all(np.concatenate([p[0] for p in parts]), size),
        np.concatenate([p[1] for p in parts]),
        resize_all(test_x, size),
        test_y,
        source=f"cifar-10-batches-py {folder}",
        class_names=CLASS_NAMES,
        reason="32: the CIFAR family's size" if image_size is None else f"{size}: --image-size",
    )


def read_torchvision(name: str, image_size: int | None) -> Dataset:
    """A torchvision dataset by name from `<cache>/torchvision`, downloaded first if it is not there."""
    spec = TORCHVISION[name]
    root = cache_dir() / "torchvision"
    if name == "cifar10":
        return read_batches(_download_cifar10(root), image_size)
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
    return finish_dataset(
        resize_all(train_x, size),
        train_y,
        resize_all(test_x, size),
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


__all__ = ["TORCHVISION", "cache_dir", "read_batches", "read_torchvision"]
