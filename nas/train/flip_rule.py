"""Whether random horizontal flips suit a dataset: a cheap rule on the training split's class-mean images.

A mirrored training image should still look like its class. For photos of objects it does (a car facing left
is still a car), for digits and text it does not (a mirrored 3 is no digit, and the mirror of some letters is
another letter). The rule measures that on the class-mean images M_c (grey values, the mean over all training
images of class c):

    asymmetry = mean_c |M_c - mirror(M_c)|  /  mean_{c != d} |M_c - M_d|

the left-right difference of a class mean relative to the difference between two class means (both as mean
absolute grey-value differences per pixel). Mirroring changes a digit's class mean about as much as swapping
its class does, and a photo's class mean hardly at all. Measured on the training splits (docs/training.md):
scikit-learn's digits 0.79, CIFAR-10 0.10 (a stratified 7,000) and 0.09 (1,000 of each class of 45,000).
Flips are turned off above FLIP_THRESHOLD.
The means of the validation or test images are never read.
"""

from __future__ import annotations

import numpy as np

FLIP_THRESHOLD = 0.3  # between CIFAR-10's 0.09-0.10 and digits' 0.79; a symmetric class set measures 0
PER_CLASS = 1000  # class means from at most this many images each (the first ones): enough for a mean, and
# cheap enough to run for every candidate


def asymmetry(images: np.ndarray, labels: np.ndarray) -> float:
    """The rule's statistic for uint8 (N, H, W, C) `images` with integer `labels`; 0.0 with fewer than two
    classes (nothing to confuse a mirrored image with)."""
    classes = np.unique(labels)
    if len(classes) < 2:
        return 0.0
    # Reduced with a float accumulator: no float copy of the whole training set.
    axes = (0, 3) if images.ndim == 4 else 0
    means = np.stack(
        [images[np.flatnonzero(labels == c)[:PER_CLASS]].mean(axis=axes, dtype=np.float64) for c in classes]
    )  # (K, H, W)
    mirror = np.abs(means - means[:, :, ::-1]).mean()
    pairwise = np.abs(means[:, None] - means[None, :]).mean(axis=(2, 3))  # (K, K), zero on the diagonal
    between = pairwise.sum() / (len(classes) * (len(classes) - 1))
    if between == 0.0:
        return 0.0  # identical class means: the rule cannot tell, flips stay on as for photos
    return float(mirror / between)


def flips_suit(images: np.ndarray, labels: np.ndarray) -> bool:
    """Whether random horizontal flips should be on for this training data (the "auto" setting)."""
    return asymmetry(images, labels) <= FLIP_THRESHOLD


def resolve_flip(mode: str, images: np.ndarray, labels: np.ndarray) -> bool:
    """The recipe's `flip` ("on", "off" or "auto") as a yes or no for this training data."""
    if mode == "auto":
        return flips_suit(images, labels)
    return mode == "on"
