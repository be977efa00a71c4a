"""The optimizer and learning-rate schedule of the training loop (nas.train.trainer)."""

from __future__ import annotations

import math

import torch
from torch import nn


def lr_at(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then half a cosine down to 0 at `total_steps`."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


class NesterovSGD:
    """SGD with Nesterov momentum and decoupled groups (weights decayed; BN parameters and biases not),
    written with foreach ops and a learning rate held in a device tensor. It never reads a value back to the
    host, so it can be captured inside a CUDA graph, and `lr.fill_()` between replays drives the schedule. The
    update is torch.optim.SGD(nesterov=True)'s: d = g + wd·p; b = m·b + d; p -= lr·(d + m·b)."""

    def __init__(self, params: list[nn.Parameter], lr: torch.Tensor, momentum: float, weight_decay: float):
        self.lr, self.momentum = lr, momentum
        params = [p for p in params if p.requires_grad]
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        self.groups = [
            (g, [torch.zeros_like(p) for p in g], wd) for g, wd in ((decay, weight_decay), (no_decay, 0.0))
        ]

    @torch.no_grad()
    def step(self) -> None:
        for params, buffers, weight_decay in self.groups:
            live = [(p, p.grad, b) for p, b in zip(params, buffers) if p.grad is not None]
            if not live:
                continue
            ps, grads, bufs = (list(t) for t in zip(*live))
            if weight_decay:
                torch._foreach_add_(grads, ps, alpha=weight_decay)
            torch._foreach_mul_(bufs, self.momentum)
            torch._foreach_add_(bufs, grads)
            torch._foreach_add_(grads, bufs, alpha=self.momentum)
            torch._foreach_mul_(grads, self.lr)
            torch._foreach_sub_(ps, grads)
