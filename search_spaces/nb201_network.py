"""NAS-Bench-201's macro skeleton (Dong & Yang 2020, fig. 1): a 3x3 conv stem (strided for images larger than
32 pixels: `ModelConfig.stem_stride`), three stages of N cells with C, 2C and 4C channels joined by residual
reduction blocks, then BN-ReLU, global pooling and a classifier."""

from __future__ import annotations

import torch
from torch import nn

from search_spaces.base import ModelConfig
from search_spaces.nb201 import EDGES, NODES, REGISTRY_OP, Nb201Arch
from search_spaces.ops import OPS, AuxiliaryHead, DropPath, ReLUConvBN


class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2; the shortcut average-pools then projects with a 1x1 conv."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class Nb201Cell(nn.Module):
    def __init__(self, arch: Nb201Arch, C: int, drop_path: bool):
        super().__init__()
        edges = []
        for op in arch.ops:
            module = OPS[REGISTRY_OP[op]](C, 1)
            edges.append(
                nn.Sequential(module, DropPath())
                if drop_path and op not in ("none", "skip_connect")
                else nn.Sequential(module)
            )
        self.edges = nn.ModuleList(edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for dst in range(1, NODES):
            nodes.append(sum(self.edges[k](nodes[src]) for k, (src, d) in enumerate(EDGES) if d == dst))
        return nodes[-1]


class Nb201Network(nn.Module):
    def __init__(self, arch: Nb201Arch, config: ModelConfig):
        super().__init__()
        self.arch, self.config = arch, config
        C, N = config.channels, config.cells_per_stage
        kernel, stride, padding = config.stem_conv
        self.stem = nn.Sequential(
            nn.Conv2d(3, C, kernel, stride=stride, padding=padding, bias=False), nn.BatchNorm2d(C)
        )
        layers: list[nn.Module] = []
        self.auxiliary_after = -1
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage:
                layers.append(ResidualReduction(width // 2, width))
                if stage == 2:
                    self.auxiliary_after = len(layers) - 1
            layers += [Nb201Cell(arch, width, drop_path=config.drop_path > 0) for _ in range(N)]
        self.layers = nn.ModuleList(layers)
        self.auxiliary_head = AuxiliaryHead(4 * C, config.num_classes) if config.auxiliary else None
        self.last_act = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(inplace=False))
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * C, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits; in training mode with an auxiliary head, (logits, auxiliary logits)."""
        x = self.stem(x)
        auxiliary = None
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == self.auxiliary_after and self.auxiliary_head is not None and self.training:
                auxiliary = self.auxiliary_head(x)
        logits = self.classifier(self.global_pool(self.last_act(x)).flatten(1))
        return (logits, auxiliary) if auxiliary is not None else logits
