r"""GANs of Chapter 10 (§10.5–10.6): the book's MLP GANs, the conditional GAN and DCGAN-style
convolutional GANs whose discriminator is batch-, layer- or spectrally normalised.

==================  ==========================================================  ==================
name                generator / discriminator                                   params G / D
==================  ==========================================================  ==================
``gan-mlp``         100-128-256-512-784 Tanh / 784-512-256-1 (10.6.1, C10-08/09)   579,728 / 533,505
``gan-mlp-small``   100-128-256-784 Tanh / 784-256-128-1 (10.5.3, C10-07)          247,440 / 233,985
``cgan-mlp``        (100+10)-256-512-784 / (784+10)-512-256-1 (C10-11)             562,192 / 538,625
``dcgan``           z → ConvT up-sampling with BatchNorm / strided Conv + BatchNorm
``sngan``           DCGAN generator / spectrally normalised discriminator (Miyato et al. 2018)
``wgan-gp``         DCGAN generator / critic with LayerNorm, no BatchNorm (Gulrajani et al. 2017)
==================  ==========================================================  ==================

A :class:`GAN` holds ``generator`` and ``discriminator`` (and, with ``ema=True``, a
``generator_ema`` copy updated by the adversarial task). ``forward(z[, y])`` is the generator: it
returns images in [-1, 1] (Tanh). :meth:`GAN.sample` returns images in [0, 1] like the data, from
the EMA generator when there is one. Discriminators return **logits** ``(N,)``: the losses of
:mod:`tensorprism.functional.adversarial` put the sigmoid in (the book's ``Sigmoid`` + ``BCELoss``
saturate numerically).

Spectral normalisation uses ``torch.nn.utils.parametrizations.spectral_norm`` (one power
iteration per forward), tested equal to the reference
:func:`~tensorprism.functional.adversarial.spectral_norm_power_iteration`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...config import setting
from ...errors import ConfigError
from .. import register_model
from ..contract import GenerativeMixin

D_NORMS = ("batch", "layer", "spectral", "none")


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectrally normalise every Linear / Conv weight of ``module`` (in place); returns it."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            spectral_norm(m)
        elif isinstance(m, nn.ConvTranspose2d):
            spectral_norm(m, dim=1)
    return module


class GAN(GenerativeMixin, nn.Module):
    """Generator + discriminator pair under the generative contract (``kind = "gan"``)."""

    kind = "gan"

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int,
                 data_shape: tuple[int, ...], num_classes: int = 0, ema: bool = False):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.data_shape, self.num_classes = latent_dim, tuple(data_shape), num_classes
        if ema:
            self.generator_ema = copy.deepcopy(generator).requires_grad_(False)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Generated images ``(N, *data_shape)`` in [-1, 1] from ``z (N, latent_dim)``."""
        self.check_latent(z)
        self.check_labels(y, z.shape[0])
        return self.generator(z) if y is None else self.generator(z, y)

    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Discriminator logits ``(N,)`` of images ``x`` in [-1, 1]."""
        out = self.discriminator(x) if y is None else self.discriminator(x, y)
        return out.reshape(x.shape[0])

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None,
               use_ema: bool = True) -> Tensor:
        """``n`` images ``(n, *data_shape)`` in [0, 1] (from ``generator_ema`` when present)."""
        y = self.sample_labels(n, y)
        p = next(self.generator.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, device=p.device, dtype=p.dtype)
        g = self.generator_ema if use_ema and hasattr(self, "generator_ema") else self.generator
        was = g.training
        g.eval()
        try:
            x = g(z) if y is None else g(z, y)
        finally:
            g.train(was)
        return (x.clamp(-1, 1) + 1) / 2


# ------------------------------------------------------------------------------------ MLP
class MLPGenerator(nn.Module):
    """``z (N, latent[+classes]) → Linear/ReLU … → Tanh → (N, *data_shape)``."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], data_shape: tuple[int, ...], num_classes: int = 0):
        super().__init__()
        self.data_shape, self.num_classes = tuple(data_shape), num_classes
        sizes = [latent_dim + num_classes, *hidden, int(torch.Size(data_shape).numel())]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers += [nn.Linear(a, b), nn.ReLU() if i < len(sizes) - 2 else nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if y is not None:
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], 1)
        return self.net(z).view(z.shape[0], *self.data_shape)


