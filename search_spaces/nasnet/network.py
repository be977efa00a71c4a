"""The CIFAR network around NASNet-style cells, as in DARTS's `NetworkCIFAR` (Liu et al. 2019, sec. 3.1):
a 3x3 conv stem (strided for images over 32 pixels), 3N + 2 cells with reduction cells at 1/3 and 2/3 of
the depth (channels doubled there), an optional auxiliary head after the second reduction, global pooling,
dropout and a linear classifier.

`nas export` copies these classes, and what they name, into the exported file (see
`SearchSpace.network_class`): keep their lines within 88 characters and `forward` TorchScript-compatible.
"""

from __future__ import annotations

import torch
from torch import nn

from search_spaces.base import ModelConfig
from search_spaces.nasnet.arch import CELL_INPUTS, Cell, NasnetArch
from search_spaces.ops import OPS, AuxiliaryHead, DropPath, FactorizedReduce, ReLUConvBN, norm_layer


def branch(op: str, c: int, stride: int, config: ModelConfig) -> nn.Sequential:
    """One op applied to one block input, then drop-path when the network uses it
    (never after identity). Always a Sequential, so the weights' names do not depend
    on whether drop-path is on."""
    module = OPS[op](c, stride, config.norm)
    if config.drop_path > 0 and not isinstance(module, nn.Identity):
        return nn.Sequential(module, DropPath())
    return nn.Sequential(module)


class CellModule(nn.Module):
    """A cell: each block adds two ops, each applied to an earlier state (the two
    cell inputs, then the blocks in order); the output concatenates `cell.concat`."""

    def __init__(
        self,
        cell: Cell,
        c_prev_prev: int,
        c_prev: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
        config: ModelConfig,
    ):
        super().__init__()
        # Bring the inputs to c channels at one resolution (after a reduction c_{k-2}
        # is twice as large); an input no block reads is left as it is, unread.
        used = {s for block in cell.blocks for s in block.inputs}
        self.preprocess0 = nn.Identity()
        if 0 in used and reduction_prev:
            self.preprocess0 = FactorizedReduce(c_prev_prev, c, config.norm)
        elif 0 in used:
            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0, config.norm)
        self.preprocess1 = nn.Identity()
        if 1 in used:
            self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0, config.norm)
        # Branch k reads state sources[k]; branches 2b and 2b + 1 make block b.
        self.sources = [s for block in cell.blocks for s in block.inputs]
        self.branches = nn.ModuleList(
            branch(op, c, 2 if reduction and s < CELL_INPUTS else 1, config)
            for block in cell.blocks
            for op, s in zip(block.ops, block.inputs, strict=True)
        )
        self.concat = list(cell.concat)
        self.out_channels = c * len(cell.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k, op in enumerate(self.branches):
            out = op(states[self.sources[k]])
            if k % 2 == 0:
                states.append(out)  # a block's first op starts its state
            else:
                states[-1] = states[-1] + out  # its second op adds to it
        return torch.cat([states[s] for s in self.concat], dim=1)


class NasnetNetwork(nn.Module):
    """DARTS's CIFAR network: a convolution stem, 3N + 2 cells with reduction cells at
    1/3 and 2/3 of the depth (channels doubled there), global pooling, dropout and a
    classifier; with `config.auxiliary`, an auxiliary head after the 2nd reduction."""

    def __init__(self, arch: NasnetArch, config: ModelConfig):
        super().__init__()
        c = config.channels
        num_cells = 3 * config.cells_per_stage + 2
        reductions = {num_cells // 3, 2 * num_cells // 3}
        c_stem = config.stem_multiplier * c
        kernel, stride, padding = config.stem_conv
        self.stem = nn.Sequential(
            nn.Conv2d(3, c_stem, kernel, stride=stride, padding=padding, bias=False),
            norm_layer(config.norm, c_stem),
        )
        c_prev_prev, c_prev = c_stem, c_stem
        self.cells = nn.ModuleList()
        self.auxiliary_head = None
        self.auxiliary_after = 2 * num_cells // 3
        reduction_prev = False
        for i in range(num_cells):
            reduction = i in reductions
            if reduction:
                c *= 2
            cell = CellModule(
                arch.reduce if reduction else arch.normal,
                c_prev_prev,
                c_prev,
                c,
                reduction,
                reduction_prev,
                config,
            )
            self.cells.append(cell)
            c_prev_prev, c_prev, reduction_prev = c_prev, cell.out_channels, reduction
            if config.auxiliary and i == self.auxiliary_after:
                self.auxiliary_head = AuxiliaryHead(
                    c_prev,
                    config.num_classes,
                    config.norm,
                )
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        self.classifier = nn.Linear(c_prev, config.num_classes)

    def forward(self, x: torch.Tensor):
        """Logits; in training mode with an auxiliary head, (logits, auxiliary
        logits)."""
        s0 = s1 = self.stem(x)
        auxiliary = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.auxiliary_after and self.auxiliary_head is not None:
                if self.training:
                    auxiliary = self.auxiliary_head(s1)
        logits = self.classifier(self.dropout(self.global_pool(s1).flatten(1)))
        return (logits, auxiliary) if auxiliary is not None else logits
