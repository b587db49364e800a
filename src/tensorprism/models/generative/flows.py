r"""Normalising flows of Chapter 10 (§10.7): multi-scale RealNVP (Dinh et al. 2017) with Glow's
actnorm and invertible 1×1 convolutions (Kingma & Dhariwal 2018) as options.

``realnvp`` (defaults for 28×28 MNIST): a logit pre-processing layer, then per scale
[3 checkerboard couplings → squeeze → 3 channel couplings → factor out half the channels], and a
final block of 4 checkerboard couplings. Every coupling is preceded by actnorm and (``glow``) an
invertible 1×1 convolution. ``forward(x)`` → :class:`FlowOutput` ``(z (N, *data_shape), logdet
(N,))`` with ``z`` the concatenation of every factored-out part; ``inverse(z)`` undoes it;
``log_prob(x)`` is :math:`\log p(x)` in nats for ``x`` in [0, 1] (dequantised data).

Every layer's log-determinant is tested against ``torch.linalg.slogdet`` of its full Jacobian
(``tests/ch10``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn as nn
from torch import Tensor

from ...config import setting
from ...errors import ConfigError, ShapeError
from ...functional.flows import (
    actnorm,
    affine_coupling,
    channel_mask,
    checkerboard_mask,
    invertible_conv1x1,
    squeeze2x2,
    unsqueeze2x2,
)
from ...functional.generative import log_normal_diag
from .. import register_model
from ..contract import GenerativeMixin


class FlowOutput(NamedTuple):
    z: Tensor  # (N, *data_shape)
    logdet: Tensor  # (N,)


class FlowLayer(nn.Module):
    """An invertible map with ``forward(x) → (y, logdet (N,))`` and ``inverse(y) → x``."""

    def inverse(self, y: Tensor) -> Tensor:
        raise NotImplementedError


class LogitTransform(FlowLayer):
    r""":math:`y=\mathrm{logit}(\alpha+(1-2\alpha)x)` for ``x`` in [0, 1] (RealNVP's pre-processing,
    α = 0.05), with its exact log-determinant; maps the bounded data to the real line."""

    def __init__(self, alpha: float = 0.05):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        p = self.alpha + (1 - 2 * self.alpha) * x
        y = torch.log(p) - torch.log1p(-p)
        ld = (math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        return y, ld

    def inverse(self, y: Tensor) -> Tensor:
        return ((torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha)).clamp(0, 1)


class ActNorm(FlowLayer):
    """Per-channel scale and bias, initialised from the first training batch (zero mean, unit
    variance per channel); ``initialized`` is a buffer so checkpoints keep it."""

    def __init__(self, channels: int):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized) and x.device.type != "meta":
            with torch.no_grad():
                mean = x.mean((0, 2, 3), keepdim=True)
                std = x.std((0, 2, 3), keepdim=True).clamp_min(1e-6)
                self.bias.copy_(-mean)
                self.log_scale.copy_(-torch.log(std))
                self.initialized.fill_(1)
        return actnorm(x, self.log_scale, self.bias)

    def inverse(self, y: Tensor) -> Tensor:
        return actnorm(y, self.log_scale, self.bias, reverse=True)[0]


class InvConv1x1(FlowLayer):
    """Glow's invertible 1×1 convolution, initialised to a random rotation."""

    def __init__(self, channels: int):
        super().__init__()
        w = torch.linalg.qr(torch.randn(channels, channels))[0]
        self.weight = nn.Parameter(w)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return invertible_conv1x1(x, self.weight)

    def inverse(self, y: Tensor) -> Tensor:
        return invertible_conv1x1(y, self.weight, reverse=True)[0]


