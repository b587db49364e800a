r"""Variational autoencoders of Chapter 10 (§10.2, I10.06, C10-03): MLP and convolutional,
Bernoulli or Gaussian decoder, optionally conditional on a class label.

==============  ===================================================================  ========
name            architecture                                                         params
==============  ===================================================================  ========
``vae-mlp``     784-256-(μ, log σ²: 20)-256-784, Bernoulli decoder (book C10-03)      418,104
``cvae-mlp``    the same with the one-hot label appended to the input and to z        ~426 k
``vae-conv``    Conv(32, 64, s2) → μ, log σ² (32) → ConvT, Bernoulli decoder
==============  ===================================================================  ========

``forward(x[, y])`` returns :class:`VAEOutput` ``(out, mu, logvar)``: ``out`` are the decoder's
Bernoulli **logits** or Gaussian **means** ``(N, *data_shape)`` at a reparameterised sample
:math:`z=\mu+\sigma\odot\epsilon` in training mode and at :math:`z=\mu` in evaluation mode
(deterministic outputs, as dropout is; the task still evaluates the ELBO with a sampled z). The loss (the negative ELBO,
erratum §5.10 for its sign) and its reductions are the task's
(:class:`~tensorprism.train.tasks.vae.VAETask`): summed over data dimensions and latent units per
example, then averaged over the batch (the book mixes a per-element mean with a summed KL, C10-03).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...config import setting
from ...errors import ConfigError
from ...functional.generative import (
    bernoulli_log_likelihood,
    gaussian_log_likelihood,
    reparameterize,
)
from .. import register_model
from ..contract import GenerativeMixin
from .autoencoders import mlp_stack

LIKELIHOODS = ("bernoulli", "gaussian")


class VAEOutput(NamedTuple):
    out: Tensor  # decoder logits (Bernoulli) or means (Gaussian), (N, *data_shape)
    mu: Tensor  # (N, latent_dim)
    logvar: Tensor  # (N, latent_dim)


class VAEBase(GenerativeMixin, nn.Module):
    """Shared VAE logic: reparameterised forward, likelihood, sampling; subclasses define
    ``encode(x, y) → (mu, logvar)`` and ``decode(z, y) → out``."""

    kind = "vae"
    likelihood = "bernoulli"
    gaussian_logvar = 0.0

    def _onehot(self, y: Tensor | None) -> Tensor | None:
        return None if y is None else F.one_hot(y, self.num_classes).float()

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, y: Tensor | None = None) -> VAEOutput:
        self.check_data(x)
        self.check_labels(y, x.shape[0])
        mu, logvar = self.encode(x, y)
        z = reparameterize(mu, logvar) if self.training else mu  # eval: deterministic, like dropout
        return VAEOutput(self.decode(z, y), mu, logvar)

    def log_likelihood(self, out: Tensor, x: Tensor, check: bool = True) -> Tensor:
        r""":math:`\log p(x\mid z)` per example ``(N,)`` from the decoder output ``out``."""
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(out, x, check=check)
        return gaussian_log_likelihood(out, x, self.gaussian_logvar)

    def mean(self, out: Tensor) -> Tensor:
        """The decoder distribution's mean: probabilities (Bernoulli) or the means themselves."""
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Means of :math:`p(x\\mid z)` for ``z ~ N(0, I)``: ``(n, *data_shape)``."""
        y = self.sample_labels(n, y)
        p = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, device=p.device, dtype=p.dtype)
        return self.mean(self.decode(z, y))

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Decoder mean at the posterior mean ``z = mu(x)``."""
        mu, _ = self.encode(x, y)
        return self.mean(self.decode(mu, y))


def _check_likelihood(name: str) -> str:
    if name not in LIKELIHOODS:
        raise ConfigError(f"unknown VAE likelihood {name!r}; choose one of {', '.join(LIKELIHOODS)}")
    return name


@dataclass
class VAEConfig:
    """``data_shape``: one example; ``hidden``: encoder widths (decoder mirrored); ``latent_dim``;
    ``likelihood``: ``"bernoulli"`` (data in [0, 1]) or ``"gaussian"`` (fixed variance
    ``exp(gaussian_logvar)``); ``num_classes`` > 0 makes it a conditional VAE (Sohn et al. 2015)."""

    data_shape: tuple[int, ...] = (1, 28, 28)
    hidden: tuple[int, ...] = (256,)
    latent_dim: int = setting(20, min=1)
    activation: str = "relu"
    likelihood: str = setting("bernoulli", choices=LIKELIHOODS)
    gaussian_logvar: float = 0.0
    num_classes: int = setting(0, min=0)


