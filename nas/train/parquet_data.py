"""The Hugging Face Parquet layout: train.parquet and test.parquet (or train-*.parquet shards) with an image
column (`img.bytes` or `image`) and `label` (integers named by the schema metadata when it has names, or
strings)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from nas.errors import UserError
from nas.train.images import DATA_HELP, Encoded

log = logging.getLogger(__name__)


def parquet_files(folder: Path, split: str) -> list[Path]:
    exact = folder / f"{split}.parquet"
    return [exact] if exact.is_file() else sorted(folder.glob(f"{split}-*.parquet"))


def parquet_class_names(files: list[Path]) -> tuple[str, ...]:
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


def read_parquet(
    root: Path, train_files: list[Path], test_files: list[Path], class_names: tuple[str, ...]
) -> tuple[Encoded, Encoded, tuple[str, ...]]:
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
        Encoded(train_blobs, train_y, [f"training image {i} of {root}" for i in range(len(train_y))]),
        Encoded(test_blobs, test_y, [f"test image {i} of {root}" for i in range(len(test_y))]),
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


__all__ = ["parquet_class_names", "parquet_files", "read_parquet"]
