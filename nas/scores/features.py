"""The built-in scores from the feature maps of one forward pass: MeCo, AZ-NAS's components, Zen-score, and
the network's size (params, FLOPs). Same contract as `nas.scores.measures`: a fresh network in training mode
and one batch of normalised images in, a float out, the network left as it was found."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from nas.scores._common import canonical_order, logits_of, untouched, weighted_layers
from nas.scores._registry import register_score, register_scores


def _min_correlation_eigenvalue(maps: torch.Tensor) -> float:
    """The smallest eigenvalue of the Pearson correlation matrix between the channels of one image's feature
    maps (C x H x W); a channel with no variance (a `none` edge, a dead ReLU) correlates as 0, as in
    Jiang et al.'s code."""
    rows = maps.reshape(maps.shape[0], -1).double()
    corr = torch.nan_to_num(torch.corrcoef(rows), nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr)[0])


MECO_IMAGES = 1  # MeCo's "one data": the forward pass sees one image, BatchNorm normalises over its pixels


@register_score("meco", "Jiang et al., NeurIPS 2023")
def meco(model: nn.Module, images: torch.Tensor) -> float:
    """MeCo: the sum over every module whose output is a feature map (C x H x W, H W > 1) of the minimum
    eigenvalue of the channels' Pearson correlation matrix, for one image (Jiang et al., "MeCo: Zero-Shot NAS
    with One Data and Single Forward Pass via Minimum Eigenvalue of Correlation", eq. 6; their code hooks
    every module and reads the first image of the batch). The image is the batch's first in canonical order,
    so the score does not depend on how the batch was shuffled. A module that returns its input's tensor
    (a Sequential ending in its last child's output) counts once per module, as in their code; the
    eigenvalue of a tensor seen twice is computed once."""
    batch = images[canonical_order(images)[:MECO_IMAGES]]
    seen: dict[int, tuple[torch.Tensor, float]] = {}
    total = [0.0]

    def add(module: nn.Module, inputs, output) -> None:
        x = output[0] if isinstance(output, tuple) else output
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[2] * x.shape[3] < 2:
            return
        if id(x) not in seen or seen[id(x)][0] is not x:
            seen[id(x)] = (x, _min_correlation_eigenvalue(x[0].detach()))
        total[0] += seen[id(x)][1]

    hooks = [m.register_forward_hook(add) for m in model.modules() if m is not model]
    try:
        with untouched(model), torch.no_grad():
            model(batch)
    finally:
        for hook in hooks:
            hook.remove()
        seen.clear()
    return total[0]


def blocks(model: nn.Module) -> list[nn.Module]:
    """The network's stages in order, whose outputs AZ-NAS compares: the stem, then every cell and
    reduction block (`layers` for NB201, `cells` for the NASNet-style spaces)."""
    body = getattr(model, "layers", None) or getattr(model, "cells", None)
    stem = getattr(model, "stem", None)
    if body is None or stem is None:
        raise TypeError(f"{type(model).__name__} has no stem and layers/cells to score AZ-NAS on")
    return [stem, *body]


AZ_IMAGES = 16  # images of the batch AZ-NAS looks at (its forward and backward pass dominate the cost)
AZ_SEED = 0  # the random directions of the trainability estimate
AZ_IDENTITY = -1e6  # trainability of a block that passes its input through unchanged (AZ-NAS: -inf)
AZ_EPSILON = 1e-6  # as in Lee & Ham's code: keeps 1/sigma finite for a block whose output ignores its input


