r"""Progressive growing of GANs (PGGAN, Karras et al. 2018; book §10.6, I10.21): training starts at
a low resolution (7×7 for 28×28 digits, 4×4 for 32×32) and adds a ×2 stage at a time; each new
stage is *faded in* with :math:`(1-\alpha)\,G_{old}+\alpha\,G_{new}`, :math:`\alpha: 0\to1`
(:func:`~tensorprism.functional.gan_blocks.fade_in`; the book's blend runs the other way, erratum
§5 item 14). The discriminator mirrors it, and the real images it sees are blended the same way
between the two resolutions (:meth:`ProgressiveGAN.prepare_real`).

Generator: pixel-normalised z → equalised-LR linear to ``(width, b, b)`` → per stage nearest
up-sampling + two 3×3 convolutions with LeakyReLU(0.2) and pixel norm → 1×1 ``to_rgb`` (linear
output). Discriminator: 1×1 ``from_rgb`` → per stage two 3×3 convolutions + 2×2 average pooling →
minibatch standard deviation → 3×3 conv → two linear layers → logit. All layers use the equalised
learning rate.

Schedule (a function of the training step, kept in the ``progress`` buffer, so a checkpoint
resumes exactly and a loaded model samples at the resolution it reached): ``stable_steps`` at the
base resolution, then for each further stage ``fade_steps`` of fade-in and ``stable_steps`` at
that resolution. The adversarial task calls :meth:`ProgressiveGAN.set_progress` before each step.
Every call returns images at the full ``img_size`` (the current resolution up-sampled by nearest
neighbour, which the discriminator's average pooling inverts exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...config import setting
from ...functional.gan_blocks import fade_in
from .. import register_model
from .gan import GAN, _base_size
from .gan_layers import EqualizedConv2d, EqualizedLinear, MinibatchStd, PixelNorm


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2)


def _down(x: Tensor, factor: int) -> Tensor:
    return x if factor == 1 else F.avg_pool2d(x, factor)


def _up(x: Tensor, factor: int) -> Tensor:
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


class ProgressiveGenerator(nn.Module):
    """``z (N, latent)`` → images ``(N, C, b·2^stage, b·2^stage)`` for a given ``stage`` and fade ``alpha``."""

    def __init__(self, latent_dim: int, out_chans: int, base: int, stages: int, width: int):
        super().__init__()
        self.base, self.width = base, width
        self.stem_linear = EqualizedLinear(latent_dim, width * base * base, gain=2 ** 0.5 / 4)
        self.stem = nn.Sequential(_lrelu(), PixelNorm(), EqualizedConv2d(width, width, 3), _lrelu(), PixelNorm())
        self.blocks = nn.ModuleList([nn.Identity()] + [
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), EqualizedConv2d(width, width, 3), _lrelu(),
                          PixelNorm(), EqualizedConv2d(width, width, 3), _lrelu(), PixelNorm())
            for _ in range(stages)])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(width, out_chans, 1, gain=1.0) for _ in range(stages + 1)])

    def forward(self, z: Tensor, stage: int, alpha: float) -> Tensor:
        h = self.stem_linear(z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8))
        h = self.stem(h.view(z.shape[0], self.width, self.base, self.base))
        prev = h
        for s in range(1, stage + 1):
            prev, h = h, self.blocks[s](h)
        new = self.to_rgb[stage](h)
        if stage == 0 or alpha >= 1.0:
            return new
        return fade_in(_up(self.to_rgb[stage - 1](prev), 2), new, alpha)


class ProgressiveDiscriminator(nn.Module):
    """Images ``(N, C, b·2^stage, …)`` → logits ``(N, 1)`` for a given ``stage`` and ``alpha``."""

    def __init__(self, in_chans: int, base: int, stages: int, width: int, group_size: int = 4):
        super().__init__()
        self.from_rgb = nn.ModuleList([nn.Sequential(EqualizedConv2d(in_chans, width, 1), _lrelu())
                                       for _ in range(stages + 1)])
        self.blocks = nn.ModuleList([nn.Identity()] + [
            nn.Sequential(EqualizedConv2d(width, width, 3), _lrelu(), EqualizedConv2d(width, width, 3), _lrelu(),
                          nn.AvgPool2d(2))
            for _ in range(stages)])
        self.final = nn.Sequential(MinibatchStd(group_size), EqualizedConv2d(width + 1, width, 3), _lrelu(),
                                   nn.Flatten(), EqualizedLinear(width * base * base, width), _lrelu(),
                                   EqualizedLinear(width, 1, gain=1.0))

    def forward(self, x: Tensor, stage: int, alpha: float) -> Tensor:
        h = self.from_rgb[stage](x)
        if stage > 0:
            h = self.blocks[stage](h)
            if alpha < 1.0:
                h = fade_in(self.from_rgb[stage - 1](_down(x, 2)), h, alpha)
        for s in range(stage - 1, 0, -1):
            h = self.blocks[s](h)
        return self.final(h)


class ProgressiveGAN(GAN):
    """A :class:`~tensorprism.models.generative.gan.GAN` that grows: ``forward``, ``discriminate``
    and ``sample`` use the stage and fade-in weight of the current ``progress`` step."""

    def __init__(self, generator: ProgressiveGenerator, discriminator: ProgressiveDiscriminator, latent_dim: int,
                 data_shape: tuple[int, ...], stages: int, stable_steps: int, fade_steps: int, ema: bool = False):
        super().__init__(generator, discriminator, latent_dim, data_shape, 0, ema)
        self.stages, self.stable_steps, self.fade_steps = stages, stable_steps, fade_steps
        self.register_buffer("progress", torch.zeros((), dtype=torch.long))

    # --- schedule -----------------------------------------------------------------------------
    def schedule(self, step: int) -> tuple[int, float]:
        """``(stage, alpha)`` at training step ``step``: stage 0 for ``stable_steps``, then per
        stage ``fade_steps`` with alpha rising linearly from 0 to 1 and ``stable_steps`` at 1."""
        if step < self.stable_steps:
            return 0, 1.0
        period = self.fade_steps + self.stable_steps
        t = step - self.stable_steps
        stage = 1 + t // period
        if stage > self.stages:
            return self.stages, 1.0
        r = t % period
        return stage, (min(1.0, r / self.fade_steps) if self.fade_steps else 1.0)

    def set_progress(self, step: int) -> None:
        """Called by the adversarial task with the global step before each training step."""
        self.progress.fill_(int(step))

    def stage_alpha(self) -> tuple[int, float]:
        return self.schedule(int(self.progress))

    def _factor(self, stage: int) -> int:
        return 2 ** (self.stages - stage)

    # --- generator / discriminator ------------------------------------------------------------
    def _generate(self, g: nn.Module, z: Tensor) -> Tensor:
        stage, alpha = self.stage_alpha()
        return _up(g(z, stage, alpha), self._factor(stage))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Images ``(N, C, img_size, img_size)`` at the current resolution (up-sampled)."""
        self.check_latent(z)
        self.check_labels(y, z.shape[0])
        return self._generate(self.generator, z)

    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits ``(N,)`` of full-size images ``x``, average-pooled to the current resolution."""
        stage, alpha = self.stage_alpha()
        return self.discriminator(_down(x, self._factor(stage)), stage, alpha).reshape(x.shape[0])

    def prepare_real(self, x: Tensor) -> Tensor:
        """Real images ``(N, C, H, W)`` as the discriminator should see them at this point of
        training: at the current resolution and, during a fade-in, blended with the previous
        resolution's version by the same :math:`(1-\\alpha, \\alpha)` (returned at full size)."""
        stage, alpha = self.stage_alpha()
        f = self._factor(stage)
        xs = _down(x, f)
        if stage > 0 and alpha < 1.0:
            xs = fade_in(_up(_down(xs, 2), 2), xs, alpha)
        return _up(xs, f)

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None,
               use_ema: bool = True) -> Tensor:
        """``n`` images ``(n, C, img_size, img_size)`` in [0, 1] at the current stage."""
        self.sample_labels(n, y)
        p = next(self.generator.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, device=p.device, dtype=p.dtype)
        g = self.generator_ema if use_ema and hasattr(self, "generator_ema") else self.generator
        return (self._generate(g, z).clamp(-1, 1) + 1) / 2


