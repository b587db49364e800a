r"""Attention blocks for CNNs: the book's two spatial attentions and CBAM (Woo et al. 2018).

The book's text and code disagree (book §4.3.5, lines 6147–6211; erratum 8), so both exist:

* :class:`SpatialSoftmaxAttention` (the maths): per-channel affine map then a softmax over the
  ``H·W`` positions of each channel, :math:`\mathbf a = \text{softmax}_{HW}(\mathbf w_c \mathbf x + b_c)`,
  :math:`\mathbf y = \mathbf a \odot \mathbf x`, ``a`` of shape ``(N, C, H, W)``.
* :class:`SpatialSigmoidGate` (the listings): :math:`\mathbf a = \sigma(\text{Conv}_{1\times1}^{C\to1}(\mathbf x))`
  of shape ``(N, 1, H, W)``, broadcast over channels.

CBAM = channel attention :math:`\sigma(\text{MLP}(\text{GAP}(x)) + \text{MLP}(\text{GMP}(x)))` followed by
spatial attention :math:`\sigma(\text{Conv}_{7\times7}([\text{mean}_c x, \max_c x]))`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor


class SpatialSoftmaxAttention(nn.Module):
    """``(N, C, H, W) → (N, C, H, W)``; each channel's attention map sums to one over space."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def attention(self, x: Tensor) -> Tensor:
        logits = x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return logits.flatten(2).softmax(-1).view_as(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.attention(x) * x


class SpatialSigmoidGate(nn.Module):
    """``y = x ⊙ σ(conv1×1(x))``, one gate per position shared by all channels (book listings L29/L30)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.conv(x))


class ChannelAttention(nn.Module):
    """CBAM channel gate ``σ(MLP(avg) + MLP(max))``: ``(N, C, H, W) → (N, C, H, W)``."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        gate = self.mlp(x.mean((2, 3), keepdim=True)) + self.mlp(x.amax((2, 3), keepdim=True))
        return x * torch.sigmoid(gate)


class SpatialAttention(nn.Module):
    """CBAM spatial gate ``σ(conv_k([mean_c x, max_c x]))``."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Sequential):
    """Convolutional block attention module: channel gate, then spatial gate."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__(ChannelAttention(channels, reduction), SpatialAttention(kernel_size))
