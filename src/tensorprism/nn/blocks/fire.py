r"""SqueezeNet Fire module (Iandola et al. 2016; book B9, lines 7040–7116).

:math:`Y_{sq} = \text{ReLU}(W_{1\times1} * X)`, then two expand branches
:math:`\text{ReLU}(W_{1\times1} * Y_{sq})` and :math:`\text{ReLU}(W_{3\times3} * Y_{sq})`,
concatenated on channels: ``(N, C, H, W) → (N, e1 + e3, H, W)``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..conv import ConvNormAct


class Fire(nn.Module):
    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int | None = None):
        super().__init__()
        self.squeeze = ConvNormAct(in_channels, squeeze, 1, norm=None)
        self.expand1 = ConvNormAct(squeeze, expand1x1, 1, norm=None)
        self.expand3 = ConvNormAct(squeeze, expand3x3 or expand1x1, 3, norm=None)
        self.out_channels = expand1x1 + (expand3x3 or expand1x1)

    def forward(self, x: Tensor) -> Tensor:
        s = self.squeeze(x)
        return torch.cat([self.expand1(s), self.expand3(s)], 1)
