"""Write an architecture out as a readable, standalone PyTorch file.

The generated file imports only torch. Each cell becomes its own class whose `__init__` names one module per op
and whose `forward` spells out the wiring, so the file reads like a hand-written model instead of a genotype
interpreter. Helper op classes are emitted once, at the top, and only when the cells use them.

The generated modules mirror the engine's (search_spaces/ops.py and the network builders) op for op and in the
same order, so in eval mode they compute exactly what the engine computes. Two training-only parts are left out:
the auxiliary head (only a training loss; its weights are dropped) and drop-path (identity at inference).
`remap_state_dict` renames the engine's weights to the generated attribute names; `nas.export.folder` checks both
claims on every export by loading strictly and comparing outputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nas.errors import UserError
from search_spaces.base import Architecture, ModelConfig

# Helper classes in dependency order; each mirrors the engine class of the same name in search_spaces/ops.py or
# search_spaces/nb201_network.py (same submodules in the same order, hence the same state_dict keys).
HELPERS: dict[str, str] = {
    "ReLUConvBN": '''
class ReLUConvBN(nn.Sequential):
    """ReLU, convolution, batch norm."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
            nn.BatchNorm2d(c_out),
        )
''',
    "DilConv": '''
class DilConv(nn.Sequential):
    """ReLU, depthwise (dilated) convolution, pointwise convolution, batch norm."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        dilation: int,
    ):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(
                c_in,
                c_in,
                kernel,
                stride,
                padding,
                dilation=dilation,
                groups=c_in,
                bias=False,
            ),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
''',
    "SepConv": '''
class SepConv(nn.Sequential):
    """Two separable convolutions in a row, the first carrying the stride (NASNet's
    "sep conv")."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int):
        padding = kernel // 2
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, dilation=1),
            DilConv(c_in, c_out, kernel, 1, padding, dilation=1),
        )
''',
    "FactorizedReduce": '''
class FactorizedReduce(nn.Module):
    """Halve the resolution without dropping pixels: two 1x1 stride-2 convolutions,
    the second shifted by one pixel, concatenated."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))
''',
    "Zero": '''
class Zero(nn.Module):
    """The "none" op: zeros shaped like the op's output (a product with 0, so NaN and
    inf still show)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)
''',
    "ResidualReduction": '''
class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2; the shortcut average-pools, then projects with
    a 1x1 convolution."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))