@dataclass
class PGGANConfig:
    """Images ``(in_chans, img_size, img_size)``, ``img_size`` = 7·2^k or 4·2^k; ``width``: channels
    of every stage; ``stable_steps`` / ``fade_steps``: the growth schedule in training steps;
    ``group_size``: minibatch-stddev group; ``ema``: keep an EMA copy of the generator."""

    latent_dim: int = setting(128, min=1)
    in_chans: int = setting(1, min=1)
    img_size: int = setting(28, min=8)
    width: int = setting(64, min=1)
    stable_steps: int = setting(2000, min=1)
    fade_steps: int = setting(2000, min=0)
    group_size: int = setting(4, min=1)
    ema: bool = False


@register_model("pggan", config=PGGANConfig, family="gan")
def pggan(cfg: PGGANConfig) -> ProgressiveGAN:
    """Progressively grown GAN (Karras et al. 2018) with fade-in, minibatch stddev and equalised LR."""
    base, ups = _base_size(cfg.img_size)
    g = ProgressiveGenerator(cfg.latent_dim, cfg.in_chans, base, ups, cfg.width)
    d = ProgressiveDiscriminator(cfg.in_chans, base, ups, cfg.width, cfg.group_size)
    return ProgressiveGAN(g, d, cfg.latent_dim, (cfg.in_chans, cfg.img_size, cfg.img_size), ups,
                          cfg.stable_steps, cfg.fade_steps, cfg.ema)


__all__ = ["ProgressiveGAN", "ProgressiveGenerator", "ProgressiveDiscriminator", "PGGANConfig"]
