r"""Residual blocks (He et al. 2016; book §4.3.5 and §4.4.3).

Post-activation ResNet v1, the form all four of the book's listings implement (line 6507):

.. math:: \mathbf y = \text{ReLU}\big(\mathcal F(\mathbf x) + \mathbf W_s \mathbf x\big)

with ``W_s`` the identity, or a strided 1×1 conv + BN ("projection shortcut", line 6503) when the
shape changes. Basic: ``F = BN(W₂ * ReLU(BN(W₁ * x)))`` with two 3×3 convs; bottleneck (ResNet-50+,
not described in the book): 1×1 reduce → 3×3 (stride here, "ResNet v1.5") → 1×1 expand ×4.
"""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..conv import ConvNormAct
from ..drop_path import DropPath


class PadShortcut(nn.Module):
    """Parameter-free shortcut ("option A", He et al. 2016, CIFAR ResNets): subsample by the stride and
    zero-pad the new channels: ``(N, C, H, W) → (N, C_out, H/s, W/s)``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride, self.extra = stride, out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


def _shortcut(in_ch: int, out_ch: int, stride: int, shortcut: str) -> nn.Module:
    """``auto``: identity when shapes match, else projection; ``projection``; ``identity``; ``pad`` (option A)."""
    needed = stride != 1 or in_ch != out_ch
    if shortcut == "identity" and needed:
        raise ValueError(f"an identity shortcut cannot map {in_ch}→{out_ch} channels with stride {stride}; use shortcut='projection' or 'pad'")
    if shortcut == "projection" or (shortcut == "auto" and needed):
        return ConvNormAct(in_ch, out_ch, 1, stride, act=None)
    if shortcut == "pad" and needed:
        return PadShortcut(in_ch, out_ch, stride)
    if shortcut not in ("auto", "identity", "pad", "projection"):
        raise ValueError(f"shortcut={shortcut!r}; expected 'auto', 'projection', 'identity' or 'pad'")
    return nn.Identity()


class _Residual(nn.Module):
    """``ReLU(drop_path(attention(branch(x))) + shortcut(x))``; subclasses build ``branch``.

    ``attention`` (e.g. :class:`~tensorprism.nn.blocks.attention.CBAM`) re-weights the branch
    before the addition (Woo et al. 2018; the book's residual block with attention, §7.3.1 C7).
    """

    expansion = 1

    def __init__(self, branch: nn.Sequential, shortcut: nn.Module, drop_path: float,
                 attention: nn.Module | None = None):
        super().__init__()
        self.branch, self.shortcut = branch, shortcut
        self.attention = attention if attention is not None else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.drop_path(self.attention(self.branch(x))) + self.shortcut(x))

    def zero_init_last(self) -> None:
        """Start as an identity map: γ = 0 in the branch's last BN (Goyal et al. 2017)."""
        nn.init.zeros_(self.branch[-1][1].weight)


class BasicBlock(_Residual):
    """Two k×k conv-BN units (book L25/L35): ``(N, C_in, H, W) → (N, C_out, H/s, W/s)``."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: str = "auto",
                 kernel_size: int = 3, drop_path: float = 0.0, attention: nn.Module | None = None):
        branch = nn.Sequential(
            ConvNormAct(in_channels, channels, kernel_size, stride),
            ConvNormAct(channels, channels, kernel_size, act=None),
        )
        super().__init__(branch, _shortcut(in_channels, channels, stride, shortcut), drop_path, attention)


class Bottleneck(_Residual):
    """1×1 → 3×3 (stride) → 1×1 ×``expansion``: ``(N, C_in, H, W) → (N, 4·channels, H/s, W/s)``."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: str = "auto",
                 groups: int = 1, base_width: int = 64, drop_path: float = 0.0):
        width = int(channels * base_width / 64) * groups
        out = channels * self.expansion
        branch = nn.Sequential(
            ConvNormAct(in_channels, width, 1),
            ConvNormAct(width, width, 3, stride, groups=groups),
            ConvNormAct(width, out, 1, act=None),
        )
        super().__init__(branch, _shortcut(in_channels, out, stride, shortcut), drop_path)
