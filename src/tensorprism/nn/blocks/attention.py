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
    """CBAM channel gate ``σ(MLP(avg) + MLP(max))``: ``(N, C, H, W) → (N, C, H, W)``.

    ``pool="avg"`` is the book's squeeze-and-excitation form (§7.3.1, l. 16236-16252, C6):
    ``σ(W₂ ReLU(W₁ GAP(x)))``. Every gate here follows one convention: ``forward`` returns the
    input already re-weighted and ``attention(x)`` returns the gate alone (for pictures). The book
    mixes both (L7-12) and so multiplies its channel gate in twice (L7-13, L7-14).
    """

    def __init__(self, channels: int, reduction: int = 16, pool: str = "avg+max"):
        super().__init__()
        if pool not in ("avg", "avg+max"):
            raise ValueError(f"pool={pool!r}; expected 'avg' (squeeze-and-excitation) or 'avg+max' (CBAM)")
        self.pool = pool
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1, bias=False))

    def attention(self, x: Tensor) -> Tensor:
        """The gate ``M_c (N, C, 1, 1)`` in (0, 1)."""
        gate = self.mlp(x.mean((2, 3), keepdim=True))
        if self.pool == "avg+max":
            gate = gate + self.mlp(x.amax((2, 3), keepdim=True))
        return torch.sigmoid(gate)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.attention(x)


class SpatialAttention(nn.Module):
    """CBAM spatial gate ``σ(conv_k([mean_c x, max_c x]))``; ``attention(x)`` is the map ``(N, 1, H, W)``."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def attention(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        return torch.sigmoid(self.conv(pooled))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.attention(x)


class CBAM(nn.Sequential):
    """Convolutional block attention module: channel gate, then spatial gate.

    ``order="spatial-channel"`` is the book's residual block (§7.3.1, l. 16293-16332, C7), which
    applies the spatial gate first; ``pool="avg"`` its SE-style channel gate.
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7, order: str = "channel-spatial",
                 pool: str = "avg+max"):
        if order not in ("channel-spatial", "spatial-channel"):
            raise ValueError(f"order={order!r}; expected 'channel-spatial' (CBAM) or 'spatial-channel' (the book)")
        gates = [ChannelAttention(channels, reduction, pool), SpatialAttention(kernel_size)]
        super().__init__(*(gates if order == "channel-spatial" else gates[::-1]))
