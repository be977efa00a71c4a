"""NAS-Bench-201's macro skeleton (Dong & Yang 2020, fig. 1): a 3x3 conv stem (strided for images over 32
pixels), three stages of N cells with C, 2C and 4C channels joined by residual reduction blocks, then BN-ReLU,
global pooling, dropout and a classifier.

`nas export` copies these classes, and what they name, into the exported file (see
`SearchSpace.network_class`): keep their lines within 88 characters and `forward` TorchScript-compatible.
"""

from __future__ import annotations

import torch
from torch import nn

from search_spaces.base import ModelConfig
from search_spaces.nb201.arch import EDGES, REGISTRY_OP, Nb201Arch
from search_spaces.ops import OPS, AuxiliaryHead, DropPath, ReLUConvBN, norm_layer


class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2; the shortcut average-pools, then projects with
    a 1x1 convolution."""

    def __init__(self, c_in: int, c_out: int, norm: str):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, norm)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, norm)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, 2),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class Nb201Cell(nn.Module):
    """Node 0 is the input; node j sums one op of each earlier node over the edges
    EDGES (ordered by target node); the last node is the output."""

    def __init__(self, arch: Nb201Arch, c: int, config: ModelConfig):
        super().__init__()
        edges = []
        for op in arch.ops:
            module = OPS[REGISTRY_OP[op]](c, 1, config.norm)
            if config.drop_path > 0 and op not in ("none", "skip_connect"):
                edges.append(nn.Sequential(module, DropPath()))
            else:
                edges.append(nn.Sequential(module))
        self.edges = nn.ModuleList(edges)
        self.sources = [src for src, _ in EDGES]
        self.targets = [dst for _, dst in EDGES]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for k, edge in enumerate(self.edges):
            out = edge(nodes[self.sources[k]])
            if self.targets[k] == len(nodes):
                nodes.append(out)  # the first edge into a node starts it
            else:
                nodes[-1] = nodes[-1] + out
        return nodes[-1]


class Nb201Network(nn.Module):
    """NAS-Bench-201's network: a convolution stem, three stages of N cells with c, 2c
    and 4c channels joined by residual reductions, then batch norm, ReLU, pooling,
    dropout and a classifier; with `config.auxiliary`, an auxiliary head after the
    second reduction."""

    def __init__(self, arch: Nb201Arch, config: ModelConfig):
        super().__init__()
        c, norm = config.channels, config.norm
        kernel, stride, padding = config.stem_conv
        self.stem = nn.Sequential(
            nn.Conv2d(3, c, kernel, stride=stride, padding=padding, bias=False),
            norm_layer(norm, c),
        )
        layers = []
        self.auxiliary_after = -1
        for stage, width in enumerate((c, 2 * c, 4 * c)):
            if stage:
                layers.append(ResidualReduction(width // 2, width, norm))
                if stage == 2:
                    self.auxiliary_after = len(layers) - 1
            for _ in range(config.cells_per_stage):
                layers.append(Nb201Cell(arch, width, config))
        self.layers = nn.ModuleList(layers)
        self.auxiliary_head = None
        if config.auxiliary:
            self.auxiliary_head = AuxiliaryHead(4 * c, config.num_classes, norm)
        self.last_act = nn.Sequential(norm_layer(norm, 4 * c), nn.ReLU(inplace=False))
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        self.classifier = nn.Linear(4 * c, config.num_classes)

    def forward(self, x: torch.Tensor):
        """Logits; in training mode with an auxiliary head, (logits, auxiliary
        logits)."""
        x = self.stem(x)
        auxiliary = None
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == self.auxiliary_after and self.auxiliary_head is not None:
                if self.training:
                    auxiliary = self.auxiliary_head(x)
        features = self.global_pool(self.last_act(x)).flatten(1)
        logits = self.classifier(self.dropout(features))
        return (logits, auxiliary) if auxiliary is not None else logits
