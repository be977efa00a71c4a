"""Write scikit-learn's digits (`sklearn.datasets.load_digits`: 1,797 images, 8x8 grayscale with values
0-16, 10 classes; bundled with scikit-learn, no download) as image folders `OUT/train/<digit>/NNNN.png` and
`OUT/test/<digit>/NNNN.png`: an 80/20 split, stratified by class and seeded, the layout
`nas search --data OUT` reads. With `--baselines` it also fits scikit-learn's SVC and logistic regression on
the raw pixels of the same split and prints their test accuracy (the figures docs/training.md compares the
engine with).

    python benchmarks/digits_folder.py /tmp/digits --baselines
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def split(seed: int = 0, test_fraction: float = 0.2):
    """(train_x, train_y, test_x, test_y): 8x8 uint8 images scaled from 0-16 to 0-255, split per class."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.round(digits.images * 255 / 16).astype(np.uint8)
    train_x, test_x, train_y, test_y = train_test_split(
        images, digits.target, test_size=test_fraction, stratify=digits.target, random_state=seed
    )
    return train_x, train_y, test_x, test_y


def write(out: Path, seed: int = 0) -> tuple[int, int]:
    train_x, train_y, test_x, test_y = split(seed)
    for part, xs, ys in (("train", train_x, train_y), ("test", test_x, test_y)):
        for i, (image, label) in enumerate(zip(xs, ys)):
            folder = out / part / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image, mode="L").save(folder / f"{i:04d}.png")
    return len(train_y), len(test_y)


def baselines(seed: int = 0) -> dict[str, float]:
    """Test accuracy of scikit-learn's SVC (RBF, defaults) and logistic regression on the raw pixels, in
    [0, 1]."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    train_x, train_y, test_x, test_y = split(seed)
    x_train, x_test = train_x.reshape(len(train_x), -1) / 255.0, test_x.reshape(len(test_x), -1) / 255.0
    models = {"SVC (RBF)": SVC(), "logistic regression": LogisticRegression(max_iter=5000)}
    return {name: float(m.fit(x_train, train_y).score(x_test, test_y)) for name, m in models.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to create (train/ and test/ inside)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the stratified split")
    parser.add_argument("--baselines", action="store_true", help="also print scikit-learn's test accuracy")
    args = parser.parse_args()
    n_train, n_test = write(args.out, args.seed)
    print(f"wrote {n_train} training and {n_test} test images in 10 classes to {args.out}")
    if args.baselines:
        for name, accuracy in baselines(args.seed).items():
            print(f"{name}: test accuracy {accuracy:.4f} on the same {n_test} images")


if __name__ == "__main__":
    main()
