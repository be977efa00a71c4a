"""The CIFAR network around NASNet-style cells, as in DARTS's `NetworkCIFAR` (Liu et al. 2019, sec. 3.1):
a 3x3 conv stem (strided for images over 32 pixels), 3N + 2 cells with reduction cells at 1/3 and 2/3 of
the depth (channels doubled there), an optional auxiliary head after the second reduction, global pooling and
a linear classifier.

`export_code` writes the same network as standalone code, each cell a class of its own whose `forward` spells
out the wiring; it mirrors the modules built here in the same order, so keep the two in step.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from search_spaces.base import ModelConfig
from search_spaces.code import ExportCode, assign
from search_spaces.nasnet.arch import CELL_INPUTS, Cell, NasnetArch
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


# -- the same network as standalone code (nas export) --

_SIDES = ("left", "right")


def _state_name(state: int) -> str:
    return f"s{state}" if state < CELL_INPUTS else f"b{state - CELL_INPUTS}"


def _cell_code(class_name: str, title: str, cell: Cell, reduction: bool) -> tuple[str, set[type]]:
    """One cell as a class: CellModule's modules under readable names, its loop over blocks written out."""
    used_inputs = {s for block in cell.blocks for s in block.inputs}
    classes: set[type] = set()
    equations, init, forward = [], [], []
    if 0 in used_inputs:
        classes |= {FactorizedReduce, ReLUConvBN}
        init += [
            "        if reduction_prev:",
            "            self.preprocess0 = FactorizedReduce(c_prev_prev, c)",
            "        else:",
            "            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0)",
        ]
        forward.append("        s0 = self.preprocess0(s0)")
    if 1 in used_inputs:
        classes.add(ReLUConvBN)
        init.append("        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)")
        forward.append("        s1 = self.preprocess1(s1)")
    for b, block in enumerate(cell.blocks):
        terms, ops_text = [], []
        for side, op, state in zip(_SIDES, block.ops, block.inputs):
            code = OPS[op].code(2 if reduction and state < CELL_INPUTS else 1)
            classes.update(code.classes)
            ops_text.append(f"{op}({_state_name(state)})")
            if code.expr is None:
                terms.append(_state_name(state))
            else:
                init.append(assign(f"block{b}_{side}", code.expr))
                terms.append(f"self.block{b}_{side}({_state_name(state)})")
        equations.append(f"    b{b} = {' + '.join(ops_text)}")
        forward.append(f"        b{b} = {' + '.join(terms)}")
    outputs = ", ".join(_state_name(s) for s in cell.concat)
    init.append(f"        self.out_channels = {len(cell.concat)} * c")
    forward.append(f"        return torch.cat([{outputs}], dim=1)")
    stride_note = ["    Ops applied to s0 or s1 have stride 2."] if reduction else []
    source = "\n".join(
        [
            f"class {class_name}(nn.Module):",
            f'    """{title}. s0, s1: the two previous cells\' outputs, brought to c channels.',
            *stride_note,
            "",
            *equations,
            f"    output = concat({outputs}) along channels",
            '    """',
            "",
            "    def __init__(self, c_prev_prev: int, c_prev: int, c: int, reduction_prev: bool):",
            "        super().__init__()",
            *init,
            "",
            "    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:",
            *forward,
        ]
    )
    return source + "\n", classes


_NETWORK_CODE = '''
class Network(Classifier):
    """The CIFAR network of DARTS: a 3x3 convolution stem, 3N + 2 cells with reduction
    cells at 1/3 and 2/3 of the depth (channels doubled there), global pooling and a
    classifier.

    The defaults are the exported network's size; other sizes build the same cells,
    untrained.
    """

    def __init__(
        self,
        channels: int = {channels},
        cells_per_stage: int = {cells_per_stage},
        num_classes: int = {num_classes},
        stem_multiplier: int = {stem_multiplier},
    ):
        super().__init__()
        c = channels
        num_cells = 3 * cells_per_stage + 2
        reductions = (num_cells // 3, 2 * num_cells // 3)
        c_stem = stem_multiplier * c
        self.stem = nn.Sequential(
            {stem_conv}, nn.BatchNorm2d(c_stem)
        )
        c_prev_prev, c_prev = c_stem, c_stem
        reduction_prev = False
        self.cells = nn.ModuleList()
        for i in range(num_cells):
            if i in reductions:
                c *= 2
                cell = ReductionCell(c_prev_prev, c_prev, c, reduction_prev)
            else:
                cell = NormalCell(c_prev_prev, c_prev, c, reduction_prev)
            self.cells.append(cell)
            c_prev_prev, c_prev = c_prev, cell.out_channels
            reduction_prev = i in reductions
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = self.stem(x)
        s1 = s0
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.global_pool(s1).flatten(1))
'''


def export_code(arch: NasnetArch, config: ModelConfig) -> ExportCode:
    """NormalCell, ReductionCell and Network; the auxiliary head and drop-path are left out (training
    only)."""
    normal, normal_classes = _cell_code("NormalCell", "Normal cell", arch.normal, reduction=False)
    reduce, reduce_classes = _cell_code("ReductionCell", "Reduction cell", arch.reduce, reduction=True)
    network = _NETWORK_CODE.format(
        channels=config.channels,
        cells_per_stage=config.cells_per_stage,
        num_classes=config.num_classes,
        stem_multiplier=config.stem_multiplier,
        stem_conv=config.stem_code("c_stem"),
    )
    return ExportCode(
        f"{normal}\n\n{reduce}\n\n{network.strip()}\n", frozenset(normal_classes | reduce_classes)
    )


def export_key(key: str) -> str:
    """cells.I.branches.J.0.REST -> cells.I.block{J // 2}_{left|right}.REST; the ".0" unwraps the
    Sequential(op[, DropPath]) of `branch`."""
    match = re.fullmatch(r"(cells\.\d+)\.branches\.(\d+)\.0\.(.+)", key)
    if match:
        branch = int(match[2])
        return f"{match[1]}.block{branch // 2}_{_SIDES[branch % 2]}.{match[3]}"
    return key
