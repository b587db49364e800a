r"""Structured (inverted) dropout: DropPath / stochastic depth and spatial dropout.

Inverted dropout with ``p`` = *drop* probability (the convention of the book's listings and of
PyTorch; the book's text at lines 7385–7395 uses ``p`` as the *keep* probability and scales at
inference instead, which is equivalent in expectation):

.. math:: y = x \odot r / (1 - p), \quad r \sim \text{Bernoulli}(1 - p)

The mask ``r`` is shared over some axes: one value per sample for DropPath (stochastic depth,
Huang et al. 2016: a residual branch is dropped for the whole sample), one per (sample, channel)
for spatial dropout (Tompson et al. 2015: whole feature maps are dropped; ``nn.Dropout2d``).
"""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

__all__ = ["structured_dropout", "drop_path", "spatial_dropout", "DropPath"]


def structured_dropout(x: Tensor, p: float, mask_dims: int, training: bool = True) -> Tensor:
    """Inverted dropout whose mask covers the first ``mask_dims`` axes of ``x`` and is broadcast over the rest."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"drop probability must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    keep = 1.0 - p
    mask = x.new_empty(*x.shape[:mask_dims], *([1] * (x.dim() - mask_dims))).bernoulli_(keep)
    return x * mask.div_(keep)


def drop_path(x: Tensor, p: float = 0.0, training: bool = False) -> Tensor:
    """Stochastic depth: zero the whole sample with probability ``p`` (rescaling survivors by ``1/(1−p)``)."""
    return structured_dropout(x, p, 1, training)


def spatial_dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Spatial dropout on ``(N, C, *S)``: zero whole channels, same as ``F.dropout2d`` / ``nn.Dropout2d``."""
    return structured_dropout(x, p, 2, training)


class DropPath(nn.Module):
    """Module form of :func:`drop_path`; put it on a residual branch: ``x + DropPath(p)(f(x))``."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
