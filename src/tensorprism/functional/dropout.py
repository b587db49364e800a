r"""Dropout (book §3.6.1) as reference equations, with the probability convention stated.

**Convention: ``p`` is the probability of dropping a unit** (as ``torch.nn.Dropout(p)`` and
Keras ``Dropout(rate)``, the book's listings). *Inverted* dropout scales the kept units at
training time so nothing changes at test time:

.. math:: h' = \frac{h\odot r}{1-p},\qquad r_i\sim\mathrm{Bernoulli}(1-p);\qquad h_{test}=h.

The book's text (L4113–4127) instead uses ``p`` for the probability of *keeping* a unit and
scales at test time, :math:`h'=h\odot r,\ r\sim\mathrm{Bernoulli}(p)`, :math:`h_{test}=p\,h`
(classic dropout, Srivastava et al. 2014): :func:`classic_dropout` implements that, with its
argument named ``keep`` to avoid the clash. Both have the same expected activation.

Alpha dropout (Klambauer et al. 2017) keeps SELU's zero mean / unit variance: dropped units are
set to :math:`\alpha'=-\lambda\alpha` and the result is affinely corrected
:math:`a(h\odot r+\alpha'(1-r))+b` with :math:`a=((1-p)(1+p\alpha'^2))^{-1/2}`, :math:`b=-a\alpha'p`.

The masks are drawn exactly as PyTorch's CPU kernels draw them (``bernoulli_(1 - p)`` on a
tensor shaped like the input), so with the same seed the references equal ``F.dropout`` and
``F.alpha_dropout`` bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError
from .activations import SELU_ALPHA, SELU_SCALE

ALPHA_PRIME = -SELU_SCALE * SELU_ALPHA  # ≈ -1.7581, SELU's negative saturation value


def _check(p: float, name: str = "p") -> None:
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"dropout {name} is a probability in [0, 1], got {p}")


def keep_mask(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Bernoulli(1 − p) mask shaped like ``x`` (1 = keep), drawn as torch's dropout draws it."""
    return torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)


def _masked(x: Tensor, p: float, training: bool, mask: Tensor | None, fn) -> Tensor:
    """Shared edge cases: identity in eval or for p = 0, zeros for p = 1, else ``fn(keep mask)``."""
    _check(p)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return torch.zeros_like(x)
    return fn(keep_mask(x, p) if mask is None else mask)


def inverted_dropout(x: Tensor, p: float = 0.5, training: bool = True, mask: Tensor | None = None) -> Tensor:
    """Drop each unit with probability ``p``, scale survivors by ``1/(1-p)``; identity in eval."""
    return _masked(x, p, training, mask, lambda r: x * (r / (1.0 - p)))  # torch scales the mask first


def classic_dropout(x: Tensor, keep: float = 0.5, training: bool = True, mask: Tensor | None = None) -> Tensor:
    """The book's form: keep each unit with probability ``keep``; multiply by ``keep`` at test time."""
    _check(keep, "keep")
    if not training:
        return keep * x
    r = keep_mask(x, 1.0 - keep) if mask is None else mask
    return x * r


def alpha_dropout(x: Tensor, p: float = 0.5, training: bool = True, mask: Tensor | None = None) -> Tensor:
    """Alpha dropout for SELU networks (keeps mean 0 / variance 1 of the input)."""
    a = ((1.0 - p) * (1.0 + p * ALPHA_PRIME**2)) ** -0.5 if p < 1.0 else 0.0
    return _masked(x, p, training, mask, lambda r: a * (x * r + ALPHA_PRIME * (1.0 - r)) - a * ALPHA_PRIME * p)


__all__ = ["keep_mask", "inverted_dropout", "classic_dropout", "alpha_dropout", "ALPHA_PRIME"]
