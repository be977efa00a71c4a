"""NAS-Bench-201's macro skeleton (Dong & Yang 2020, fig. 1): a 3x3 conv stem (strided for images over 32
pixels), three stages of N cells with C, 2C and 4C channels joined by residual reduction blocks, then BN-ReLU,
global pooling and a classifier.

`export_code` writes the same network as standalone code, the cell a class whose `forward` spells out its
edges; it mirrors the modules built here in the same order, so keep the two in step.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from search_spaces.base import ModelConfig
from search_spaces.code import GENERATED_LINE_LENGTH, ExportCode, assign
from search_spaces.nb201.arch import EDGES, NODES, REGISTRY_OP, Nb201Arch
from search_spaces.ops import OPS, AuxiliaryHead, DropPath, ReLUConvBN


# ResidualReduction is also copied into exported model files, which are checked with ruff's defaults: keep its
# lines within 88 characters and split calls with a trailing comma.
class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2; the shortcut average-pools, then projects with
    a 1x1 convolution."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, 2),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

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


# -- the same network as standalone code (nas export) --


def _cell_code(arch: Nb201Arch) -> tuple[str, set[type]]:
    """The cell as a class: Nb201Cell's edge modules under readable names, its sums written out."""
    classes: set[type] = set()
    init, equations, forward = [], [], []
    terms: dict[int, list[str]] = {dst: [] for dst in range(1, NODES)}
    texts: dict[int, list[str]] = {dst: [] for dst in range(1, NODES)}
    for (src, dst), op in zip(EDGES, arch.ops):
        code = OPS[REGISTRY_OP[op]].code(1)
        classes.update(code.classes)
        texts[dst].append(f"{op}(node{src})")
        if code.expr is None:
            terms[dst].append(f"node{src}")
        else:
            init.append(assign(f"edge_{src}_{dst}", code.expr))
            terms[dst].append(f"self.edge_{src}_{dst}(node{src})")
    for dst in range(1, NODES):
        equations.append(f"    node{dst} = {' + '.join(texts[dst])}")
        line = f"        node{dst} = {' + '.join(terms[dst])}"
        if len(line) > GENERATED_LINE_LENGTH:
            joined = "\n            + ".join(terms[dst])
            line = f"        node{dst} = (\n            {joined}\n        )"
        forward.append(line)
    source = "\n".join(
        [
            "class Cell(nn.Module):",
            '    """NAS-Bench-201 cell: node j sums one op of each earlier node; node 3 is output.',
            "",
            *equations,
            '    """',
            "",
            "    def __init__(self, c: int):",
            "        super().__init__()",
            *init,
            "",
            "    def forward(self, node0: torch.Tensor) -> torch.Tensor:",
            *forward,
            "        return node3",
        ]
    )
    return source, classes


_NETWORK_CODE = '''
class Network(Classifier):
    """NAS-Bench-201's network: a 3x3 convolution stem, three stages of N cells with c,
    2c and 4c channels joined by residual reductions, then batch norm, ReLU, pooling and
    a classifier.

    The defaults are the exported network's size; other sizes build the same cells,
    untrained.
    """

    def __init__(
        self,
        channels: int = {channels},
        cells_per_stage: int = {cells_per_stage},
        num_classes: int = {num_classes},
    ):
        super().__init__()
        c = channels
        self.stem = nn.Sequential(
            {stem_conv}, nn.BatchNorm2d(c)
        )
        layers = []
        for stage, width in enumerate((c, 2 * c, 4 * c)):
            if stage:
                layers.append(ResidualReduction(width // 2, width))
            layers += [Cell(width) for _ in range(cells_per_stage)]
        self.layers = nn.ModuleList(layers)
        self.last_act = nn.Sequential(nn.BatchNorm2d(4 * c), nn.ReLU())
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self.classifier(self.global_pool(self.last_act(x)).flatten(1))
'''


def export_code(arch: Nb201Arch, config: ModelConfig) -> ExportCode:
    """Cell and Network; the auxiliary head and drop-path are left out (training only)."""
    cell, classes = _cell_code(arch)
    network = _NETWORK_CODE.format(
        channels=config.channels,
        cells_per_stage=config.cells_per_stage,
        num_classes=config.num_classes,
        stem_conv=config.stem_code("c"),
    )
    return ExportCode(f"{cell}\n\n\n{network.strip()}\n", frozenset(classes | {ResidualReduction}))


def export_key(key: str) -> str:
    """layers.I.edges.K.0.REST -> layers.I.edge_{src}_{dst}.REST; the ".0" unwraps the Sequential(op[,
    DropPath]) around each edge's op."""
    match = re.fullmatch(r"(layers\.\d+)\.edges\.(\d+)\.0\.(.+)", key)
    if match:
        src, dst = EDGES[int(match[2])]
        return f"{match[1]}.edge_{src}_{dst}.{match[3]}"
    return key
