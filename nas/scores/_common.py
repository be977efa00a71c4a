"""What every score needs: leave the network as it was found, look at one batch in an order that does not
depend on the caller's, and labels for the scores that take a loss."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

PSEUDO_LABEL_SEED = 0  # the labels of loss-based scores: fixed, so a score depends on the network only


@contextmanager
def untouched(model: nn.Module) -> Iterator[nn.Module]:
    """Run a score on `model` and put it back as it was: parameters, buffers (BatchNorm's running statistics
    move on every forward pass in training mode), gradients and training mode. So a scorer builds each
    network once and hands it to every score, and a score in one order equals the score in any other."""
    state = {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}
    grads = {p: p.grad for p in model.parameters()}
    modes = {m: m.training for m in model.modules()}
    try:
        yield model
    finally:
        with torch.no_grad():
            for k, v in model.state_dict(keep_vars=True).items():
                v.copy_(state[k])
        for p, g in grads.items():
            p.grad = g
        for m, training in modes.items():
            m.training = training


def canonical_order(images: torch.Tensor) -> torch.Tensor:
    """Indices that sort a batch by its content (each image's pixel sum, then sum of squares, in float64):
    scores that pair images with random draws or read one image pair them the same way however the batch
    was shuffled."""
    flat = images.detach().reshape(images.shape[0], -1).double()
    keys = torch.stack([flat.sum(1), flat.square().sum(1)], 1).cpu().tolist()
    return torch.tensor(sorted(range(len(keys)), key=lambda i: keys[i]), device=images.device)


def pseudo_labels(n: int, classes: int, device: torch.device) -> torch.Tensor:
    """`n` labels drawn uniformly from `classes` with a fixed seed: the label-free stand-in for the batch's
    labels in loss-based scores (random labels, as in the data-free variants of Abdelfattah et al. 2021)."""
    generator = torch.Generator().manual_seed(PSEUDO_LABEL_SEED)
    return torch.randint(classes, (n,), generator=generator).to(device)


def weighted_layers(model: nn.Module) -> list[nn.Module]:
    """The conv and linear layers: the ones the pruning-based scores (snip, grad_norm, synflow) sum over."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def logits_of(output) -> torch.Tensor:
    """The logits of a forward pass (a network with an auxiliary head returns a pair in training mode)."""
    return output[0] if isinstance(output, tuple) else output
