r"""Mobile blocks: depthwise-separable conv (MobileNetV1), squeeze-and-excitation, inverted residual.

Depthwise-separable (book B5, line 6754): a k×k depthwise conv (``groups = C``)
:math:`Y_{dw}(i,j,c) = \sum_{m,n} X(i+m, j+n, c) K(m, n, c)` then a 1×1 pointwise conv
:math:`Y_{pw}(i,j,n) = \sum_c Y_{dw}(i,j,c) W(c, n)`, each followed by BN and ReLU (the book's
PyTorch listing L40 shares one BN between the two, a bug: each stage needs its own).

Inverted residual with linear bottleneck (MobileNetV2, Sandler et al. 2018; book B6): 1×1 expand
(×t) → k×k depthwise → [SE] → 1×1 *linear* projection, with an identity shortcut when the shape is
kept. With SE and Swish it is EfficientNet's MBConv; with SE and hard-swish MobileNetV3's bneck.

Squeeze-and-excitation (Hu et al. 2018): :math:`\mathbf y = \mathbf x \odot
\sigma(W_2\,\delta(W_1\,\text{GAP}(\mathbf x)))` (channel attention).
"""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from ..conv import ConvNormAct, make_act
from ..drop_path import DropPath


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a scaled channel count to a multiple of ``divisor``, never losing more than 10 % (MobileNet rule)."""
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


class DepthwiseSeparable(nn.Sequential):
    """DW k×k (stride) → BN → act → PW 1×1 → BN → act: ``(N, C, H, W) → (N, out, H/s, W/s)``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 3, act: str = "relu"):
        super().__init__(
            ConvNormAct(in_channels, in_channels, kernel_size, stride, groups=in_channels, act=act),
            ConvNormAct(in_channels, out_channels, 1, act=act),
        )


class SqueezeExcite(nn.Module):
    """Channel gate ``x · gate(W₂ act(W₁ GAP(x)))`` with a ``squeeze_channels`` bottleneck."""

    def __init__(self, channels: int, squeeze_channels: int, act: str = "relu", gate: str = "sigmoid"):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = make_act(act)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = nn.Hardsigmoid(inplace=True) if gate == "hardsigmoid" else nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean((2, 3), keepdim=True)  # (N, C, 1, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class InvertedResidual(nn.Module):
    """1×1 expand → k×k DW → [SE] → 1×1 linear project, ``+ x`` when stride 1 and channels match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: float = 6, kernel_size: int = 3,
                 act: str = "relu6", se_channels: int = 0, se_gate: str = "sigmoid", se_act: str = "relu",
                 expanded_channels: int | None = None, drop_path: float = 0.0):
        super().__init__()
        hidden = expanded_channels or int(round(in_channels * expand_ratio))
        layers: list[nn.Module] = []
        if hidden != in_channels:
            layers.append(ConvNormAct(in_channels, hidden, 1, act=act))
        layers.append(ConvNormAct(hidden, hidden, kernel_size, stride, groups=hidden, act=act))
        if se_channels:
            layers.append(SqueezeExcite(hidden, se_channels, se_act, se_gate))
        layers.append(ConvNormAct(hidden, out_channels, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.drop_path = DropPath(drop_path) if drop_path > 0 and self.use_residual else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        return x + self.drop_path(y) if self.use_residual else y
