r"""Hebbian plasticity rules (book §11, I11.15) and the Hopfield network's equations, as plain tensor code.

* **Hebb** (book L24826–24830): :math:`\Delta w_{ij} = \eta\,x_i y_j`. For a linear neuron
  :math:`y = w^\top x` on centred data the expected update is :math:`\eta C w` (:math:`C` the
  covariance), so :math:`w` turns towards the first principal component but its norm grows without
  bound (by a factor :math:`\approx 1 + \eta\lambda_1` per step); the book does not say so.
* **Oja** (1982): :math:`\Delta w = \eta\,y\,(x - y\,w)`, Hebb's rule plus a decay that keeps
  :math:`\lVert w\rVert \to 1`; its stable fixed point is the unit first principal component.
* **Sanger's generalised Hebbian algorithm** (1989): :math:`\Delta W = \eta\,(y x^\top -
  \mathrm{LT}(y y^\top) W)` for ``k`` outputs learns the first ``k`` components in order.
* **Hopfield** (1982): storage :math:`W = \frac1N\sum_\mu \xi^\mu \xi^{\mu\top}` with a zero diagonal
  (Hebb's rule applied once to each ±1 pattern), energy :math:`E(s) = -\frac12 s^\top W s`, and the
  update :math:`s_i \leftarrow \operatorname{sign}(\sum_j W_{ij} s_j)`.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["hebb_update", "oja_update", "sanger_update", "hopfield_weights", "hopfield_energy"]


def hebb_update(w: Tensor, x: Tensor, lr: float) -> Tensor:
    """The book's rule for one linear neuron ``y = x w``, averaged over a batch ``x (B, D)``: ``w (D,)``
    plus ``lr * mean_b(y_b x_b)``."""
    y = x @ w
    return w + lr * (y[:, None] * x).mean(0)


def oja_update(w: Tensor, x: Tensor, lr: float) -> Tensor:
    """Oja's rule averaged over a batch ``x (B, D)``: ``w + lr * mean_b(y_b (x_b - y_b w))``."""
    y = x @ w
    return w + lr * (y[:, None] * (x - y[:, None] * w[None])).mean(0)


def sanger_update(W: Tensor, x: Tensor, lr: float) -> Tensor:
    """Sanger's rule for ``W (k, D)`` over a batch ``x (B, D)`` (row ``i`` learns component ``i``)."""
    y = x @ W.T  # (B, k)
    B = x.shape[0]
    return W + lr * (y.T @ x - torch.tril(y.T @ y) @ W) / B


def hopfield_weights(patterns: Tensor) -> Tensor:
    """``(P, N)`` ±1 patterns → ``(N, N)`` Hebbian couplings ``(1/N) Σ_μ ξ^μ ξ^μᵀ`` with zero diagonal,
    accumulated pattern by pattern as the rule is written."""
    n = patterns.shape[1]
    W = torch.zeros(n, n, dtype=patterns.dtype, device=patterns.device)
    for xi in patterns:
        W += torch.outer(xi, xi)
    W.fill_diagonal_(0)
    return W / n


def hopfield_energy(W: Tensor, s: Tensor) -> Tensor:
    """``E(s) = -½ sᵀ W s`` for states ``s (..., N)`` → ``(...)``."""
    return -0.5 * ((s @ W) * s).sum(-1)
