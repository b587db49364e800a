"""Layers of the progressive (PGGAN) and style-based (StyleGAN) GANs: equalised-learning-rate
linear / convolution, pixel norm, minibatch standard deviation, the modulated convolution with a
learned style affine, and per-pixel noise injection. The equations live in
:mod:`tensorprism.functional.gan_blocks`."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...functional.gan_blocks import equalized_scale, minibatch_stddev, modulated_conv2d, pixel_norm


class EqualizedLinear(nn.Module):
    """``Linear`` whose weight ~ N(0, 1/lr_mul²) is scaled at run time by He's constant (and the
    bias by ``lr_mul``): equalised learning rate. ``(N, in) → (N, out)``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 gain: float = math.sqrt(2.0), lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.scale, self.lr_mul = equalized_scale(self.weight.shape, gain, lr_mul), lr_mul

    def forward(self, x: Tensor) -> Tensor:
        b = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, self.weight * self.scale, b)


class EqualizedConv2d(nn.Module):
    """``Conv2d`` (stride 1, 'same' padding) with the equalised learning rate. ``(N, I, H, W) → (N, O, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = math.sqrt(2.0)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale, self.padding = equalized_scale(self.weight.shape, gain), kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """:func:`~tensorprism.functional.gan_blocks.pixel_norm` over channels."""

    def forward(self, x: Tensor) -> Tensor:
        return pixel_norm(x)


class MinibatchStd(nn.Module):
    """Appends the minibatch standard-deviation feature map: ``(N, C, H, W) → (N, C+1, H, W)``."""

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        return minibatch_stddev(x, self.group_size)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution: an affine map ``w (N, w_dim) → s (N, I)`` (bias 1, so the
    initial style is the identity), then :func:`~tensorprism.functional.gan_blocks.modulated_conv2d`
    with the equalised-learning-rate kernel; ``upsample`` doubles the resolution first (bilinear).
    ``x (N, I, H, W), w (N, w_dim) → (N, O, H', W')``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True,
                 upsample: bool = False):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0, gain=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = equalized_scale(self.weight.shape, gain=1.0)
        self.demodulate, self.upsample, self.padding = demodulate, upsample, kernel_size // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return modulated_conv2d(x, self.weight * self.scale, self.affine(w), self.demodulate, self.padding)


class NoiseInjection(nn.Module):
    """Adds per-pixel Gaussian noise ``(N, 1, H, W)`` scaled by a learned per-channel strength
    (initially 0): the stochastic detail of StyleGAN. ``noise`` may be passed for reproducibility."""

    def __init__(self, channels: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        return x + self.strength * noise


__all__ = ["EqualizedLinear", "EqualizedConv2d", "PixelNorm", "MinibatchStd", "ModulatedConv2d", "NoiseInjection"]
