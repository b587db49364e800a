r"""Colour PixelCNN (van den Oord et al. 2016, §3.4): multi-channel images with a ``levels``-way
softmax per sub-pixel, in raster order and, within a pixel, channel after channel (R → G → B):

.. math:: p(x)=\prod_{i}\;p(x_{i,R}\mid x_{<i})\,p(x_{i,G}\mid x_{<i},x_{i,R})\,
          p(x_{i,B}\mid x_{<i},x_{i,R},x_{i,G}).

Every convolution's feature maps are split into ``C`` consecutive groups, one per colour. Its mask
lets output group ``c`` see all input groups at earlier pixels and, at the current pixel, the
input groups before ``c`` (type **A**, the first layer, on the image) or up to and including ``c``
(type **B**, all later layers, 1×1 ones included). The exact NLL comes from one forward pass;
``bits_per_dim`` = NLL / (C·H·W·ln 2) on the discrete images (comparable with published 8-bit
numbers when ``levels = 256``: PixelCNN 3.14, PixelCNN++ 2.92 on CIFAR-10).

``forward(x (N, C, H, W) in [0, 1])`` → logits ``(N, C, levels, H, W)``; data must lie on the
``levels`` grid ``k/(levels−1)`` (8-bit images with 256).
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


def colour_mask(out_channels: int, in_channels: int, kernel_size: int, colours: int, mask_type: str) -> Tensor:
    """``(O, I, k, k)`` mask of a channel-grouped causal convolution (groups of consecutive channels,
    ``group(j) = j·colours // channels``)."""
    if mask_type not in ("A", "B"):
        raise ConfigError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    for n in (out_channels, in_channels):
        if n % colours:
            raise ConfigError(f"channel counts must be multiples of the {colours} colours, got {n}")
    m = torch.zeros(out_channels, in_channels, kernel_size, kernel_size)
    c = kernel_size // 2
    m[:, :, :c] = 1  # rows above
    m[:, :, c, :c] = 1  # left in the centre row
    g_out = torch.arange(out_channels) * colours // out_channels
    g_in = torch.arange(in_channels) * colours // in_channels
    allowed = g_out[:, None] > g_in[None, :] if mask_type == "A" else g_out[:, None] >= g_in[None, :]
    m[:, :, c, c] = allowed.float()
    return m


class ColourMaskedConv2d(nn.Conv2d):
    """``nn.Conv2d`` with a :func:`colour_mask` applied to the kernel at every call."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, colours: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask", colour_mask(out_channels, in_channels, kernel_size, colours, mask_type))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class ColourResidualBlock(nn.Module):
    """ReLU → masked 1×1 (h → h/2) → ReLU → masked 3×3 (h/2) → ReLU → masked 1×1 (h/2 → h), plus input; all type B."""

    def __init__(self, channels: int, colours: int):
        super().__init__()
        half = channels // 2
        self.net = nn.Sequential(nn.ReLU(), ColourMaskedConv2d(channels, half, 1, colours, "B"), nn.ReLU(),
                                 ColourMaskedConv2d(half, half, 3, colours, "B"), nn.ReLU(),
                                 ColourMaskedConv2d(half, channels, 1, colours, "B"))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


@dataclass
class ColourPixelCNNConfig:
    """Images ``(in_chans, img_size, img_size)`` with ``levels`` intensity values per channel;
    ``channels`` (a multiple of ``2·in_chans``), ``blocks`` residual blocks, ``first_kernel``."""

    in_chans: int = setting(3, min=1)
    img_size: int = setting(32, min=2)
    levels: int = setting(256, min=2)
    channels: int = setting(96, min=2)
    blocks: int = setting(6, min=0)
    first_kernel: int = setting(7, min=3)


class ColourPixelCNN(GenerativeMixin, nn.Module):
    """Autoregressive model of multi-channel discrete images; see the module docstring."""

    kind = "autoregressive"

    def __init__(self, cfg: ColourPixelCNNConfig):
        super().__init__()
        c, h, k = cfg.in_chans, cfg.channels, cfg.levels
        if cfg.first_kernel % 2 == 0 or h % (2 * c):
            raise ConfigError(f"first_kernel must be odd and channels a multiple of 2·in_chans = {2 * c}, got "
                              f"{cfg.first_kernel} and {h}")
        self.data_shape, self.levels = (c, cfg.img_size, cfg.img_size), k
        self.net = nn.Sequential(ColourMaskedConv2d(c, h, cfg.first_kernel, c, "A"),
                                 *[ColourResidualBlock(h, c) for _ in range(cfg.blocks)],
                                 nn.ReLU(), ColourMaskedConv2d(h, h, 1, c, "B"), nn.ReLU(),
                                 ColourMaskedConv2d(h, c * k, 1, c, "B"))

    def example_input(self, batch_size: int = 2) -> Tensor:
        """Random images on the ``levels`` grid ``(batch_size, C, H, W)``."""
        idx = torch.randint(0, self.levels, (batch_size, *self.data_shape), device=self._example_device())
        return idx.float() / (self.levels - 1)

    def to_index(self, x: Tensor) -> Tensor:
        """Intensity indices ``(N, C, H, W)`` in ``[0, levels)`` of images on the grid (else :class:`ShapeError`)."""
        idx = x * (self.levels - 1)
        r = idx.round()
        if x.numel() and x.device.type != "meta" and (
                not bool(((r - idx).abs() < 1e-3).all()) or float(r.min()) < 0 or float(r.max()) > self.levels - 1):
            raise ShapeError(f"the colour PixelCNN models images whose values are k/{self.levels - 1}, "
                             f"k = 0..{self.levels - 1} (8-bit images scaled to [0, 1] for levels=256)")
        return r.long()

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, C, levels, H, W)`` of every sub-pixel given the earlier ones."""
        self.check_data(x)
        n, c, h, w = x.shape
        return self.net(x * 2 - 1).view(n, c, self.levels, h, w)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact :math:`\\log p(x)` ``(N,)`` in nats."""
        return categorical_log_prob(self(x), self.to_index(x))

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images drawn sub-pixel by sub-pixel (H·W·C passes), in [0, 1]."""
        self.sample_labels(n, y)
        p = next(self.parameters())
        x = torch.zeros(n, *self.data_shape, device=p.device, dtype=p.dtype)
        c, h, w = self.data_shape
        for i in range(h):
            for j in range(w):
                for ch in range(c):
                    probs = torch.softmax(self(x)[:, ch, :, i, j], dim=1)
                    x[:, ch, i, j] = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(x.dtype) / (
                        self.levels - 1)
        return x


def categorical_log_prob(logits: Tensor, index: Tensor) -> Tensor:
    """``logits (N, C, K, H, W)``, ``index (N, C, H, W)`` → summed log-probabilities ``(N,)``."""
    lp = -F.cross_entropy(logits.transpose(1, 2), index, reduction="none")  # (N, C, H, W)
    return lp.flatten(1).sum(1)


@register_model("pixelcnn-colour", config=ColourPixelCNNConfig, family="autoregressive")
def pixelcnn_colour(cfg: ColourPixelCNNConfig) -> ColourPixelCNN:
    """Colour PixelCNN with R → G → B channel masking and 256-way softmax outputs (CIFAR-10 size)."""
    return ColourPixelCNN(cfg)


__all__ = ["ColourPixelCNN", "ColourMaskedConv2d", "colour_mask", "categorical_log_prob", "ColourPixelCNNConfig"]
