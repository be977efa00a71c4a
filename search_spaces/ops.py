"""The one registry of candidate operations. Every builder has the signature `(C, stride) -> nn.Module`:
C channels in and out; stride 2 halves the resolution (only ops on a reduction cell's inputs get it).

Definitions follow DARTS (Liu et al. 2019, `cnn/operations.py` semantics) and NAS-Bench-201 (Dong & Yang
2020): separable convs are applied twice, convs are ReLU-Conv-BN, identity at stride 2 is a factorized reduce.

Each op also says how `nas export` writes it in standalone code (`code=` of `register_op`): an expression over
the channel count `c` that names the classes of this module, whose source export copies into the generated
file.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

OpBuilder = Callable[[int, int], nn.Module]
# How export writes an op: a Python expression over the channel count `c` that builds the same module in
# standalone code, with `{stride}` standing for the stride; or a function of the stride giving that
# expression, or None where the op is the identity and is written inline.
OpCodeTemplate = str | Callable[[int], str | None]


@dataclass(frozen=True)
class OpCode:
    """One op at one stride as generated code: the constructor expression (None: identity, written inline) and
    the engine classes it names, whose source export copies into the generated file."""

    expr: str | None
    classes: tuple[type, ...] = ()


@dataclass(frozen=True)
class Op:
    """A registry entry: called like its builder, `OPS[name](C, stride)`; `code(stride)` is its export
    twin."""

    name: str
    builder: OpBuilder
    template: OpCodeTemplate | None = None

    def __call__(self, C: int, stride: int) -> nn.Module:
        return self.builder(C, stride)

    def code(self, stride: int) -> OpCode:
        """The expression that builds `self(c, stride)` in generated code, and the classes it names (looked up
        where the builder is defined, so the expression reads like the builder's own body)."""
        if self.template is None:
            raise LookupError(f"op {self.name!r} has no code for export; give register_op a code= template")
        expr = self.template(stride) if callable(self.template) else self.template.format(stride=stride)
        if expr is None:
            return OpCode(None)
        scope = vars(sys.modules[self.builder.__module__])
        names = {node.id for node in ast.walk(ast.parse(expr, mode="eval")) if isinstance(node, ast.Name)}
        return OpCode(expr, tuple(scope[n] for n in sorted(names) if isinstance(scope.get(n), type)))


OPS: dict[str, Op] = {}


def register_op(name: str, code: OpCodeTemplate | None = None) -> Callable[[OpBuilder], OpBuilder]:
    """Decorator: make `builder` the op `name`; `code` says how export writes it (see OpCodeTemplate)."""

    def register(builder: OpBuilder) -> OpBuilder:
        if name in OPS:
            raise ValueError(f"op {name!r} is already registered")
        OPS[name] = Op(name, builder, code)
        return builder

    return register


# The classes below are also copied, source and all, into exported model files (nas/export/codegen.py), which
# are checked with ruff's defaults: keep their lines within 88 characters and split calls with a trailing
# comma.


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution, batch norm."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


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
            nn.ReLU(inplace=False),
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


class SepConv(nn.Sequential):
    """Two separable convolutions in a row, the first carrying the stride (NASNet's
    "sep conv")."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int):
        padding = kernel // 2
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, dilation=1),
            DilConv(c_in, c_out, kernel, 1, padding, dilation=1),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution without dropping pixels: two 1x1 stride-2 convolutions,
    the second shifted by one pixel, concatenated."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs even c_out, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class Zero(nn.Module):
    """The "none" op: zeros shaped like the op's output (a product with 0, so NaN and
    inf still show). Kept so that a fixed-topology cell can switch an edge off."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


@register_op("none", code="Zero({stride})")
def zero(C: int, stride: int) -> nn.Module:
    return Zero(stride)


@register_op("identity", code=lambda stride: None if stride == 1 else "FactorizedReduce(c, c)")
def identity(C: int, stride: int) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(C, C)


@register_op("max_pool_3x3", code="nn.MaxPool2d(3, stride={stride}, padding=1)")
def max_pool_3x3(C: int, stride: int) -> nn.Module:
    return nn.MaxPool2d(3, stride=stride, padding=1)


@register_op("avg_pool_3x3", code="nn.AvgPool2d(3, stride={stride}, padding=1, count_include_pad=False)")
def avg_pool_3x3(C: int, stride: int) -> nn.Module:
    return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)


@register_op("conv_1x1", code="ReLUConvBN(c, c, 1, {stride}, 0)")
def conv_1x1(C: int, stride: int) -> nn.Module:
    return ReLUConvBN(C, C, 1, stride, 0)


@register_op("conv_3x3", code="ReLUConvBN(c, c, 3, {stride}, 1)")
def conv_3x3(C: int, stride: int) -> nn.Module:
    return ReLUConvBN(C, C, 3, stride, 1)


@register_op("sep_conv_3x3", code="SepConv(c, c, 3, {stride})")
def sep_conv_3x3(C: int, stride: int) -> nn.Module:
    return SepConv(C, C, 3, stride)


@register_op("sep_conv_5x5", code="SepConv(c, c, 5, {stride})")
def sep_conv_5x5(C: int, stride: int) -> nn.Module:
    return SepConv(C, C, 5, stride)


@register_op("sep_conv_7x7", code="SepConv(c, c, 7, {stride})")
def sep_conv_7x7(C: int, stride: int) -> nn.Module:
    return SepConv(C, C, 7, stride)


@register_op("dil_conv_3x3", code="DilConv(c, c, 3, {stride}, padding=2, dilation=2)")
def dil_conv_3x3(C: int, stride: int) -> nn.Module:
    return DilConv(C, C, 3, stride, padding=2, dilation=2)


@register_op("dil_conv_5x5", code="DilConv(c, c, 5, {stride}, padding=4, dilation=2)")
def dil_conv_5x5(C: int, stride: int) -> nn.Module:
    return DilConv(C, C, 5, stride, padding=4, dilation=2)


class DropPath(nn.Module):
    """Drop a whole branch per sample with probability `rate` (Larsson et al. 2017; Zoph et al. 2018).

    `rate` is a buffer changed in place by `set_drop_path_rate`, so a trainer can schedule it, also inside a
    captured CUDA graph, without rebuilding anything.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("rate", torch.zeros(()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = (1.0 - self.rate).to(x.dtype)
        mask = torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) < keep
        return x * mask / keep


def set_drop_path_rate(model: nn.Module, rate: float) -> None:
    for module in model.modules():
        if isinstance(module, DropPath):
            module.rate.fill_(rate)


class AuxiliaryHead(nn.Module):
    """Auxiliary classifier on 8x8 features (as in DARTS/NASNet), pooled adaptively so any resolution
    works."""

    def __init__(self, C: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AdaptiveAvgPool2d(2),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))
