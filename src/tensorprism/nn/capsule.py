r"""Capsules with squash and dynamic routing (Sabour, Frosst & Hinton 2017; book B10, lines 7118–7222).

The book's text omits the prediction vectors and the routing updates (erratum 12); complete form:

.. math::
    \hat{\mathbf u}_{j|i} = \mathbf W_{ij}\mathbf u_i, \quad
    c_{ij} = \text{softmax}_j(b_{ij}), \quad
    \mathbf s_j = \sum_i c_{ij}\hat{\mathbf u}_{j|i}, \quad
    \mathbf v_j = \frac{\|\mathbf s_j\|^2}{1 + \|\mathbf s_j\|^2}\frac{\mathbf s_j}{\|\mathbf s_j\|}, \quad
    b_{ij} \mathrel{+}= \hat{\mathbf u}_{j|i}\cdot\mathbf v_j

``shared_weights=True`` reproduces the book's listings (one ``W_j`` shared by all input capsules);
the default uses one ``W_ij`` per (input, output) pair as in the paper. Both of the book's listings
crash (shape errors in ``W`` and ``b``); this module is their working version.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ["squash", "dynamic_routing", "CapsuleLayer", "PrimaryCapsules", "margin_loss"]


def squash(s: Tensor, dim: int = -1, eps: float = 1e-8) -> Tensor:
    """``‖s‖²/(1+‖s‖²) · s/√(‖s‖² + ε)``: keeps the direction, maps the length into [0, 1)."""
    n2 = (s * s).sum(dim, keepdim=True)
    return n2 / (1 + n2) * s / torch.sqrt(n2 + eps)


def dynamic_routing(u_hat: Tensor, iterations: int = 3) -> Tensor:
    """Routing-by-agreement on predictions ``u_hat`` ``(N, I, J, D)`` → output capsules ``(N, J, D)``.

    The logits ``b`` are ``(N, I, J)``: one per (input capsule, output capsule) pair; gradients flow
    through the last iteration's coupling coefficients, as in the paper.
    """
    b = u_hat.new_zeros(u_hat.shape[:3])
    for r in range(iterations):
        c = b.softmax(dim=2)  # over output capsules j
        v = squash(torch.einsum("nij,nijd->njd", c, u_hat))
        if r < iterations - 1:
            b = b + torch.einsum("nijd,njd->nij", u_hat, v)
    return v


class CapsuleLayer(nn.Module):
    """``(N, I, D_in)`` input capsules → ``(N, J, D_out)`` output capsules by dynamic routing."""

    def __init__(self, in_capsules: int, in_dim: int, num_capsules: int, dim: int, iterations: int = 3,
                 shared_weights: bool = False):
        super().__init__()
        self.in_capsules, self.in_dim, self.num_capsules, self.dim = in_capsules, in_dim, num_capsules, dim
        self.iterations, self.shared_weights = iterations, shared_weights
        shape = (num_capsules, in_dim, dim) if shared_weights else (in_capsules, num_capsules, in_dim, dim)
        self.weight = nn.Parameter(torch.empty(shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = math.sqrt(6.0 / (self.in_dim + self.dim))  # glorot-uniform over (in_dim, dim), as the TF listing
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, u: Tensor) -> Tensor:
        if self.shared_weights:
            u_hat = torch.einsum("nid,jde->nije", u, self.weight)
        else:
            u_hat = torch.einsum("nid,ijde->nije", u, self.weight)
        return dynamic_routing(u_hat, self.iterations)

    def extra_repr(self) -> str:
        return (f"in=({self.in_capsules}, {self.in_dim}), out=({self.num_capsules}, {self.dim}), "
                f"iterations={self.iterations}, shared_weights={self.shared_weights}")


class PrimaryCapsules(nn.Module):
    """Conv features → squashed capsules: ``(N, C, H, W) → (N, caps·H'·W', dim)``."""

    def __init__(self, in_channels: int, capsules: int = 32, dim: int = 8, kernel_size: int = 9, stride: int = 2):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, capsules * dim, kernel_size, stride)
        self.capsules, self.dim = capsules, dim

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)  # (N, caps*dim, H', W')
        n, _, h, w = y.shape
        y = y.view(n, self.capsules, self.dim, h, w).permute(0, 1, 3, 4, 2).reshape(n, -1, self.dim)
        return squash(y)


def margin_loss(lengths: Tensor, target: Tensor, m_pos: float = 0.9, m_neg: float = 0.1, lam: float = 0.5) -> Tensor:
    """CapsNet margin loss on capsule lengths ``(N, J)`` and integer labels ``(N,)``."""
    t = torch.nn.functional.one_hot(target, lengths.shape[1]).to(lengths.dtype)
    loss = t * (m_pos - lengths).clamp(min=0) ** 2 + lam * (1 - t) * (lengths - m_neg).clamp(min=0) ** 2
    return loss.sum(1).mean()
