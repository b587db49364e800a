r"""A small style-based GAN (StyleGAN / StyleGAN2, Karras et al. 2019, 2020; book §10.6, I10.18).

The book's "StyleGAN" (C10-13, L24011–24062) maps :math:`z\to w` and then runs 4×4 convolutions on
a constant with noise added — the style :math:`w` never reaches the synthesis layers (no AdaIN or
modulation), nothing up-samples (the output stays 4×4), and mapping layers 2–8 take ``latent_dim``
inputs. Here:

* **mapping network** :math:`f: z\mapsto w`: pixel norm, ``mapping_layers`` (8, as the book)
  equalised-LR linear layers with LeakyReLU(0.2) and the 0.01 learning-rate multiplier of the paper
  (the first maps ``latent_dim → w_dim``, the others ``w_dim → w_dim``);
* **synthesis network** :math:`g(w, n)`: a learned constant ``(width, b, b)``; at every resolution
  ×2 bilinear up-sampling and 3×3 **modulated convolutions with demodulation** whose styles are
  affine maps of :math:`w` (:class:`~tensorprism.models.generative.gan_layers.ModulatedConv2d`),
  **per-pixel noise** with learned per-channel strength, LeakyReLU(0.2); a 1×1 modulated ``to_rgb``
  (no demodulation) per resolution summed over up-sampled skips (StyleGAN2's skip generator);
* **style mixing** regularisation (with probability ``mixing_prob`` two latents and a random
  crossover layer) and the **truncation trick** around the running mean ``w_avg`` at sampling.

The discriminator is the progressive GAN's (minibatch stddev, equalised LR) at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...config import setting
from ...errors import ShapeError
from .. import register_model
from .gan import GAN, _base_size
from .gan_layers import EqualizedLinear, ModulatedConv2d, NoiseInjection
from .progressive import ProgressiveDiscriminator


class MappingNetwork(nn.Module):
    """``z (N, latent_dim) → w (N, w_dim)``."""

    def __init__(self, latent_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [EqualizedLinear(latent_dim if i == 0 else w_dim, w_dim, lr_mul=lr_mul), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*mods)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8))


class StyleLayer(nn.Module):
    """Modulated conv (optionally up-sampling) → noise → bias → LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, upsample: bool):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim, demodulate=True, upsample=upsample)
        self.noise = NoiseInjection(out_ch)
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None = None) -> Tensor:
        return self.act(self.noise(self.conv(x, w), noise) + self.bias)


