r"""DenseNet blocks (Huang et al. 2017; book B8, lines 6903–7038).

Dense connectivity :math:`\mathbf x_l = H_l([\mathbf x_0, \dots, \mathbf x_{l-1}])` with
``H_l`` = BN → ReLU → 1×1 conv (``bn_size·k`` channels) → BN → ReLU → 3×3 conv (``k`` channels),
``k`` the growth rate; layer ``i`` of a block sees ``C + i·k`` channels. Transition: BN → ReLU →
1×1 conv to ``⌊θC⌋`` channels → 2×2 average pool (the book's listing omits the ReLU; the
original and torchvision have it, and the parameter count is the same either way).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..conv import make_act


def _bn_act_conv(cin: int, cout: int, k: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(cin), make_act("relu"), nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)]


class DenseLayer(nn.Sequential):
    """Pre-activation bottleneck ``(N, C, H, W) → (N, k, H, W)`` (the block concatenates it)."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0):
        super().__init__(*_bn_act_conv(in_channels, bn_size * growth_rate, 1), *_bn_act_conv(bn_size * growth_rate, growth_rate, 3),
                         *( [nn.Dropout(drop_rate)] if drop_rate else []))


class DenseBlock(nn.Module):
    """``num_layers`` dense layers: ``(N, C, H, W) → (N, C + L·k, H, W)``."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0):
        super().__init__()
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate) for i in range(num_layers)
        )
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN → ReLU → 1×1 conv → 2×2 avg pool: ``(N, C, H, W) → (N, out, H/2, W/2)``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(*_bn_act_conv(in_channels, out_channels, 1), nn.AvgPool2d(2, 2))
