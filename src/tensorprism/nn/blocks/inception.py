r"""Inception module (Szegedy et al. 2015; book §4.3.5 naive form and §4.4.4 with 1×1 reductions).

.. math:: \mathbf O = \big[\,\mathbf O_{1\times1},\ \mathbf O_{3\times3},\ \mathbf O_{5\times5},\ \mathbf O_{pool}\,\big]_{\text{channels}}

Branches: 1×1 conv; (optional 1×1 reduction →) 3×3 conv; (optional 1×1 reduction →) 5×5 conv;
3×3 max pool (stride 1, pad 1) → 1×1 conv. Output channels ``c1 + c3 + c5 + pool_proj``. The
book's formulas put a ReLU after every conv (lines 6627–6639), its PyTorch listings have none:
``act`` chooses (``None`` reproduces the listings), ``norm="bn"`` gives the BN-Inception units
torchvision's GoogLeNet uses.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..conv import ConvNormAct


class Inception(nn.Module):
    """``(N, C_in, H, W) → (N, c1 + c3 + c5 + pool_proj, H, W)``; ``c3_reduce=None`` gives the naive module."""

    def __init__(self, in_channels: int, c1: int, c3: int, c5: int, pool_proj: int, c3_reduce: int | None = None,
                 c5_reduce: int | None = None, c5_kernel: int = 5, norm: str | None = None, act: str | None = "relu"):
        super().__init__()

        def unit(cin: int, cout: int, k: int) -> nn.Module:
            return ConvNormAct(cin, cout, k, norm=norm, act=act)

        def reduced(cred: int | None, cout: int, k: int) -> nn.Module:
            if cred is None:
                return unit(in_channels, cout, k)
            return nn.Sequential(unit(in_channels, cred, 1), unit(cred, cout, k))

        self.b1 = unit(in_channels, c1, 1)
        self.b3 = reduced(c3_reduce, c3, 3)
        self.b5 = reduced(c5_reduce, c5, c5_kernel)
        self.pool = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), unit(in_channels, pool_proj, 1))
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], 1)