class MLPVAE(VAEBase):
    """Encoder MLP → (μ, log σ²); decoder MLP z → logits/means (book I10.06)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.data_shape, self.latent_dim, self.num_classes = tuple(cfg.data_shape), cfg.latent_dim, cfg.num_classes
        self.likelihood, self.gaussian_logvar = _check_likelihood(cfg.likelihood), cfg.gaussian_logvar
        d, k = int(torch.Size(self.data_shape).numel()), cfg.num_classes
        hidden = list(cfg.hidden)
        self.encoder = mlp_stack([d + k, *hidden], cfg.activation, cfg.activation) if hidden else nn.Identity()
        width = hidden[-1] if hidden else d + k
        self.to_mu, self.to_logvar = nn.Linear(width, cfg.latent_dim), nn.Linear(width, cfg.latent_dim)
        self.decoder = mlp_stack([cfg.latent_dim + k, *hidden[::-1], d], cfg.activation, None)

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = x.flatten(1)
        if y is not None:
            h = torch.cat([h, self._onehot(y)], 1)
        h = self.encoder(h)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        self.check_latent(z)
        if y is not None:
            z = torch.cat([z, self._onehot(y)], 1)
        return self.decoder(z).view(z.shape[0], *self.data_shape)


@register_model("vae-mlp", config=VAEConfig, family="vae")
def vae_mlp(cfg: VAEConfig) -> MLPVAE:
    """The book's VAE 784-256-20 (C10-03) with a Bernoulli decoder."""
    return MLPVAE(cfg)


register_model("cvae-mlp", config=VAEConfig, family="vae", num_classes=10,
               description="conditional VAE: one-hot label appended to the encoder input and to z")(vae_mlp)


@dataclass
class ConvVAEConfig:
    """Images ``(in_chans, img_size, img_size)``, ``img_size`` divisible by 4; ``widths`` of the two
    stride-2 convolutions; ``latent_dim``; likelihood as :class:`VAEConfig`."""

    in_chans: int = setting(1, min=1)
    img_size: int = setting(28, min=4)
    widths: tuple[int, int] = (32, 64)
    latent_dim: int = setting(32, min=1)
    likelihood: str = setting("bernoulli", choices=LIKELIHOODS)
    gaussian_logvar: float = 0.0


class ConvVAE(VAEBase):
    """Conv(4×4, s2) ×2 → linear (μ, log σ²); linear → ConvT(4×4, s2) ×2."""

    def __init__(self, cfg: ConvVAEConfig):
        super().__init__()
        if cfg.img_size % 4:
            raise ConfigError(f"vae-conv needs img_size divisible by 4, got {cfg.img_size}")
        c, (w1, w2), s = cfg.in_chans, cfg.widths, cfg.img_size // 4
        self.data_shape, self.latent_dim = (c, cfg.img_size, cfg.img_size), cfg.latent_dim
        self.likelihood, self.gaussian_logvar = _check_likelihood(cfg.likelihood), cfg.gaussian_logvar
        self.encoder = nn.Sequential(nn.Conv2d(c, w1, 4, 2, 1), nn.ReLU(), nn.Conv2d(w1, w2, 4, 2, 1), nn.ReLU(),
                                     nn.Flatten())
        self.to_mu, self.to_logvar = nn.Linear(w2 * s * s, cfg.latent_dim), nn.Linear(w2 * s * s, cfg.latent_dim)
        self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim, w2 * s * s), nn.ReLU(), nn.Unflatten(1, (w2, s, s)),
                                     nn.ConvTranspose2d(w2, w1, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(w1, c, 4, 2, 1))

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        self.check_latent(z)
        return self.decoder(z)


@register_model("vae-conv", config=ConvVAEConfig, family="vae")
def vae_conv(cfg: ConvVAEConfig) -> ConvVAE:
    """Convolutional VAE for 28×28 (or 32×32) images."""
    return ConvVAE(cfg)