class MLPDiscriminator(nn.Module):
    """``x (N, *data_shape)[+classes] → Linear/LeakyReLU(0.2) … → logit``."""

    def __init__(self, data_shape: tuple[int, ...], hidden: tuple[int, ...], num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes
        sizes = [int(torch.Size(data_shape).numel()) + num_classes, *hidden, 1]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = x.flatten(1)
        if y is not None:
            h = torch.cat([h, F.one_hot(y, self.num_classes).to(h.dtype)], 1)
        return self.net(h)


@dataclass
class MLPGANConfig:
    """``latent_dim``; ``g_hidden``/``d_hidden`` widths; ``data_shape``; ``num_classes`` > 0: a
    conditional GAN (one-hot label concatenated to z and to x, book §10.6.2); ``spectral_norm``
    on the discriminator; ``ema``: keep an EMA copy of the generator."""

    latent_dim: int = setting(100, min=1)
    g_hidden: tuple[int, ...] = (128, 256, 512)
    d_hidden: tuple[int, ...] = (512, 256)
    data_shape: tuple[int, ...] = (1, 28, 28)
    num_classes: int = setting(0, min=0)
    spectral_norm: bool = False
    ema: bool = False


@register_model("gan-mlp", config=MLPGANConfig, family="gan")
def gan_mlp(cfg: MLPGANConfig) -> GAN:
    """The book's MLP GAN of §10.6.1 (C10-08/09), discriminator returning logits."""
    d = MLPDiscriminator(cfg.data_shape, cfg.d_hidden, cfg.num_classes)
    if cfg.spectral_norm:
        apply_spectral_norm(d)
    g = MLPGenerator(cfg.latent_dim, cfg.g_hidden, cfg.data_shape, cfg.num_classes)
    return GAN(g, d, cfg.latent_dim, cfg.data_shape, cfg.num_classes, cfg.ema)


register_model("gan-mlp-small", config=MLPGANConfig, family="gan", g_hidden=(128, 256), d_hidden=(256, 128),
               description="the book's first MLP GAN (§10.5.3, C10-07)")(gan_mlp)
register_model("cgan-mlp", config=MLPGANConfig, family="gan", g_hidden=(256, 512), d_hidden=(512, 256),
               num_classes=10, description="the book's conditional GAN (§10.6.2, C10-11)")(gan_mlp)


# ------------------------------------------------------------------------------------ DCGAN
def _base_size(img_size: int) -> tuple[int, int]:
    """(start resolution, number of ×2 up-samplings): 28 = 7·2², 32 = 4·2³, 64 = 4·2⁴."""
    for base in (7, 4):
        ups = math.log2(img_size / base) if img_size % base == 0 else -1
        if ups >= 1 and ups == int(ups):
            return base, int(ups)
    raise ConfigError(f"DCGAN needs img_size = 7·2^k or 4·2^k (28, 32, 64...), got {img_size}")


class DCGANGenerator(nn.Module):
    """``z → Linear → (w·2^(k-1), b, b)`` → k × [ConvT(4, s2, p1) + BatchNorm + ReLU] → Tanh
    (Radford et al. 2016; the last up-sampling has no BatchNorm and ends in Tanh)."""

    def __init__(self, latent_dim: int, in_chans: int, img_size: int, width: int):
        super().__init__()
        base, ups = _base_size(img_size)
        ch = width * 2 ** (ups - 1)
        self.stem = nn.Sequential(nn.Linear(latent_dim, ch * base * base, bias=False), nn.Unflatten(1, (ch, base, base)),
                                  nn.BatchNorm2d(ch), nn.ReLU())
        layers: list[nn.Module] = []
        for i in range(ups):
            last = i == ups - 1
            out = in_chans if last else ch // 2
            layers.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU()]
            ch = out
        self.up = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.up(self.stem(z))


def _d_norm(kind: str, ch: int, size: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "layer":  # per-example normalisation: the gradient penalty needs no batch coupling
        return nn.GroupNorm(1, ch)
    return nn.Identity()


class DCGANDiscriminator(nn.Module):
    """k × [Conv(4, s2, p1) + norm + LeakyReLU(0.2)] (no norm on the first) → Linear → logit."""

    def __init__(self, in_chans: int, img_size: int, width: int, norm: str):
        super().__init__()
        if norm not in D_NORMS:
            raise ConfigError(f"unknown discriminator norm {norm!r}; choose one of {', '.join(D_NORMS)}")
        base, ups = _base_size(img_size)
        layers: list[nn.Module] = []
        ch_in, ch, size = in_chans, width, img_size
        for i in range(ups):
            size //= 2
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), _d_norm(norm, ch, size) if i else nn.Identity(), nn.LeakyReLU(0.2)]
            ch_in, ch = ch, ch * 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch_in * base * base, 1)
        if norm == "spectral":
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


@dataclass
class DCGANConfig:
    """Images ``(in_chans, img_size, img_size)`` with ``img_size`` 7·2^k or 4·2^k; ``g_width``/
    ``d_width``: channels of the finest generator / discriminator layer; ``d_norm``: ``"batch"``
    (DCGAN), ``"spectral"`` (SN-GAN), ``"layer"`` (WGAN-GP critic) or ``"none"``; ``ema``: keep an
    EMA copy of the generator for sampling."""

    latent_dim: int = setting(64, min=1)
    in_chans: int = setting(1, min=1)
    img_size: int = setting(28, min=8)
    g_width: int = setting(32, min=1)
    d_width: int = setting(64, min=1)
    d_norm: str = setting("batch", choices=D_NORMS)
    ema: bool = False


@register_model("dcgan", config=DCGANConfig, family="gan")
def dcgan(cfg: DCGANConfig) -> GAN:
    """DCGAN-style convolutional GAN (Radford et al. 2016) at 28×28 (default) or 32×32."""
    g = DCGANGenerator(cfg.latent_dim, cfg.in_chans, cfg.img_size, cfg.g_width)
    d = DCGANDiscriminator(cfg.in_chans, cfg.img_size, cfg.d_width, cfg.d_norm)
    return GAN(g, d, cfg.latent_dim, (cfg.in_chans, cfg.img_size, cfg.img_size), 0, cfg.ema)


register_model("sngan", config=DCGANConfig, family="gan", d_norm="spectral",
               description="DCGAN generator, spectrally normalised discriminator (SN-GAN)")(dcgan)
register_model("wgan-gp", config=DCGANConfig, family="gan", d_norm="layer",
               description="DCGAN generator, LayerNorm critic for the gradient penalty (WGAN-GP)")(dcgan)
