"""Tiny CIFAR-10 look-alikes written in each layout the loader reads, for tests."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from nas.train.data import CLASS_NAMES


def tiny_arrays(per_class_train: int = 6, per_class_test: int = 2, seed: int = 0):
    """Random 32x32 RGB images, classes in order; returns (train_x, train_y, test_x, test_y)."""
    rng = np.random.default_rng(seed)

    def make(per_class: int):
        y = np.repeat(np.arange(10), per_class).astype(np.int64)
        return rng.integers(0, 256, (len(y), 32, 32, 3), dtype=np.uint8), y

    return (*make(per_class_train), *make(per_class_test))


def encode(image: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt)
    return buf.getvalue()


def write_batches(root: Path, arrays) -> Path:
    """torchvision's cifar-10-batches-py: five training pickles and one test pickle of (N, 3072) rows."""
    train_x, train_y, test_x, test_y = arrays
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    chunks = np.array_split(np.arange(len(train_y)), 5)
    for i, idx in enumerate(chunks, 1):
        rows = train_x[idx].transpose(0, 3, 1, 2).reshape(len(idx), -1)
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump({"data": rows, "labels": train_y[idx].tolist()}, f)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(
            {"data": test_x.transpose(0, 3, 1, 2).reshape(len(test_y), -1), "labels": test_y.tolist()}, f
        )
    return folder


def write_parquet(root: Path, arrays, *, column: str = "img", fmt: str = "PNG") -> Path:
    """The Hugging Face layout: img struct<bytes, path> (or a plain binary `image` column) + label."""
    train_x, train_y, test_x, test_y = arrays
    root.mkdir(parents=True, exist_ok=True)
    for split, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        blobs = [encode(img, fmt) for img in x]
        if column == "img":
            images = pa.array(
                [{"bytes": b, "path": f"{split}/{i}.png"} for i, b in enumerate(blobs)],
                pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
            )
        else:
            images = pa.array(blobs, pa.binary())
        pq.write_table(
            pa.table({column: images, "label": pa.array(y, pa.int64())}), root / f"{split}.parquet"
        )
    return root


def write_folder(root: Path, arrays, *, fmt: str = "PNG") -> Path:
    """train/<class>/NNNN.png and test/<class>/NNNN.png; file names sort in array order within a class."""
    train_x, train_y, test_x, test_y = arrays
    suffix = {"PNG": "png", "JPEG": "jpg"}[fmt]
    for split, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        for i, (img, label) in enumerate(zip(x, y)):
            path = root / split / CLASS_NAMES[label] / f"{i:04d}.{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode(img, fmt))
    return root
