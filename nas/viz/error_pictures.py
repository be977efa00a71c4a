"""Where a trained model goes wrong on the test set: RUN/confusion_matrix.png (counts of true vs predicted
class, each row also as a share of that class) and RUN/misclassified.png (a grid of misclassified test images
with their true and predicted labels). Written by `nas final`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nas.viz.figures import plt, save_figure

CONFUSION_MATRIX = "confusion_matrix.png"
MISCLASSIFIED = "misclassified.png"
MAX_LABELLED_CLASSES = 30  # beyond this the class names and counts no longer fit in the cells
GRID_COLUMNS = 8


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def save_confusion_matrix(
    true: np.ndarray, predicted: np.ndarray, class_names: list[str], path: str | os.PathLike, title: str
) -> Path:
    k = len(class_names)
    matrix = confusion_matrix(true, predicted, k)
    shares = matrix / np.maximum(
        matrix.sum(axis=1, keepdims=True), 1
    )  # colour by share: classes may differ in size
    side = min(max(4.0, 0.45 * k + 2), 16.0)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    if k <= MAX_LABELLED_CLASSES:
        ax.set_xticks(range(k), class_names, rotation=90)
        ax.set_yticks(range(k), class_names)
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    colour = "white" if shares[i, j] > 0.5 else "black"
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"{title}\n{matrix.sum()} test images, accuracy {100 * accuracy:.2f}%", fontsize=9)
    save_figure(fig, path)
    return Path(path)


def save_misclassified(
    images: np.ndarray,
    true: np.ndarray,
    predicted: np.ndarray,
    class_names: list[str],
    path: str | os.PathLike,
    title: str,
    limit: int = 32,
) -> Path:
    """Up to `limit` misclassified uint8 (N, H, W, 3) images, the first ones in test-set order (a fixed,
    seed-free choice), each titled "true -> predicted"."""
    wrong = np.flatnonzero(true != predicted)[:limit]
    columns = max(1, min(GRID_COLUMNS, len(wrong)))
    rows = max(1, -(-len(wrong) // columns))
    size = (max(1.6 * columns, 4.0), 1.8 * rows + 0.6)
    fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i], interpolation="nearest")
        ax.set_title(f"{class_names[true[i]]}\n→ {class_names[predicted[i]]}", fontsize=7, color="firebrick")
    n_wrong = int((true != predicted).sum())
    shown = f"the first {len(wrong)} of {n_wrong}" if n_wrong else "none: every test image is right"
    fig.suptitle(f"{title}\nmisclassified test images (true → predicted): {shown}", fontsize=9)
    save_figure(fig, path)
    return Path(path)


def draw_error_pictures(folder: Path, images, labels, predicted, class_names, title: str) -> list[str]:
    """`nas final`'s pictures of its test errors in `folder`: the confusion matrix and the misclassified
    images; returns their file names. `nas.train.final.run_final` calls it (as its `error_pictures`), so the
    training layer draws without importing the pictures above it."""
    save_confusion_matrix(labels, predicted, list(class_names), folder / CONFUSION_MATRIX, title)
    save_misclassified(images, labels, predicted, list(class_names), folder / MISCLASSIFIED, title)
    return [CONFUSION_MATRIX, MISCLASSIFIED]
