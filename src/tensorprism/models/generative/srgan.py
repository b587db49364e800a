r"""SRGAN (Ledig et al. 2017; book §10.8.3, I10.31): super-resolution by ``scale`` (a power of 2)
with a residual generator (SRResNet) and a convolutional discriminator, trained by the
``sr-adversarial`` task (pixel MSE + adversarial loss; the book's :math:`\mathcal L_{pixel}+
\lambda\mathcal L_{perceptual}`, with an optional feature loss of a frozen network).

Generator: 9×9 conv + PReLU → ``blocks`` residual blocks (3×3 conv, BatchNorm, PReLU, 3×3 conv,
BatchNorm, plus the input) → 3×3 conv + BatchNorm plus the long skip → per ×2: 3×3 conv to 4×
channels, PixelShuffle(2), PReLU → 9×9 conv. Unlike the paper the output is added to the bicubic
up-sampling of the input (the network learns the residual detail; it trains in far fewer steps).
Discriminator: 3×3 convs with BatchNorm and LeakyReLU(0.2), stride 2 every second layer, channels
doubling from ``d_width``; then Linear → LeakyReLU → Linear → logit.

``forward(lr)`` takes low-resolution images ``(N, C, H/scale, W/scale)`` in [0, 1] and returns
``(N, C, H, W)`` (``data_shape``), not clamped (the losses see the raw output; clamp to display).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...config import setting
from ...errors import ConfigError, ShapeError
from .. import register_model
from ..contract import GenerativeMixin, model_label


class SRResidualBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.BatchNorm2d(ch), nn.PReLU(ch),
                                   nn.Conv2d(ch, ch, 3, padding=1), nn.BatchNorm2d(ch))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class SRResNet(nn.Module):
    """``(N, C, h, w) → (N, C, h·scale, w·scale)``: bicubic up-sampling plus learned detail."""

    def __init__(self, in_chans: int, width: int, blocks: int, scale: int):
        super().__init__()
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(in_chans, width, 9, padding=4), nn.PReLU(width))
        self.body = nn.Sequential(*[SRResidualBlock(width) for _ in range(blocks)],
                                  nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        ups: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            ups += [nn.Conv2d(width, width * 4, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(width)]
        self.up = nn.Sequential(*ups, nn.Conv2d(width, in_chans, 9, padding=4))

    def forward(self, lr: Tensor) -> Tensor:
        h = self.head(lr)
        detail = self.up(h + self.body(h))
        return F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False) + detail


class SRDiscriminator(nn.Module):
    """``(N, C, H, W) → (N, 1)`` logits."""

    def __init__(self, in_chans: int, img_size: int, width: int, stages: int):
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, size = in_chans, img_size
        for i in range(stages):
            ch = width * 2 ** i
            layers += [nn.Conv2d(ch_in, ch, 3, 1, 1), *([nn.BatchNorm2d(ch)] if i else []), nn.LeakyReLU(0.2),
                       nn.Conv2d(ch, ch, 3, 2, 1), nn.BatchNorm2d(ch), nn.LeakyReLU(0.2)]
            ch_in, size = ch, (size + 1) // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(ch_in * size * size, ch_in * 2), nn.LeakyReLU(0.2),
                                  nn.Linear(ch_in * 2, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class SRGAN(GenerativeMixin, nn.Module):
    """``generator`` (SRResNet) + ``discriminator`` under the generative contract (``kind = "translation"``)."""

    kind = "translation"

    def __init__(self, generator: SRResNet, discriminator: SRDiscriminator, data_shape: tuple[int, ...], scale: int):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.data_shape, self.scale = tuple(data_shape), scale
        c, h, w = self.data_shape
        self.input_shape = (c, h // scale, w // scale)

    def forward(self, lr: Tensor) -> Tensor:
        """Low-resolution ``(N, *input_shape)`` in [0, 1] → ``(N, *data_shape)``."""
        if lr.dim() != 4 or tuple(lr.shape[1:]) != self.input_shape:
            raise ShapeError(f"{model_label(self)} up-samples low-resolution images (N, "
                             f"{', '.join(map(str, self.input_shape))}) by {self.scale}, got {tuple(lr.shape)}")
        return self.generator(lr)

    def discriminate(self, x: Tensor) -> Tensor:
        """Logits ``(N,)`` of high-resolution images in [0, 1]."""
        return self.discriminator(x * 2 - 1).reshape(x.shape[0])

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.rand(batch_size, *self.input_shape, device=self._example_device())


@dataclass
class SRGANConfig:
    """High-resolution images ``(in_chans, img_size, img_size)``; ``scale`` (a power of 2);
    generator ``width`` and residual ``blocks`` (64 and 16 in the paper); discriminator
    ``d_width`` and ``d_stages`` (64 and 4 in the paper)."""

    in_chans: int = setting(3, min=1)
    img_size: int = setting(32, min=4)
    scale: int = setting(2, choices=(2, 4, 8))
    width: int = setting(32, min=1)
    blocks: int = setting(4, min=1)
    d_width: int = setting(32, min=1)
    d_stages: int = setting(3, min=1)


@register_model("srgan", config=SRGANConfig, family="gan")
def srgan(cfg: SRGANConfig) -> SRGAN:
    """SRGAN (Ledig et al. 2017): SRResNet generator with a bicubic skip, strided-conv discriminator."""
    if cfg.img_size % cfg.scale:
        raise ConfigError(f"img_size {cfg.img_size} must be divisible by scale {cfg.scale}")
    return SRGAN(SRResNet(cfg.in_chans, cfg.width, cfg.blocks, cfg.scale),
                 SRDiscriminator(cfg.in_chans, cfg.img_size, cfg.d_width, cfg.d_stages),
                 (cfg.in_chans, cfg.img_size, cfg.img_size), cfg.scale)


__all__ = ["SRGAN", "SRResNet", "SRDiscriminator", "SRGANConfig"]