class CouplingNet(nn.Module):
    """``s, t`` of a coupling from the masked input: Conv3×3 → ReLU → Conv1×1 → ReLU → Conv3×3
    (zero-initialised: every coupling starts as the identity); ``s = scale · tanh(·)``."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(hidden, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, 2 * channels, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.net(x).chunk(2, dim=1)
        return self.scale * torch.tanh(s), t


class AffineCoupling(FlowLayer):
    """RealNVP's masked affine coupling (checkerboard or channel mask), see
    :func:`~tensorprism.functional.flows.affine_coupling`."""

    def __init__(self, channels: int, hidden: int, mask: str, parity: int):
        super().__init__()
        if mask not in ("checkerboard", "channel"):
            raise ConfigError(f"unknown coupling mask {mask!r}; choose 'checkerboard' or 'channel'")
        self.mask_kind, self.parity, self.channels = mask, parity, channels
        self.st = CouplingNet(channels, hidden)

    def _mask(self, x: Tensor) -> Tensor:
        if self.mask_kind == "checkerboard":
            return checkerboard_mask(x.shape[2], x.shape[3], self.parity, x.device).to(x.dtype)
        return channel_mask(self.channels, self.parity, x.device).to(x.dtype)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        m = self._mask(x)
        s, t = self.st(x * m)
        return affine_coupling(x, m, s, t)

    def inverse(self, y: Tensor) -> Tensor:
        m = self._mask(y)
        s, t = self.st(y * m)
        return affine_coupling(y, m, s, t, reverse=True)[0]


class Squeeze(FlowLayer):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return squeeze2x2(x), x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        return unsqueeze2x2(y)


class FlowSequence(FlowLayer):
    """Layers applied in order; log-determinants add."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            total = total + ld
        return x, total

    def inverse(self, y: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y


def _step(channels: int, hidden: int, mask: str, parity: int, glow: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [ActNorm(channels)]
    if glow and mask == "channel":
        layers.append(InvConv1x1(channels))
    layers.append(AffineCoupling(channels, hidden, mask, parity))
    return layers


@dataclass
class RealNVPConfig:
    """``in_chans``/``img_size`` of the data (``img_size`` divisible by 2^scales); ``scales``
    multi-scale levels; ``hidden`` channels of each coupling network; ``glow``: an invertible 1×1
    convolution before every channel-mask coupling; ``alpha`` of the logit pre-processing."""

    in_chans: int = setting(1, min=1)
    img_size: int = setting(28, min=2)
    scales: int = setting(2, min=1)
    hidden: int = setting(64, min=1)
    glow: bool = False
    alpha: float = setting(0.05, min=0.0, max=0.5)


class RealNVP(GenerativeMixin, nn.Module):
    """Multi-scale RealNVP; see the module docstring."""

    kind = "flow"

    def __init__(self, cfg: RealNVPConfig):
        super().__init__()
        if cfg.img_size % 2 ** cfg.scales:
            raise ConfigError(f"realnvp with {cfg.scales} scales needs img_size divisible by {2 ** cfg.scales}, "
                              f"got {cfg.img_size}")
        self.data_shape = (cfg.in_chans, cfg.img_size, cfg.img_size)
        self.pre = LogitTransform(cfg.alpha)
        blocks, c = [], cfg.in_chans
        for _ in range(cfg.scales):
            layers: list[nn.Module] = []
            for i in range(3):
                layers += _step(c, cfg.hidden, "checkerboard", i % 2, cfg.glow)
            layers.append(Squeeze())
            c *= 4
            for i in range(3):
                layers += _step(c, cfg.hidden, "channel", i % 2, cfg.glow)
            blocks.append(FlowSequence(layers))
            c //= 2  # half the channels are factored out
        final: list[nn.Module] = []
        for i in range(4):
            final += _step(c, cfg.hidden, "checkerboard", i % 2, cfg.glow)
        self.blocks = nn.ModuleList(blocks)
        self.final = FlowSequence(final)

    def forward(self, x: Tensor) -> FlowOutput:
        self.check_data(x)
        h, logdet = self.pre(x)
        parts = []
        for block in self.blocks:
            h, ld = block(h)
            logdet = logdet + ld
            keep, out = h.chunk(2, dim=1)
            parts.append(out.flatten(1))
            h = keep
        h, ld = self.final(h)
        parts.append(h.flatten(1))
        logdet = logdet + ld
        return FlowOutput(torch.cat(parts, 1).view(x.shape[0], *self.data_shape), logdet)

    def inverse(self, z: Tensor) -> Tensor:
        """Data ``(N, *data_shape)`` in [0, 1] from latents ``z`` of the same shape."""
        self.check_data(z)
        n, flat = z.shape[0], z.flatten(1)
        shapes, c, s = [], self.data_shape[0], self.data_shape[1]
        for _ in self.blocks:
            c, s = c * 4, s // 2
            shapes.append((c // 2, s, s))
            c //= 2
        sizes = [math.prod(sh) for sh in shapes] + [c * s * s]
        chunks = list(flat.split(sizes, dim=1))
        h = self.final.inverse(chunks[-1].view(n, c, s, s))
        for block, sh, out in zip(reversed(self.blocks), reversed(shapes), reversed(chunks[:-1]), strict=True):
            h = block.inverse(torch.cat([h, out.view(n, *sh)], 1))
        return self.pre.inverse(h)

    def log_prob(self, x: Tensor) -> Tensor:
        r""":math:`\log p(x)=\log\mathcal N(f(x);0,I)+\log\lvert\det\partial f/\partial x\rvert`, ``(N,)`` nats.

        A non-finite result (an input outside [0, 1], or a diverged flow) is a :class:`ShapeError`."""
        z, logdet = self(x)
        lp = log_normal_diag(z.flatten(1)) + logdet
        if not torch.isfinite(lp).all():
            raise ShapeError("the flow's log-likelihood is not finite (NaN/Inf log-det or latent): inputs must lie "
                             "in [0, 1] (dequantised images), and a diverged flow needs a lower learning rate")
        return lp

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> Tensor:
        y = self.sample_labels(n, y)
        p = next(self.parameters())
        z = temperature * torch.randn(n, *self.data_shape, generator=generator, device=p.device, dtype=p.dtype)
        return self.inverse(z)


@register_model("realnvp", config=RealNVPConfig, family="flow")
def realnvp(cfg: RealNVPConfig) -> RealNVP:
    """Multi-scale RealNVP with checkerboard/channel affine couplings and actnorm (28×28 default)."""
    return RealNVP(cfg)


register_model("glow-realnvp", config=RealNVPConfig, family="flow", glow=True,
               description="RealNVP with Glow's invertible 1×1 convolutions before channel couplings")(realnvp)