def _isotropy(feature: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance over all images and positions: high
    when the features spread over every channel direction (AZ-NAS's expressivity of one block, eq. 2-3). A
    block whose output is constant (all-`none` cell) has no spread: 0."""
    b, c, h, w = feature.shape
    x = feature.detach().permute(0, 2, 3, 1).reshape(b * h * w, c).double()
    x = x - x.mean(0, keepdim=True)
    s = torch.linalg.eigvalsh(x.T @ x / x.shape[0]).clamp(min=0.0)
    if float(s.sum()) <= 0.0:
        return 0.0
    p = s / s.sum()
    return float(-(p * torch.log(p + 1e-8)).sum())


def _block_trainability(f_in: torch.Tensor, f_out: torch.Tensor, generator: torch.Generator) -> float:
    """-sigma - 1/sigma + 2 (at most 0, reached at sigma = 1), sigma the spectral norm of the block's
    Jacobian as AZ-NAS estimates it (eq. 6-7): back-propagate random signs g_out through the block and take
    the largest singular value of the channel-by-channel average of g_in g_out^T (after pixel-unshuffling
    g_in to g_out's resolution)."""
    signs = torch.randint(0, 2, f_out.shape, generator=generator).to(f_out) * 2 - 1
    g_in = None
    if f_out.requires_grad:
        (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=signs, retain_graph=True, allow_unused=True)
    if g_in is None:
        g_in = torch.zeros_like(f_in)
    if g_in.shape == signs.shape and torch.equal(g_in, signs):
        return AZ_IDENTITY
    if g_in.shape[2] != signs.shape[2]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // signs.shape[2])
    bo, co, ho, wo = signs.shape
    g_out = signs.permute(0, 2, 3, 1).reshape(-1, co).double()
    g_in = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1]).double()
    sigma = float(torch.linalg.svdvals(g_in.T @ g_out / (bo * ho * wo)).max())
    return -sigma - 1.0 / (sigma + AZ_EPSILON) + 2.0


AZ_NAMES = ("az_expressivity", "az_progressivity", "az_trainability")


@register_scores(AZ_NAMES, "Lee & Ham, CVPR 2024")
def az_nas(model: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """AZ-NAS's training-free components (Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network
    Architecture Search", CVPR 2024; their compute_az_nas_score.py), from one forward and one backward pass
    over the first AZ_IMAGES images of the batch (canonical order) with the outputs of the stem and of every
    block:

    - az_expressivity: the sum over blocks of the isotropy of their features (`_isotropy`);
    - az_progressivity: the smallest increase of isotropy from one block to the next;
    - az_trainability: the mean over blocks of -sigma - 1/sigma + 2, sigma the estimated spectral norm of
      the block's Jacobian (`_block_trainability`). A block that passes its input through unchanged scores
      -1e6 instead of the paper's -inf, so the score stays finite and such a network still ranks last.

    Their fourth component, complexity, is the network's FLOPs: the `flops` score."""
    features: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs, output) -> None:
        features.append(output)

    hooks = [b.register_forward_hook(keep) for b in blocks(model)]
    try:
        with untouched(model), torch.enable_grad():
            model(images[canonical_order(images)[:AZ_IMAGES]])
            isotropy = [_isotropy(f) for f in features]
            generator = torch.Generator().manual_seed(AZ_SEED)
            trainability = [
                _block_trainability(features[i - 1], features[i], generator)
                for i in reversed(range(1, len(features)))
            ]
    finally:
        for hook in hooks:
            hook.remove()
        features.clear()
    return {
        "az_expressivity": float(sum(isotropy)),
        "az_progressivity": float(min(b - a for a, b in zip(isotropy, isotropy[1:]))),
        "az_trainability": float(sum(trainability) / len(trainability)),
    }


ZEN_MIXUP = 1e-2  # Lin et al.'s mixup_gamma: the size of the input perturbation
ZEN_SEED = 0
ZEN_IMAGES = 16  # Gaussian inputs per forward pass


@register_score("zen", "Lin et al., ICCV 2021")
def zen(model: nn.Module, images: torch.Tensor) -> float:
    """Zen-score (Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition"; their
    compute_zen_score.py): log E ||f(x) - f(x + 0.01 e)||_1 + sum over BatchNorm layers of
    log sqrt(mean batch variance), f the features before global pooling, x and e ZEN_IMAGES images of
    Gaussian noise shaped like the batch's (data-free: the images give only the shape). The BatchNorm term
    uses the batch variance each layer normalised by in the forward pass of x; Zen-NAS reads running_var
    after that pass, which with PyTorch's default momentum holds 0.9 + 0.1 x that variance.
    The network keeps the engine's initialisation (Zen-NAS re-draws weights from N(0, 1))."""
    pools = [m for m in model.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if not pools:
        raise TypeError(f"{type(model).__name__} has no global pooling to read Zen-score's features at")
    generator = torch.Generator().manual_seed(ZEN_SEED)
    shape = (ZEN_IMAGES, *images.shape[1:])
    x = torch.randn(shape, generator=generator).to(images)
    e = torch.randn(shape, generator=generator).to(images)
    captured: list[torch.Tensor] = []
    log_scales: list[float] = []

    def before_pool(module: nn.Module, inputs) -> None:
        captured.append(inputs[0])

    def bn_scale(module: nn.Module, inputs) -> None:
        variance = inputs[0].detach().double().var(dim=(0, 2, 3), unbiased=True).mean()
        log_scales.append(0.5 * math.log(max(float(variance), 1e-300)))

    hooks = [pools[-1].register_forward_pre_hook(before_pool)]
    hooks += [m.register_forward_pre_hook(bn_scale) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    try:
        with untouched(model), torch.no_grad():
            model(x)
            bn_term = sum(log_scales)
            for hook in hooks[1:]:
                hook.remove()
            model(x + ZEN_MIXUP * e)
    finally:
        for hook in hooks:
            hook.remove()
    difference = (captured[0] - captured[1]).abs().sum(dim=(1, 2, 3)).mean()
    return math.log(max(float(difference), 1e-300)) + bn_term


@register_scores(("params", "flops"), "as baselines in Abdelfattah et al., ICLR 2021; Lee & Ham, CVPR 2024")
def size(model: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """params: the network's parameter count; flops: multiply-accumulates of its conv and linear layers for
    one image (AZ-NAS's complexity). Counted on the network as built: ops on edges that no input-to-output
    path uses count too, as in NAS-Bench-201's own tables."""
    macs = [0]

    def count(module: nn.Module, inputs, output) -> None:
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        else:
            per_output = module.in_features
        macs[0] += per_output * logits_of(output)[0].numel()

    hooks = [m.register_forward_hook(count) for m in weighted_layers(model)]
    try:
        with untouched(model), torch.no_grad():
            model(images[canonical_order(images)[:1]])
    finally:
        for hook in hooks:
            hook.remove()
    return {"params": float(sum(p.numel() for p in model.parameters())), "flops": float(macs[0])}