class ToRGB(nn.Module):
    """1×1 modulated convolution without demodulation + bias: features → image channels."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias


class StyleGenerator(nn.Module):
    """Mapping + synthesis: ``z (N, latent_dim) → images (N, C, b·2^k, b·2^k)`` (linear output)."""

    def __init__(self, latent_dim: int, w_dim: int, mapping_layers: int, out_chans: int, base: int, stages: int,
                 width: int, mixing_prob: float, w_avg_beta: float = 0.995):
        super().__init__()
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers)
        self.const = nn.Parameter(torch.randn(1, width, base, base))
        self.layers = nn.ModuleList([StyleLayer(width, width, w_dim, upsample=False)])
        self.to_rgb = nn.ModuleList([ToRGB(width, out_chans, w_dim)])
        for _ in range(stages):
            self.layers.append(StyleLayer(width, width, w_dim, upsample=True))
            self.layers.append(StyleLayer(width, width, w_dim, upsample=False))
            self.to_rgb.append(ToRGB(width, out_chans, w_dim))
        self.num_ws = len(self.layers) + 1  # the last to_rgb takes the style of the last conv layer
        self.mixing_prob, self.w_avg_beta, self.w_dim = mixing_prob, w_avg_beta, w_dim
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def styles(self, z: Tensor, truncation: float = 1.0) -> Tensor:
        """Per-layer styles ``(N, num_ws, w_dim)``: mapped, tracked, mixed (training) or truncated."""
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(0), 1.0 - self.w_avg_beta)
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if self.training and self.mixing_prob > 0 and float(torch.rand(())) < self.mixing_prob:
            w2 = self.mapping(torch.randn_like(z))
            cut = int(torch.randint(1, self.num_ws, ()))
            ws[:, cut:] = w2.unsqueeze(1)
        if truncation != 1.0:
            ws = self.w_avg.lerp(ws, truncation)
        return ws

    def synthesis(self, ws: Tensor, noise: list[Tensor] | None = None) -> Tensor:
        """Styles ``(N, num_ws, w_dim)`` (and optional per-layer noise maps) → images."""
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ShapeError(f"styles must be (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        if noise is not None and len(noise) != len(self.layers):
            raise ShapeError(f"pass one noise map per synthesis layer ({len(self.layers)}), got {len(noise)}")
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        x = self.layers[0](x, ws[:, 0], None if noise is None else noise[0])
        img = self.to_rgb[0](x, ws[:, 1])
        for s in range(1, len(self.to_rgb)):
            i = 2 * s - 1
            x = self.layers[i](x, ws[:, i], None if noise is None else noise[i])
            x = self.layers[i + 1](x, ws[:, i + 1], None if noise is None else noise[i + 1])
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + self.to_rgb[s](x, ws[:, i + 2])
        return img

    def forward(self, z: Tensor, truncation: float = 1.0, noise: list[Tensor] | None = None) -> Tensor:
        return self.synthesis(self.styles(z, truncation), noise)


class FullResolution(nn.Module):
    """The progressive discriminator fixed at its last stage (no fade)."""

    def __init__(self, d: ProgressiveDiscriminator, stages: int):
        super().__init__()
        self.d, self.stages = d, stages

    def forward(self, x: Tensor) -> Tensor:
        return self.d(x, self.stages, 1.0)


class StyleGAN(GAN):
    """:class:`~tensorprism.models.generative.gan.GAN` whose generator is a :class:`StyleGenerator`;
    :meth:`sample` takes the truncation ``psi`` (1: none)."""

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None,
               use_ema: bool = True, truncation: float = 1.0) -> Tensor:
        self.sample_labels(n, y)
        p = next(self.generator.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, device=p.device, dtype=p.dtype)
        g = self.generator_ema if use_ema and hasattr(self, "generator_ema") else self.generator
        was = g.training
        g.eval()
        try:
            x = g(z, truncation)
        finally:
            g.train(was)
        return (x.clamp(-1, 1) + 1) / 2


@dataclass
class StyleGANConfig:
    """Images ``(in_chans, img_size, img_size)``, ``img_size`` = 7·2^k or 4·2^k; ``w_dim`` and
    ``mapping_layers`` of the mapping network; ``width``: channels of every synthesis layer and of
    the discriminator; ``mixing_prob``: style-mixing probability (0.9 in the paper); ``ema``."""

    latent_dim: int = setting(64, min=1)
    w_dim: int = setting(64, min=1)
    mapping_layers: int = setting(8, min=1)
    in_chans: int = setting(1, min=1)
    img_size: int = setting(28, min=8)
    width: int = setting(64, min=1)
    mixing_prob: float = setting(0.9, min=0.0, max=1.0)
    group_size: int = setting(4, min=1)
    ema: bool = False


@register_model("stylegan-small", config=StyleGANConfig, family="gan")
def stylegan_small(cfg: StyleGANConfig) -> StyleGAN:
    """Small StyleGAN2-style generator (mapping, modulated/demodulated convs, noise, skip up-sampling)."""
    base, ups = _base_size(cfg.img_size)
    g = StyleGenerator(cfg.latent_dim, cfg.w_dim, cfg.mapping_layers, cfg.in_chans, base, ups, cfg.width,
                       cfg.mixing_prob)
    d = FullResolution(ProgressiveDiscriminator(cfg.in_chans, base, ups, cfg.width, cfg.group_size), ups)
    return StyleGAN(g, d, cfg.latent_dim, (cfg.in_chans, cfg.img_size, cfg.img_size), 0, cfg.ema)


__all__ = ["StyleGAN", "StyleGenerator", "MappingNetwork", "StyleGANConfig"]
