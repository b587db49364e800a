r"""Annealed importance sampling of a Bernoulli–Bernoulli RBM's log-partition function
(Neal 2001; Salakhutdinov & Murray 2008), for RBMs too large to enumerate.

Intermediate unnormalised marginals, :math:`0=\beta_0<\beta_1<\dots<\beta_K=1`, between a base
RBM with no weights and visible biases :math:`b_A` and the target :math:`(W, b, c)`:

.. math:: \log p^*_k(v) = (1-\beta_k)\,b_A^\top v + \beta_k\,b^\top v
          + \sum_j \mathrm{softplus}\big(\beta_k (c_j + W_{:j}^\top v)\big),

so :math:`p^*_K(v)=e^{-F(v)}` and :math:`Z_0=2^H\prod_i(1+e^{b_{A,i}})` is known. Each chain
starts from an exact sample of the base model, moves by one Gibbs sweep that leaves
:math:`p_k` invariant (:math:`h_j\sim\sigma(\beta_k(c_j+W_{:j}^\top v))`,
:math:`v_i\sim\sigma((1-\beta_k)b_{A,i}+\beta_k(b_i+W_{i:}h))`) and accumulates
:math:`\log w \mathrel{+}= \log p^*_k(v_{k-1})-\log p^*_{k-1}(v_{k-1})`. Then
:math:`\hat Z = Z_0\cdot\frac1M\sum_m w_m` is unbiased for :math:`Z`, so :math:`\log\hat Z`
underestimates :math:`\log Z` in expectation (Jensen) and log-likelihoods
:math:`-F(v)-\log\hat Z` computed with it are optimistic by that gap; many chains and
temperatures make it small (the tests check it against the exact enumeration).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ShapeError

__all__ = ["rbm_unnormalised_log_marginal", "ais_log_partition", "base_log_partition"]


def rbm_unnormalised_log_marginal(v: Tensor, weight: Tensor, v_bias: Tensor, h_bias: Tensor, beta: float,
                                  base_bias: Tensor) -> Tensor:
    r""":math:`\log p^*_\beta(v)` ``(N,)`` of the annealed RBM for flattened ``v (N, D)``."""
    return ((1 - beta) * base_bias + beta * v_bias) @ v.t() + F.softplus(beta * (v @ weight + h_bias)).sum(1)


def base_log_partition(base_bias: Tensor, hidden: int) -> Tensor:
    r""":math:`\log Z_0 = H\log 2+\sum_i \mathrm{softplus}(b_{A,i})`."""
    return hidden * math.log(2.0) + F.softplus(base_bias).sum()


@torch.no_grad()
def ais_log_partition(weight: Tensor, v_bias: Tensor, h_bias: Tensor, num_chains: int = 100,
                      num_betas: int = 10000, base_bias: Tensor | None = None,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(log Ẑ, log w (num_chains,))`` for the RBM ``weight (D, H)``, ``v_bias (D,)``,
    ``h_bias (H,)``; ``num_betas`` temperatures spaced evenly in [0, 1]; ``base_bias (D,)``: the
    base model's visible biases (default 0; the log-odds of the data's pixel means is a better base)."""
    d, h = weight.shape
    if v_bias.shape != (d,) or h_bias.shape != (h,):
        raise ShapeError(f"weight (D, H) = {tuple(weight.shape)} needs v_bias ({d},) and h_bias ({h},), got "
                         f"{tuple(v_bias.shape)} and {tuple(h_bias.shape)}")
    if num_chains < 1 or num_betas < 2:
        raise ShapeError(f"AIS needs num_chains >= 1 and num_betas >= 2, got {num_chains} and {num_betas}")
    base = torch.zeros_like(v_bias) if base_bias is None else base_bias
    betas = torch.linspace(0.0, 1.0, num_betas, dtype=torch.float64).tolist()
    v = torch.bernoulli(torch.sigmoid(base).expand(num_chains, d), generator=generator)
    log_w = torch.zeros(num_chains, dtype=weight.dtype, device=weight.device)
    for k in range(1, num_betas):
        b_prev, b_k = betas[k - 1], betas[k]
        log_w += rbm_unnormalised_log_marginal(v, weight, v_bias, h_bias, b_k, base) \
            - rbm_unnormalised_log_marginal(v, weight, v_bias, h_bias, b_prev, base)
        if k < num_betas - 1:  # a Gibbs sweep leaving p_k invariant
            hid = torch.bernoulli(torch.sigmoid(b_k * (v @ weight + h_bias)), generator=generator)
            v = torch.bernoulli(torch.sigmoid((1 - b_k) * base + b_k * (hid @ weight.t() + v_bias)),
                                generator=generator)
    log_z = base_log_partition(base, h) + torch.logsumexp(log_w, 0) - math.log(num_chains)
    return log_z, log_w
