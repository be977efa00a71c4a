"""Which torch device to train on: the one place that reads a `--device` value (flag, TOML or Python API)."""

from __future__ import annotations

import torch

from nas.errors import UserError


def resolve_device(device: str | torch.device | None) -> torch.device:
    """None: the GPU when torch sees one, else the CPU. Raises UserError, naming the fix, for anything that is
    not a CPU or CUDA device this machine has."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"--device {device!r} is not a device; use cuda, cuda:N or cpu") from None
    if dev.type not in ("cuda", "cpu"):
        raise UserError(f"--device {device!r} is not supported; use cuda, cuda:N or cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {dev} was asked for but torch sees no CUDA GPU; use --device cpu")
    return dev


def describe_device(dev: torch.device) -> str:
    """The device as results record it: with the GPU's name when it is one."""
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return str(dev)
