"""A small generated image folder unlike CIFAR-10, for tests: several classes told apart by colour and
pattern, non-square images larger than 32 pixels in mixed sizes, some grayscale, some with transparency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("blue_rings", "green_bars", "red_dots")
COLOURS = {"blue_rings": (40, 60, 200), "green_bars": (40, 180, 60), "red_dots": (200, 40, 40)}


def make_image(name: str, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8: a noisy background with the class's colour and pattern."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    if name == "blue_rings":
        mask = (np.hypot(ys - h / 2, xs - w / 2).astype(int) // 4) % 2 == 0
    elif name == "green_bars":
        mask = (xs // 5) % 2 == 0
    else:
        mask = ((ys // 6) % 2 == 0) & ((xs // 6) % 2 == 0)
    img = rng.integers(0, 60, (h, w, 3)).astype(np.int64)
    img[mask] += np.array(COLOURS[name])
    return np.clip(img, 0, 255).astype(np.uint8)


def write_image_folder(
    root: Path,
    *,
    per_class: int = 12,
    split: bool = True,
    seed: int = 0,
    fmt: str = "png",
    classes: tuple[str, ...] = CLASSES,
) -> Path:
    """train/<class>/*.png + test/<class>/*.png (a quarter tested) or, with split=False, <class>/*.png.
    Sizes 48x40 and 56x44; every fourth image grayscale, every seventh RGBA."""
    rng = np.random.default_rng(seed)
    for name in classes:
        for i in range(per_class):
            part = ("test" if i % 4 == 0 else "train") if split else ""
            folder = root / part / name if part else root / name
            folder.mkdir(parents=True, exist_ok=True)
            pixels = make_image(name, rng, (48, 40) if i % 2 else (56, 44))
            image = Image.fromarray(pixels)
            if i % 4 == 1:
                image = image.convert("L")
            elif i % 7 == 3:
                image = image.convert("RGBA")
            image.save(folder / f"{name}_{i:03d}.{fmt}")
    return root
