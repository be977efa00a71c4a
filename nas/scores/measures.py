"""The built-in scores from gradients and activation patterns. Each takes a freshly built, untrained network
in training mode and one batch of normalised images, returns a float (higher: a better network is expected)
and leaves the network as it found it (weights, buffers, gradients, hooks), so one network serves every score.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from nas.scores._common import canonical_order, logits_of, pseudo_labels, untouched, weighted_layers
from nas.scores._registry import register_score, register_scores

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def without_batchnorm(model: nn.Module) -> nn.Module:
    """`model` with every BatchNorm layer replaced by the identity (in place)."""
    for name, child in model.named_children():
        if isinstance(child, _BATCH_NORMS):
            setattr(model, name, nn.Identity())
        else:
            without_batchnorm(child)
    return model


@register_score("synflow", "Tanaka et al. 2020; Abdelfattah et al., ICLR 2021")
def synflow(model: nn.Module, images: torch.Tensor) -> float:
    """Synaptic flow: sum over the weights of conv and linear layers of |w * dR/dw|, where R is the sum of the
    outputs of the network with every parameter replaced by its absolute value, fed one all-ones image.

    As in Abdelfattah et al.'s code (foresight/pruners/measures/synflow.py): BatchNorm layers removed (their
    `bn=False` copy of the network), double precision (the product over layers overflows float32), an input of
    ones shaped like one image; the data are not used. A network whose output does not depend on its weights
    (all edges `none`) scores 0. Works on a copy: the network itself is not changed."""
    model = without_batchnorm(copy.deepcopy(model)).double()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.abs_()
    ones = torch.ones((1, *images.shape[1:]), dtype=torch.float64, device=images.device)
    model.zero_grad(set_to_none=True)
    model(ones).sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=images.device)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and module.weight.grad is not None:
            total += (module.weight * module.weight.grad).abs().sum()
    return float(total.detach())


@register_score("naswot", "Mellor et al., ICML 2021")
def naswot(model: nn.Module, images: torch.Tensor) -> float:
    """log det K, where K[i, j] counts the ReLU units on which images i and j of the batch agree (both
    active or both inactive): the Hamming kernel of the binary activation codes, summed over every nn.ReLU of
    the network (Mellor et al.'s `hooklogdet` over their ReLU hooks; BatchNorm in training mode, as their
    networks are scored freshly built).

    We take log det (K + I): K is positive semi-definite, so this is always finite; it moves the score of a
    network whose codes tell the images apart by a negligible amount (K's entries count up to millions of
    units) and gives a network that maps different images to the same codes (all edges `none`) a low finite
    score instead of -inf. Invariant to the order of the batch."""
    n = images.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64, device=images.device)
    seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # id -> (input, its agreements): one tensor often
    # feeds several ReLUs (every edge out of a node has its own); each ReLU still counts, as in the paper

    def count_agreements(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0]
        if id(x) not in seen or seen[id(x)][0] is not x:
            codes = (x.detach().reshape(n, -1) > 0).float()
            # Agreements = both active + both inactive = 2 c c^T - |c_i| - |c_j| + units: one product.
            # Entries are integers below 2^24 per layer, exact in float32; summed over layers in float64.
            both = codes @ codes.T
            active = both.diagonal()
            agree = 2 * both - active[:, None] - active[None, :] + codes.shape[1]
            seen[id(x)] = (x, agree.double())
        kernel.add_(seen[id(x)][1])

    hooks = [m.register_forward_pre_hook(count_agreements) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        with untouched(model), torch.no_grad():
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
        seen.clear()
    eye = torch.eye(n, dtype=torch.float64, device=images.device)
    return float(torch.linalg.slogdet(kernel + eye).logabsdet)


def _loss_gradients(model: nn.Module, images: torch.Tensor) -> list[tuple[nn.Module, torch.Tensor]]:
    """(layer, d loss / d weight) for every conv and linear layer that the loss reaches, the loss being the
    cross-entropy of the batch (in canonical order) against fixed pseudo-random labels."""
    layers = [m for m in weighted_layers(model) if m.weight.requires_grad]
    batch = images[canonical_order(images)]
    logits = logits_of(model(batch))
    loss = F.cross_entropy(logits, pseudo_labels(len(batch), logits.shape[1], logits.device))
    grads = torch.autograd.grad(loss, [m.weight for m in layers], allow_unused=True)
    return [(m, g) for m, g in zip(layers, grads) if g is not None]


@register_scores(("snip", "grad_norm"), "Lee et al., ICLR 2019 (snip); Abdelfattah et al., ICLR 2021")
def loss_gradient_scores(model: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """Two scores from one backward pass of the cross-entropy L of the batch (Abdelfattah et al.'s
    foresight/pruners/measures/snip.py and grad_norm.py), over the conv and linear layers:

    - snip: connection sensitivity, the sum over the weights of |w * dL/dw| (Lee et al.);
    - grad_norm: the sum over layers of the Euclidean norm of dL/dw.

    Label-free: L is taken against fixed pseudo-random labels instead of the batch's own (as the data-free
    variants of these proxies do), so the scores need images only."""
    with untouched(model):
        grads = _loss_gradients(model, images)
        snip_total = sum(float((m.weight.detach() * g).abs().sum()) for m, g in grads)
        norm_total = sum(float(g.norm()) for _, g in grads)
    return {"snip": float(snip_total), "grad_norm": float(norm_total)}


JACOB_COV_EPSILON = 1e-5  # Mellor et al.'s k: keeps log and 1/x finite on zero eigenvalues


@register_score("jacob_cov", "Mellor et al. 2020, arXiv:2006.04647v1; Abdelfattah et al., ICLR 2021")
def jacob_cov(model: nn.Module, images: torch.Tensor) -> float:
    """How differently the network's output responds to each image: J is the gradient of the sum of the
    logits with respect to each input image (one row per image), C its correlation matrix across images,
    and the score -sum_i (log(v_i + k) + 1 / (v_i + k)) over C's eigenvalues v (the first version of
    Mellor et al.; Abdelfattah et al.'s jacob_cov.py). Maximal when C is the identity; a row with no
    variance (the network ignores its input) correlates as 0 with the others."""
    with untouched(model):
        batch = images[canonical_order(images)].detach().requires_grad_(True)
        (jacobian,) = torch.autograd.grad(logits_of(model(batch)).sum(), batch)
    rows = jacobian.reshape(len(batch), -1).double()
    corr = torch.nan_to_num(torch.corrcoef(rows), nan=0.0, posinf=0.0, neginf=0.0)
    v = torch.linalg.eigvalsh(corr).clamp(min=0.0)
    return float(-(torch.log(v + JACOB_COV_EPSILON) + 1.0 / (v + JACOB_COV_EPSILON)).sum())
