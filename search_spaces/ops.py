"""The one registry of candidate operations. Every builder has the signature `(C, stride, norm) -> nn.Module`:
C channels in and out; stride 2 halves the resolution (only ops on a reduction cell's inputs get it); `norm`
is the network's normalisation ("batch" or "none", `ModelConfig.norm`), which every op that normalises
honours (as DARTS's builders take `affine`).

Definitions follow DARTS (Liu et al. 2019, `cnn/operations.py` semantics) and NAS-Bench-201 (Dong & Yang
2020): separable convs are applied twice, convs are ReLU-Conv-BN, identity at stride 2 is a factorized reduce.
The names live without torch in `op_names.py`, so architecture values can check them.

`nas export` copies the builders an architecture uses, and the classes they name, from their source into the
exported file (nas/export/codegen.py): what is defined here is what the exported network runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from search_spaces.op_names import OP_NAMES

OpBuilder = Callable[[int, int, str], nn.Module]

OPS: dict[str, OpBuilder] = {}


def register_op(name: str) -> Callable[[OpBuilder], OpBuilder]:
    """Decorator: make `builder` the op `name`. Registering a name twice is an error."""

    def register(builder: OpBuilder) -> OpBuilder:
        if name in OPS:
            raise ValueError(f"op {name!r} is already registered")
        OPS[name] = builder
        if name not in OP_NAMES:
            OP_NAMES.append(name)
        return builder

    return register


# Everything below is also copied, source and all, into exported model files (nas/export/codegen.py), which
# are checked with ruff's defaults: keep its lines within 88 characters, split calls with a trailing comma and
# name arguments in lower case.


def norm_layer(norm: str, c: int) -> nn.Module:
    """The normalisation after a convolution: batch norm ("batch") or none."""
    return nn.BatchNorm2d(c) if norm == "batch" else nn.Identity()


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution, batch norm (when norm is "batch")."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        norm: str,
    ):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
            norm_layer(norm, c_out),
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
        norm: str,
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
            norm_layer(norm, c_out),
        )


class SepConv(nn.Sequential):
    """Two separable convolutions in a row, the first carrying the stride (NASNet's
    "sep conv")."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, norm: str):
        padding = kernel // 2
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, dilation=1, norm=norm),
            DilConv(c_in, c_out, kernel, 1, padding, dilation=1, norm=norm),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution without dropping pixels: two 1x1 stride-2 convolutions,
    the second shifted by one pixel, concatenated."""

    def __init__(self, c_in: int, c_out: int, norm: str):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs even c_out, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = norm_layer(norm, c_out)

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


@register_op("none")
def zero(c: int, stride: int, norm: str) -> nn.Module:
    return Zero(stride)


@register_op("identity")
def identity(c: int, stride: int, norm: str) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(c, c, norm)


@register_op("max_pool_3x3")
def max_pool_3x3(c: int, stride: int, norm: str) -> nn.Module:
    return nn.MaxPool2d(3, stride=stride, padding=1)


@register_op("avg_pool_3x3")
def avg_pool_3x3(c: int, stride: int, norm: str) -> nn.Module:
    return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)


@register_op("conv_1x1")
def conv_1x1(c: int, stride: int, norm: str) -> nn.Module:
    return ReLUConvBN(c, c, 1, stride, 0, norm)


@register_op("conv_3x3")
def conv_3x3(c: int, stride: int, norm: str) -> nn.Module:
    return ReLUConvBN(c, c, 3, stride, 1, norm)


@register_op("sep_conv_3x3")
def sep_conv_3x3(c: int, stride: int, norm: str) -> nn.Module:
    return SepConv(c, c, 3, stride, norm)


@register_op("sep_conv_5x5")
def sep_conv_5x5(c: int, stride: int, norm: str) -> nn.Module:
    return SepConv(c, c, 5, stride, norm)


@register_op("sep_conv_7x7")
def sep_conv_7x7(c: int, stride: int, norm: str) -> nn.Module:
    return SepConv(c, c, 7, stride, norm)


@register_op("dil_conv_3x3")
def dil_conv_3x3(c: int, stride: int, norm: str) -> nn.Module:
    return DilConv(c, c, 3, stride, padding=2, dilation=2, norm=norm)


@register_op("dil_conv_5x5")
def dil_conv_5x5(c: int, stride: int, norm: str) -> nn.Module:
    return DilConv(c, c, 5, stride, padding=4, dilation=2, norm=norm)


class DropPath(nn.Module):
    """Drop a whole branch per sample with probability `rate` (Larsson et al. 2017;
    Zoph et al. 2018); the identity in eval mode.

    `rate` is a buffer changed in place by `set_drop_path_rate`, so a trainer can
    schedule it, also inside a captured CUDA graph, without rebuilding anything.
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
    """Auxiliary classifier on 8x8 features (as in DARTS/NASNet), pooled adaptively so
    any resolution works."""

    def __init__(self, c: int, num_classes: int, norm: str):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AdaptiveAvgPool2d(2),
            nn.Conv2d(c, 128, 1, bias=False),
            norm_layer(norm, 128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            norm_layer(norm, 768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))