''',
}
# Which helpers each helper needs.
HELPER_NEEDS: dict[str, tuple[str, ...]] = {"SepConv": ("DilConv",), "ResidualReduction": ("ReLUConvBN",)}


@dataclass(frozen=True)
class OpCode:
    """How one registry op is written in generated code: a constructor expression over the channel count `c`
    (None: the op is the identity and is written inline), and the helper classes the expression uses."""

    expr: str | None
    helpers: tuple[str, ...] = ()


def op_code(op: str, stride: int) -> OpCode:
    """The generated-code twin of `search_spaces.ops.OPS[op](c, stride)`."""
    sep = re.fullmatch(r"sep_conv_(\d)x\1", op)
    if sep:
        return OpCode(f"SepConv(c, c, {sep[1]}, {stride})", ("SepConv",))
    table: dict[str, OpCode] = {
        "none": OpCode(f"Zero({stride})", ("Zero",)),
        "identity": OpCode(None) if stride == 1 else OpCode("FactorizedReduce(c, c)", ("FactorizedReduce",)),
        "max_pool_3x3": OpCode(f"nn.MaxPool2d(3, stride={stride}, padding=1)"),
        "avg_pool_3x3": OpCode(f"nn.AvgPool2d(3, stride={stride}, padding=1, count_include_pad=False)"),
        "conv_1x1": OpCode(f"ReLUConvBN(c, c, 1, {stride}, 0)", ("ReLUConvBN",)),
        "conv_3x3": OpCode(f"ReLUConvBN(c, c, 3, {stride}, 1)", ("ReLUConvBN",)),
        "dil_conv_3x3": OpCode(f"DilConv(c, c, 3, {stride}, 2, 2)", ("DilConv",)),
        "dil_conv_5x5": OpCode(f"DilConv(c, c, 5, {stride}, 4, 2)", ("DilConv",)),
    }
    if op not in table:
        raise UserError(f"op {op!r} has no code template for export; add one to op_code in nas/codegen.py")
    return table[op]


def _assign(target: str, expr: str) -> str:
    """`self.target = expr` at method indentation, wrapped the way ruff format wraps a long call."""
    line = f"        self.{target} = {expr}"
    if len(line) <= 88:
        return line
    head, _, args = expr.partition("(")
    return f"        self.{target} = {head}(\n            {args[:-1]}\n        )"


def _helper_source(used: set[str]) -> str:
    closed = set(used)
    for name in used:
        closed.update(HELPER_NEEDS.get(name, ()))
    return "\n".join(HELPERS[name].strip("\n") + "\n\n" for name in HELPERS if name in closed)


# -- nasnet --

_SIDES = ("left", "right")


def _state_name(state: int) -> str:
    return f"s{state}" if state < 2 else f"b{state - 2}"


def _nasnet_cell(class_name: str, title: str, cell: Any, reduction: bool) -> tuple[str, set[str]]:
    used_inputs = {s for block in cell.blocks for s in block.inputs}
    helpers: set[str] = set()
    equations, init, forward = [], [], []
    if 0 in used_inputs:
        helpers |= {"FactorizedReduce", "ReLUConvBN"}
        init += [
            "        if reduction_prev:",
            "            self.preprocess0 = FactorizedReduce(c_prev_prev, c)",
            "        else:",
            "            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0)",
        ]
        forward.append("        s0 = self.preprocess0(s0)")
    if 1 in used_inputs:
        helpers.add("ReLUConvBN")
        init.append("        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)")
        forward.append("        s1 = self.preprocess1(s1)")
    for b, block in enumerate(cell.blocks):
        terms, ops_text = [], []
        for side, op, state in zip(_SIDES, block.ops, block.inputs):
            code = op_code(op, 2 if reduction and state < 2 else 1)
            helpers.update(code.helpers)
            ops_text.append(f"{op}({_state_name(state)})")
            if code.expr is None:
                terms.append(_state_name(state))
            else:
                init.append(_assign(f"block{b}_{side}", code.expr))
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
    return source + "\n", helpers


_NASNET_NETWORK = '''
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


def _nasnet_source(arch: Any, config: ModelConfig) -> tuple[str, set[str]]:
    normal, normal_helpers = _nasnet_cell("NormalCell", "Normal cell", arch.normal, reduction=False)
    reduce, reduce_helpers = _nasnet_cell("ReductionCell", "Reduction cell", arch.reduce, reduction=True)
    network = _NASNET_NETWORK.format(
        channels=config.channels,
        cells_per_stage=config.cells_per_stage,
        num_classes=config.num_classes,
        stem_multiplier=config.stem_multiplier,
        stem_conv=_stem_conv("c_stem", config),
    )
    return f"{normal}\n\n{reduce}\n\n{network.strip()}\n", normal_helpers | reduce_helpers


def _nasnet_key(key: str) -> str:
    # cells.I.branches.J.0.REST -> cells.I.block{J // 2}_{left|right}.REST; the ".0" unwraps the engine's
    # Sequential(op[, DropPath]) around each op.
    match = re.fullmatch(r"(cells\.\d+)\.branches\.(\d+)\.0\.(.+)", key)
    if match:
        branch = int(match[2])
        return f"{match[1]}.block{branch // 2}_{_SIDES[branch % 2]}.{match[3]}"
    return key


# -- nb201 --

