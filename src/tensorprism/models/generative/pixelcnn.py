r"""PixelCNN (van den Oord et al. 2016) for binary images: :math:`p(x)=\prod_i p(x_i\mid x_{<i})`
(book §10.7, I10.23) in raster order, each conditional a Bernoulli whose logit comes from masked
convolutions.

A type-**A** mask (first layer) hides the centre pixel and everything after it; type-**B** masks
(later layers) let a pixel see its own features, which already summarise only earlier pixels. The
log-likelihood is exact: one forward pass gives every conditional.

Stacking square masked kernels leaves a **blind spot** (van den Oord et al. 2016b, "Conditional
Image Generation with PixelCNN Decoders"): a pixel never sees the earlier pixels up and to the
right beyond what the first layer reaches (for the defaults, the pixel 1 row up and 4 columns right
is invisible although it comes first in raster order); the gated PixelCNN of that paper removes it
with separate vertical and horizontal stacks, which this model does not have.

``pixelcnn`` (defaults for binarised MNIST): 7×7 type-A conv, 6 residual blocks of 3×3 type-B
convs with 64 channels, two 1×1 layers, one logit per pixel. ``forward(x (N, 1, H, W))`` → logits
``(N, 1, H, W)``; ``log_prob(x)`` → ``(N,)`` nats; ``sample(n)`` draws pixel by pixel (H·W passes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...config import setting
from ...errors import ConfigError, ShapeError
from .. import register_model
from ..contract import GenerativeMixin


def causal_mask(kernel_size: int, mask_type: str) -> Tensor:
    """``(k, k)`` mask of a single-channel masked convolution: rows above the centre, and the centre
    row left of the centre (plus the centre itself for type ``"B"``)."""
    if mask_type not in ("A", "B"):
        raise ConfigError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    m = torch.zeros(kernel_size, kernel_size)
    c = kernel_size // 2
    m[:c] = 1
    m[c, : c + (1 if mask_type == "B" else 0)] = 1
    return m


class MaskedConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose kernel is multiplied by a causal mask at every call (so optimiser steps
    cannot leak information from later pixels)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask", causal_mask(kernel_size, mask_type).view(1, 1, kernel_size, kernel_size))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class ResidualMaskedBlock(nn.Module):
    """ReLU → 1×1 (h → h/2) → ReLU → masked 3×3 B (h/2 → h/2) → ReLU → 1×1 (h/2 → h), plus the input."""

    def __init__(self, channels: int):
        super().__init__()
        half = channels // 2
        self.net = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, half, 1), nn.ReLU(), MaskedConv2d(half, half, 3, "B"),
                                 nn.ReLU(), nn.Conv2d(half, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


@dataclass
class PixelCNNConfig:
    """Binary images ``(1, img_size, img_size)``; ``channels`` of the hidden layers; ``blocks``
    residual type-B blocks; ``first_kernel`` of the type-A layer."""

    img_size: int = setting(28, min=2)
    channels: int = setting(64, min=2)
    blocks: int = setting(6, min=0)
    first_kernel: int = setting(7, min=3)


class PixelCNN(GenerativeMixin, nn.Module):
    """PixelCNN over binary single-channel images; see the module docstring."""

    kind = "autoregressive"

    def __init__(self, cfg: PixelCNNConfig):
        super().__init__()
        if cfg.first_kernel % 2 == 0:
            raise ConfigError(f"first_kernel must be odd, got {cfg.first_kernel}")
        self.data_shape = (1, cfg.img_size, cfg.img_size)
        h = cfg.channels
        self.net = nn.Sequential(MaskedConv2d(1, h, cfg.first_kernel, "A"),
                                 *[ResidualMaskedBlock(h) for _ in range(cfg.blocks)],
                                 nn.ReLU(), nn.Conv2d(h, h, 1), nn.ReLU(), nn.Conv2d(h, 1, 1))

    def example_input(self, batch_size: int = 2) -> Tensor:
        """Random binary images ``(batch_size, 1, H, W)``."""
        return torch.bernoulli(torch.full((batch_size, *self.data_shape), 0.5, device=self._example_device()))

    def forward(self, x: Tensor) -> Tensor:
        self.check_data(x)
        return self.net(x)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact :math:`\\log p(x)` ``(N,)`` in nats for binary ``x`` (values 0 or 1)."""
        if x.numel() and x.device.type != "meta" and not bool(((x == 0) | (x == 1)).all()):
            raise ShapeError("PixelCNN models binary images: binarise the data (values 0 or 1), e.g. with "
                             "torch.bernoulli(x) for stochastic binarisation")
        logits = self(x)
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        y = self.sample_labels(n, y)
        p = next(self.parameters())
        x = torch.zeros(n, *self.data_shape, device=p.device, dtype=p.dtype)
        _, h, w = self.data_shape
        for i in range(h):
            for j in range(w):
                prob = torch.sigmoid(self.net(x)[:, :, i, j])
                x[:, :, i, j] = torch.bernoulli(prob, generator=generator)
        return x


@register_model("pixelcnn", config=PixelCNNConfig, family="autoregressive")
def pixelcnn(cfg: PixelCNNConfig) -> PixelCNN:
    """PixelCNN with a 7×7 type-A and residual type-B masked convolutions, binary 28×28 images."""
    return PixelCNN(cfg)
