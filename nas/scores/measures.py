"""The built-in scores. Each takes a freshly built, untrained network in training mode (it may change it) and
one batch of normalised images, and returns a float: higher means a better network is expected."""

from __future__ import annotations

import torch
from torch import nn

from nas.scores._registry import register_score

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
    (all edges `none`) scores 0."""
    model = without_batchnorm(model).double()
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
        with torch.no_grad():
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
        seen.clear()
    eye = torch.eye(n, dtype=torch.float64, device=images.device)
    return float(torch.linalg.slogdet(kernel + eye).logabsdet)