_NB201_NETWORK = '''
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


def _nb201_source(arch: Any, config: ModelConfig) -> tuple[str, set[str]]:
    from search_spaces.nb201 import EDGES, NODES, REGISTRY_OP

    helpers = {"ResidualReduction"}
    init, equations, forward = [], [], []
    terms: dict[int, list[str]] = {dst: [] for dst in range(1, NODES)}
    texts: dict[int, list[str]] = {dst: [] for dst in range(1, NODES)}
    for (src, dst), op in zip(EDGES, arch.ops):
        code = op_code(REGISTRY_OP[op], 1)
        helpers.update(code.helpers)
        texts[dst].append(f"{op}(node{src})")
        if code.expr is None:
            terms[dst].append(f"node{src}")
        else:
            init.append(_assign(f"edge_{src}_{dst}", code.expr))
            terms[dst].append(f"self.edge_{src}_{dst}(node{src})")
    for dst in range(1, NODES):
        equations.append(f"    node{dst} = {' + '.join(texts[dst])}")
        line = f"        node{dst} = {' + '.join(terms[dst])}"
        if len(line) > 88:
            joined = "\n            + ".join(terms[dst])
            line = f"        node{dst} = (\n            {joined}\n        )"
        forward.append(line)
    cell = "\n".join(
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
    network = _NB201_NETWORK.format(
        channels=config.channels,
        cells_per_stage=config.cells_per_stage,
        num_classes=config.num_classes,
        stem_conv=_stem_conv("c", config),
    )
    return f"{cell}\n\n\n{network.strip()}\n", helpers


def _nb201_key(key: str) -> str:
    from search_spaces.nb201 import EDGES

    match = re.fullmatch(r"(layers\.\d+)\.edges\.(\d+)\.0\.(.+)", key)
    if match:
        src, dst = EDGES[int(match[2])]
        return f"{match[1]}.edge_{src}_{dst}.{match[3]}"
    return key


@dataclass(frozen=True)
class Generator:
    source: Callable[
        [Any, ModelConfig], tuple[str, set[str]]
    ]  # classes of the cells and network, helpers used
    key: Callable[[str], str]  # engine state_dict key -> generated key


GENERATORS: dict[str, Generator] = {
    "nasnet": Generator(_nasnet_source, _nasnet_key),
    "nb201": Generator(_nb201_source, _nb201_key),
}


def _generator(space: str) -> Generator:
    if space not in GENERATORS:
        raise UserError(
            f"no code generator for search space {space!r}; add one to GENERATORS in nas/codegen.py"
        )
    return GENERATORS[space]


def generate_source(
    arch: Architecture, config: ModelConfig, header: str, preprocessing: dict[str, Any] | None = None
) -> str:
    """The whole file. `header` is the module docstring's text (plain lines, at most 88 characters);
    `preprocessing` (image_size, mean, std, class_names; default CIFAR-10's) becomes the `Classifier` base."""
    from nas.export.preprocessing import classifier_source, default_preprocessing

    body, helpers = _generator(arch.space).source(arch, config)
    base = classifier_source(preprocessing or default_preprocessing(config.num_classes, config.image_size))
    return (
        f'"""{header.strip()}\n"""\n\nimport torch\nfrom torch import nn\n\n\n{base}\n\n\n'
        f"{_helper_source(helpers)}\n{body}"
    )


def _stem_conv(width: str, config: ModelConfig) -> str:
    """The stem's convolution, strided when the network takes images larger than 32 pixels."""
    kernel, stride, padding = config.stem_conv
    if stride == 1:
        return f"nn.Conv2d(3, {width}, 3, padding=1, bias=False)"
    return f"nn.Conv2d(3, {width}, {kernel}, stride={stride}, padding={padding}, bias=False)"


def remap_state_dict(arch: Architecture, state_dict: dict[str, Any]) -> dict[str, Any]:
    """The engine's weights under the generated module's names, without the auxiliary head."""
    key = _generator(arch.space).key
    return {key(k): v for k, v in state_dict.items() if not k.startswith("auxiliary_head.")}
