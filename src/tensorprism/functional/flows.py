r"""Normalising-flow building blocks of Chapter 10 (§10.7, L24141–24167): reference equations.

With :math:`z=f(x)` invertible, :math:`\log p(x)=\log p_z(f(x))+\log\lvert\det\partial f/\partial x
\rvert`. For the affine coupling :math:`y_1=x_1`, :math:`y_2=x_2\odot\exp(s(x_1))+t(x_1)` the
Jacobian is triangular and :math:`\log\lvert\det\rvert=\sum_i s_i(x_1)` — with a **plus** sign
(erratum §5.15: the book writes :math:`-\sum s_i`, which is the log-determinant of the inverse).

Masks select the conditioning half: ``mask == 1`` marks the entries passed through unchanged
(:math:`x_1`), as in RealNVP's checkerboard and channel-wise masks (Dinh et al. 2017).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import ShapeError


def checkerboard_mask(height: int, width: int, parity: int = 0, device=None) -> Tensor:
    """``(1, 1, H, W)`` float mask with ones where ``(i + j) % 2 == parity``."""
    i = torch.arange(height, device=device).view(-1, 1)
    j = torch.arange(width, device=device).view(1, -1)
    return ((i + j) % 2 == parity).float().view(1, 1, height, width)


def channel_mask(channels: int, parity: int = 0, device=None) -> Tensor:
    """``(1, C, 1, 1)`` float mask with ones on the first half of the channels (``parity=0``) or
    the second half (``parity=1``)."""
    if channels < 2:
        raise ShapeError(f"a channel mask needs at least 2 channels, got {channels}; squeeze first")
    first = torch.arange(channels, device=device) < channels // 2
    return (first if parity == 0 else ~first).float().view(1, channels, 1, 1)


def affine_coupling(x: Tensor, mask: Tensor, s: Tensor, t: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
    r"""Masked affine coupling and its log-determinant per example.

    Forward: :math:`y=m\odot x+(1-m)\odot(x\odot e^{s}+t)`, :math:`\log\lvert\det\rvert=
    \sum(1-m)\odot s`. Reverse: :math:`x=m\odot y+(1-m)\odot(y-t)\odot e^{-s}` with the negated
    log-determinant. ``s`` and ``t`` must have been computed from ``m ⊙ x`` only (then the map is
    invertible); shapes ``(N, ...)`` broadcastable with ``mask``; returns ``(y (N, ...), logdet (N,))``.
    """
    s, t = s * (1 - mask), t * (1 - mask)
    if reverse:
        y = mask * x + (1 - mask) * ((x - t) * torch.exp(-s))
        sign = -1.0
    else:
        y = mask * x + (1 - mask) * (x * torch.exp(s) + t)
        sign = 1.0
    return y, sign * s.reshape(s.shape[0], -1).sum(1)


def squeeze2x2(x: Tensor) -> Tensor:
    """Space-to-channel: ``(N, C, H, W) → (N, 4C, H/2, W/2)`` (volume preserving, log-det 0)."""
    n, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ShapeError(f"squeeze needs even height and width, got {h}×{w}; pad or crop the images first")
    x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze2x2(x: Tensor) -> Tensor:
    """Inverse of :func:`squeeze2x2`: ``(N, 4C, H, W) → (N, C, 2H, 2W)``."""
    n, c4, h, w = x.shape
    c = c4 // 4
    x = x.view(n, c, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c, 2 * h, 2 * w)


def actnorm(x: Tensor, log_scale: Tensor, bias: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
    r"""Per-channel affine :math:`y=(x+b)\odot e^{\log s}` (Glow's actnorm); log-det
    :math:`HW\sum_c\log s_c` per example. ``x (N, C, H, W)``, ``log_scale``/``bias`` ``(1, C, 1, 1)``."""
    hw = x.shape[2] * x.shape[3]
    ld = hw * log_scale.sum()
    if reverse:
        return x * torch.exp(-log_scale) - bias, (-ld).expand(x.shape[0])
    return (x + bias) * torch.exp(log_scale), ld.expand(x.shape[0])


def invertible_conv1x1(x: Tensor, weight: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
    r"""Glow's invertible 1×1 convolution :math:`y_{:,i,j}=Wx_{:,i,j}`; log-det :math:`HW\log\lvert
    \det W\rvert`. ``x (N, C, H, W)``, ``weight (C, C)``. A singular ``W`` raises :class:`ShapeError`."""
    sign, logabs = torch.linalg.slogdet(weight)
    if not torch.isfinite(logabs) or sign == 0:
        raise ShapeError("the 1×1 convolution's weight is singular (log|det W| = -inf): the flow is not "
                         "invertible; re-initialise it with a random rotation")
    hw = x.shape[2] * x.shape[3]
    w = torch.linalg.inv(weight) if reverse else weight
    y = torch.einsum("ij,njhw->nihw", w, x)
    ld = (-1.0 if reverse else 1.0) * hw * logabs
    return y, ld.expand(x.shape[0])


def bits_per_dim(nll_nats: Tensor | float, num_dims: int, bins: int | None = None) -> Tensor | float:
    r"""Negative log-likelihood in bits per dimension: :math:`\mathrm{nll}/(D\ln2)`.

    For a density on data rescaled from ``bins`` discrete levels to [0, 1), the discrete
    likelihood needs :math:`+D\log(\mathrm{bins})` nats (the Jacobian of the rescaling), given here
    with ``bins`` (256 for 8-bit images); ``None`` when the nll already refers to the discrete data.
    """
    nll = nll_nats + (num_dims * math.log(bins) if bins else 0.0)
    return nll / (num_dims * math.log(2.0))


__all__ = ["checkerboard_mask", "channel_mask", "affine_coupling", "squeeze2x2", "unsqueeze2x2", "actnorm",
           "invertible_conv1x1", "bits_per_dim"]
