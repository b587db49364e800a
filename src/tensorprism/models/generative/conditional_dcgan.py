r"""Class-conditional convolutional GAN (``cdcgan``): the DCGAN generator fed ``[z, onehot(y)]``
(Mirza & Osindero 2014, the book's cGAN of §10.6.2 made convolutional) and a DCGAN discriminator
with a **projection** head (Miyato & Koyama 2018): :math:`D(x,y)=\psi(\phi(x))+\langle e_y,\phi(x)\rangle`
with :math:`\phi` the convolutional features and :math:`e_y` a learned class embedding. The
adversarial task passes the batch's labels to both networks; :meth:`GAN.sample` draws the classes
in turn unless labels are given."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...config import setting
from .. import register_model
from .gan import D_NORMS, GAN, DCGANDiscriminator, DCGANGenerator, apply_spectral_norm


class ConditionalDCGANGenerator(nn.Module):
    """``z (N, latent), y (N,) → images (N, C, H, W)`` in [-1, 1]."""

    def __init__(self, latent_dim: int, num_classes: int, in_chans: int, img_size: int, width: int):
        super().__init__()
        self.num_classes = num_classes
        self.net = DCGANGenerator(latent_dim + num_classes, in_chans, img_size, width)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], 1))


class ProjectionDiscriminator(nn.Module):
    """``x (N, C, H, W), y (N,) → logits (N, 1)``: DCGAN features, linear head plus the projection
    of the features on the class embedding."""

    def __init__(self, num_classes: int, in_chans: int, img_size: int, width: int, norm: str):
        super().__init__()
        self.num_classes = num_classes
        base = DCGANDiscriminator(in_chans, img_size, width, "none" if norm == "spectral" else norm)
        self.features, self.head = base.features, base.head
        self.embed = nn.Embedding(num_classes, self.head.in_features)
        if norm == "spectral":
            apply_spectral_norm(self)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.features(x).flatten(1)
        return self.head(h) + (self.embed(y) * h).sum(1, keepdim=True)


@dataclass
class ConditionalDCGANConfig:
    """As :class:`~tensorprism.models.generative.gan.DCGANConfig` plus ``num_classes``; the default
    discriminator is spectrally normalised (the projection discriminator's setting)."""

    latent_dim: int = setting(64, min=1)
    num_classes: int = setting(10, min=2)
    in_chans: int = setting(1, min=1)
    img_size: int = setting(28, min=8)
    g_width: int = setting(32, min=1)
    d_width: int = setting(64, min=1)
    d_norm: str = setting("spectral", choices=D_NORMS)
    ema: bool = False


@register_model("cdcgan", config=ConditionalDCGANConfig, family="gan")
def cdcgan(cfg: ConditionalDCGANConfig) -> GAN:
    """Class-conditional DCGAN with a projection discriminator."""
    g = ConditionalDCGANGenerator(cfg.latent_dim, cfg.num_classes, cfg.in_chans, cfg.img_size, cfg.g_width)
    d = ProjectionDiscriminator(cfg.num_classes, cfg.in_chans, cfg.img_size, cfg.d_width, cfg.d_norm)
    return GAN(g, d, cfg.latent_dim, (cfg.in_chans, cfg.img_size, cfg.img_size), cfg.num_classes, cfg.ema)


__all__ = ["ConditionalDCGANGenerator", "ProjectionDiscriminator", "ConditionalDCGANConfig"]
