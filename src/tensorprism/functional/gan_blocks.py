r"""Building blocks of the progressive and style-based GANs of Chapter 10 (§10.6, I10.18, I10.21)
written as equations: the fade-in blend, minibatch standard deviation, pixel normalisation,
equalised-learning-rate scaling and the modulated (and demodulated) convolution.

**Fade-in (progressive growing, Karras et al. 2018).** When a resolution is added, the new layers
are blended in with a weight :math:`\alpha` that goes from 0 to 1:

.. math:: G_{blend} = (1-\alpha)\,G_{old} + \alpha\,G_{new},

so at :math:`\alpha=0` the grown network computes exactly what the smaller one did (nothing jumps)
and at :math:`\alpha=1` the old path is gone. The book writes :math:`\alpha G_{old}+(1-\alpha)G_{new}`
with :math:`\alpha` going from 0 to 1 (L24123–24125, catalogue ch09-11 §5 item 14): that starts
with the untrained new layers alone and fades the trained ones *in*, the wrong way round.

**Modulated convolution (StyleGAN2, Karras et al. 2020).** A style :math:`s\in\mathbb R^{C_{in}}`
per example scales the kernel's input channels, :math:`w'_{oik}=s_i w_{oik}`; demodulation divides
by :math:`\sigma_o=\sqrt{\sum_{i,k} {w'}_{oik}^2+\epsilon}` so each output channel has unit
expected variance (it replaces AdaIN's instance normalisation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ShapeError

__all__ = ["fade_in", "minibatch_stddev", "pixel_norm", "equalized_scale", "modulated_conv2d_reference",
           "modulated_conv2d"]


def fade_in(old: Tensor, new: Tensor, alpha: float | Tensor) -> Tensor:
    r""":math:`(1-\alpha)\,old + \alpha\,new` for :math:`\alpha\in[0,1]` (same shapes): at
    :math:`\alpha=0` exactly ``old``, at 1 exactly ``new``."""
    if old.shape != new.shape:
        raise ShapeError(f"fade_in blends two outputs of the same shape, got {tuple(old.shape)} and {tuple(new.shape)}")
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ShapeError(f"fade-in weight alpha must lie in [0, 1], got {a}")
    if a == 0.0:
        return old
    if a == 1.0:
        return new
    return old + a * (new - old)


def _group(n: int, group_size: int) -> int:
    """The largest divisor of the batch ``n`` not above ``group_size`` (batches need not be multiples)."""
    return max(g for g in range(1, min(group_size, n) + 1) if n % g == 0)


def minibatch_stddev(x: Tensor, group_size: int = 4, eps: float = 1e-8) -> Tensor:
    r"""Append one feature map: the standard deviation of each feature over a group of examples,
    averaged over features and pixels (Karras et al. 2018, §3). ``x (N, C, H, W)`` →
    ``(N, C+1, H, W)``; examples ``i`` and ``i + N/G·j`` form a group of size ``G`` (the largest
    divisor of ``N`` not above ``group_size``), as in the reference implementation. It lets the
    discriminator see how varied a batch is, which discourages mode collapse."""
    if x.dim() != 4:
        raise ShapeError(f"minibatch_stddev expects (N, C, H, W), got {tuple(x.shape)}")
    n, c, h, w = x.shape
    g = _group(n, group_size)
    y = x.reshape(g, n // g, c, h, w)
    std = (y.var(dim=0, unbiased=False) + eps).sqrt()  # (N/G, C, H, W): over the group
    stat = std.mean(dim=(1, 2, 3))  # (N/G,)
    feat = stat.view(1, n // g, 1, 1, 1).expand(g, n // g, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, feat], 1)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    r"""Per-pixel feature normalisation :math:`b_{xy}=a_{xy}/\sqrt{\frac1C\sum_j (a^j_{xy})^2+\epsilon}`
    over the channel dimension 1 (``(N, C, ...)``), used in the PGGAN generator instead of batch norm."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def equalized_scale(weight_shape: tuple[int, ...], gain: float = math.sqrt(2.0), lr_mul: float = 1.0) -> float:
    r"""He's constant :math:`c = \text{gain}/\sqrt{\text{fan-in}}` (times ``lr_mul``) applied at run
    time to weights drawn from :math:`N(0, 1/\text{lr\_mul}^2)`: every layer then learns at the same
    speed under Adam (equalised learning rate, Karras et al. 2018 §4.1). Fan-in = product of all
    dimensions but the first (output)."""
    fan_in = math.prod(weight_shape[1:])
    return gain / math.sqrt(fan_in) * lr_mul


def _modulated_weight(weight: Tensor, style: Tensor, demodulate: bool, eps: float) -> Tensor:
    """``weight (O, I, k, k)``, ``style (N, I)`` → per-example kernels ``(N, O, I, k, k)``."""
    w = weight.unsqueeze(0) * style[:, None, :, None, None]
    if demodulate:
        w = w * torch.rsqrt(w.pow(2).sum(dim=(2, 3, 4), keepdim=True) + eps)
    return w


def modulated_conv2d_reference(x: Tensor, weight: Tensor, style: Tensor, demodulate: bool = True,
                               padding: int = 0, eps: float = 1e-8) -> Tensor:
    """The equation, one example at a time: ``x (N, I, H, W)``, ``weight (O, I, k, k)``,
    ``style (N, I)`` → ``(N, O, H', W')``."""
    if style.shape != (x.shape[0], weight.shape[1]):
        raise ShapeError(f"style must be (N, in_channels) = ({x.shape[0]}, {weight.shape[1]}), got {tuple(style.shape)}")
    w = _modulated_weight(weight, style, demodulate, eps)
    return torch.cat([F.conv2d(x[i:i + 1], w[i], padding=padding) for i in range(x.shape[0])])


def modulated_conv2d(x: Tensor, weight: Tensor, style: Tensor, demodulate: bool = True, padding: int = 0,
                     eps: float = 1e-8) -> Tensor:
    """Fast path of :func:`modulated_conv2d_reference`: the batch folded into the channel axis and
    one grouped convolution (``groups = N``), as StyleGAN2 does it."""
    n, i, h, w_ = x.shape
    if style.shape != (n, weight.shape[1]) or i != weight.shape[1]:
        raise ShapeError(f"x (N, {weight.shape[1]}, H, W) and style (N, {weight.shape[1]}) expected, got "
                         f"{tuple(x.shape)} and {tuple(style.shape)}")
    w = _modulated_weight(weight, style, demodulate, eps)  # (N, O, I, k, k)
    out = F.conv2d(x.reshape(1, n * i, h, w_), w.reshape(n * weight.shape[0], i, *weight.shape[2:]),
                   padding=padding, groups=n)
    return out.reshape(n, weight.shape[0], *out.shape[2:])
