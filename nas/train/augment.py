"""Batched augmentation on the device with tensor ops only: no Python loop over images and no host sync, so it
runs inside a captured CUDA graph. Randomness comes from torch's default generator of the batch's device."""

from __future__ import annotations

import torch

from nas.train.data import CIFAR10_MEAN, CIFAR10_STD  # noqa: F401 - re-exported: the default normalisation


def random_crop(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Each image of (N, C, H, W) shifted by its own random offset in [-padding, padding] on both axes, with
    zeros coming in at the edges: torchvision's RandomCrop(H, padding) done as one gather."""
    if padding == 0:
        return x
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n, 1, 1, 1), device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1, 1, 1), device=x.device)
    rows = dy + torch.arange(h, device=x.device).view(1, 1, h, 1)  # (N, 1, H, 1)
    cols = dx + torch.arange(w, device=x.device).view(1, 1, 1, w)  # (N, 1, 1, W)
    return crop_at(padded, rows, cols, c)


def crop_at(padded: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, c: int) -> torch.Tensor:
    """Rows then columns gathered per image; two gathers move far fewer bytes than one 4-D fancy index."""
    n, _, _, wp = padded.shape
    h, w = rows.shape[2], cols.shape[3]
    picked_rows = torch.gather(padded, 2, rows.expand(n, c, h, wp))
    return torch.gather(picked_rows, 3, cols.expand(n, c, h, w))


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(flip, x.flip(3), x)


def cutout(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero a size x size square per image, centred anywhere on the image and clipped at its edges
    (DeVries & Taylor 2017). Applied after normalisation, so the square holds the mean colour."""
    if size <= 0:
        return x
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1, 1, 1), device=x.device)
    cx = torch.randint(0, w, (n, 1, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, 1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, 1, w)
    lo = size // 2
    hole = (ys >= cy - lo) & (ys < cy - lo + size) & (xs >= cx - lo) & (xs < cx - lo + size)
    return x.masked_fill(hole, 0.0)


def normalize(x_uint8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) in [0, 255] to float32 standardised per channel; `mean`/`std` are (1, 3, 1, 1)."""
    return (x_uint8.float() / 255.0 - mean) / std


def train_batch(
    x_uint8: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    crop_padding: int = 4,
    cutout_size: int = 0,
    flip: bool = True,
) -> torch.Tensor:
    """The training augmentation: random crop and (with `flip`) flip on the uint8 pixels (a quarter of the
    bytes of float), then normalisation and optional cutout."""
    x = random_crop(x_uint8, crop_padding)
    if flip:
        x = random_flip(x)
    return cutout(normalize(x, mean, std), cutout_size)
