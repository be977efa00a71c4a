"""Forward passes in eval mode over uint8 images on the device: accuracy, mean loss and predictions. Used by
the training loop (validation after each epoch) and by the final evaluation (nas.train.trainer.evaluate and
predict)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nas.train import augment

# The CPU runs the steps in channels_last too: measured faster on the 2-core x86_64 CPU (docs/training.md).
CHANNELS_LAST_ON_CPU = True


def _norm(values: tuple[float, ...], dev: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32, device=dev).view(1, 3, 1, 1)


@dataclass(frozen=True)
class _Passes:
    accuracy: float
    loss: float | None  # mean of `criterion` over the images; None without one
    predictions: torch.Tensor  # (N,) predicted classes, on the device


@torch.no_grad()
def _passes(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    tta: bool = False,
    mean: tuple[float, ...] = augment.CIFAR10_MEAN,
    std: tuple[float, ...] = augment.CIFAR10_STD,
    criterion: nn.Module | None = None,
) -> _Passes:
    """Forward passes in eval mode over uint8 `x`: accuracy, mean loss and predictions (one host sync)."""
    if len(y) == 0:
        raise ValueError("nothing to evaluate on: no images")
    dev = x.device
    cuda = dev.type == "cuda"
    mean, std = _norm(mean, dev), _norm(std, dev)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=dev)
    predictions = []
    try:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
            for i in range(0, len(y), batch_size):
                xb = augment.normalize(x[i : i + batch_size], mean, std)
                if cuda or CHANNELS_LAST_ON_CPU:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                logits = model(xb).float()
                scores = logits.softmax(1)
                if tta:
                    scores = scores + model(xb.flip(3)).float().softmax(1)
                if criterion is not None:
                    loss_sum += criterion(logits, y[i : i + batch_size]) * len(xb)
                predictions.append(scores.argmax(1))
    finally:
        model.train(was_training)
    predicted = torch.cat(predictions)
    correct = (predicted == y).sum().item()
    loss = loss_sum.item() / len(y) if criterion is not None else None
    return _Passes(correct / len(y), loss, predicted)
