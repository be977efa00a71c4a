"""The CIFAR network around NASNet-style cells, as in DARTS's `NetworkCIFAR` (Liu et al. 2019, sec. 3.1):
a 3x3 conv stem (strided for images larger than 32 pixels: `ModelConfig.stem_stride`), 3N + 2 cells with
reduction cells at 1/3 and 2/3 of the depth (channels doubled there), an optional auxiliary head after the
second reduction, global pooling and a linear classifier."""

from __future__ import annotations

import torch
from torch import nn

from search_spaces.base import ModelConfig
from search_spaces.nasnet import CELL_INPUTS, Cell, NasnetArch
from search_spaces.ops import OPS, AuxiliaryHead, DropPath, FactorizedReduce, ReLUConvBN


def branch(op: str, C: int, stride: int, drop_path: bool) -> nn.Sequential:
    """One op applied to one block input, then drop-path when the network uses it (never after identity).
    Always a Sequential, so the state_dict keys do not depend on whether drop-path is on."""
    module = OPS[op](C, stride)
    return (
        nn.Sequential(module, DropPath())
        if drop_path and not isinstance(module, nn.Identity)
        else nn.Sequential(module)
    )


class CellModule(nn.Module):
    def __init__(
        self,
        cell: Cell,
        c_prev_prev: int,
        c_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        drop_path: bool,
    ):
        super().__init__()
        self.cell = cell
        # Bring the inputs to C channels at the same resolution (after a reduction c_{k-2} is twice as large);
        # an input no block reads gets no preprocessing, so it adds no parameters.
        used = {s for block in cell.blocks for s in block.inputs}
        self.preprocess0 = None
        if 0 in used:
            self.preprocess0 = (
                FactorizedReduce(c_prev_prev, C) if reduction_prev else ReLUConvBN(c_prev_prev, C, 1, 1, 0)
            )
        self.preprocess1 = ReLUConvBN(c_prev, C, 1, 1, 0) if 1 in used else None
        self.branches = nn.ModuleList(
            branch(op, C, 2 if reduction and state < CELL_INPUTS else 1, drop_path)
            for block in cell.blocks
            for op, state in zip(block.ops, block.inputs)
        )
        self.out_channels = C * len(cell.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [
            self.preprocess0(s0) if self.preprocess0 is not None else None,
            self.preprocess1(s1) if self.preprocess1 is not None else None,
        ]
        for b, block in enumerate(self.cell.blocks):
            left, right = self.branches[2 * b], self.branches[2 * b + 1]
            states.append(left(states[block.inputs[0]]) + right(states[block.inputs[1]]))
        return torch.cat([states[s] for s in self.cell.concat], dim=1)


class NasnetNetwork(nn.Module):
    def __init__(self, arch: NasnetArch, config: ModelConfig):
        super().__init__()
        self.arch, self.config = arch, config
        C, N = config.channels, config.cells_per_stage
        num_cells = 3 * N + 2
        reductions = {num_cells // 3, 2 * num_cells // 3}
        c_stem = config.stem_multiplier * C
        kernel, stride, padding = config.stem_conv
        self.stem = nn.Sequential(
            nn.Conv2d(3, c_stem, kernel, stride=stride, padding=padding, bias=False), nn.BatchNorm2d(c_stem)
        )
        c_prev_prev, c_prev, c_cur = c_stem, c_stem, C
        self.cells = nn.ModuleList()
        self.auxiliary_head: AuxiliaryHead | None = None
        self.auxiliary_after = 2 * num_cells // 3
        reduction_prev = False
        for i in range(num_cells):
            reduction = i in reductions
            if reduction:
                c_cur *= 2
            cell = CellModule(
                arch.reduce if reduction else arch.normal,
                c_prev_prev,
                c_prev,
                c_cur,
                reduction,
                reduction_prev,
                drop_path=config.drop_path > 0,
            )
            self.cells.append(cell)
            c_prev_prev, c_prev, reduction_prev = c_prev, cell.out_channels, reduction
            if config.auxiliary and i == self.auxiliary_after:
                self.auxiliary_head = AuxiliaryHead(c_prev, config.num_classes)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits; in training mode with an auxiliary head, (logits, auxiliary logits)."""
        s0 = s1 = self.stem(x)
        auxiliary = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.auxiliary_after and self.auxiliary_head is not None and self.training:
                auxiliary = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pool(s1).flatten(1))
        return (logits, auxiliary) if auxiliary is not None else logits
