"""Size and cost of a built network."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class ModelStats:
    params: int  # trainable parameters, auxiliary head excluded (it is dropped after training)
    flops: int  # floating-point operations of one forward pass of one image, counted as 2 per multiply-add


def model_stats(model: nn.Module, input_shape: tuple[int, int, int] = (3, 32, 32)) -> ModelStats:
    """Counts with torch's FlopCounterMode on a 1-image eval-mode forward pass (convolutions and matmuls;
    elementwise ops, pooling and BN are not counted, as usual in NAS papers)."""
    params = sum(
        p.numel()
        for name, p in model.named_parameters()
        if p.requires_grad and not name.startswith("auxiliary_head.")
    )
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
    return ModelStats(params=params, flops=int(counter.get_total_flops()))
