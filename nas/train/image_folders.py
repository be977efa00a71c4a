"""Image folders: train/<class>/ + test/<class>/, or one folder per class split into train and test."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nas.errors import UserError
from nas.train.images import Encoded

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
TEST_SPLIT_SEED = 0  # the test split of a single class folder never depends on the run's seed


def image_files(folder: Path) -> list[Path]:
    """Image files one level down (<class>/<file>), sorted; hidden files and other suffixes are not images."""
    return sorted(
        f
        for f in folder.glob("*/*")
        if f.is_file()
        and f.suffix.lower() in IMAGE_SUFFIXES
        and not f.name.startswith(".")
        and not f.parent.name.startswith(".")
    )


def class_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def folder_sources(
    root: Path, train_files: list[Path], test_files: list[Path], class_names: tuple[str, ...]
) -> tuple[Encoded, Encoded]:
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({f.parent.name for f in test_files} - set(index))
    if unknown:
        raise UserError(
            f"{root / 'test'} has classes {unknown} that {root / 'train'} lacks; a model cannot learn a "
            "class it never sees: add training images or remove them from test/"
        )
    empty = [c for c in class_names if not any(f.parent.name == c for f in train_files)]
    if empty:
        raise UserError(
            f"{root / 'train'}: class folder{'s' if len(empty) > 1 else ''} {', '.join(empty[:5])} "
            f"{'hold' if len(empty) > 1 else 'holds'} no images; add some or remove the folder"
        )

    def encoded(files: list[Path]) -> Encoded:
        labels = np.array([index[f.parent.name] for f in files], np.int64)
        return Encoded(list(files), labels, [str(f) for f in files])

    return encoded(train_files), encoded(test_files)


def class_folder_sources(
    files: list[Path], class_names: tuple[str, ...], test_fraction: float
) -> tuple[Encoded, Encoded]:
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

    def encoded(mask: np.ndarray) -> Encoded:
        chosen = [f for f, m in zip(files, mask) if m]
        return Encoded(chosen, labels[mask], [str(f) for f in chosen])

    return encoded(~is_test), encoded(is_test)


__all__ = ["IMAGE_SUFFIXES", "class_folder_sources", "class_folders", "folder_sources", "image_files"]
