r"""Regularisation penalties and constraints (book §3.6.3, L4340–4448).

* L1 (lasso): :math:`\lambda\lVert\theta\rVert_1`, subgradient :math:`\lambda\,\mathrm{sign}(\theta)`;
* L2 (ridge): :math:`\lambda\lVert\theta\rVert_2^2`, gradient :math:`2\lambda\theta` (the book's
  convention, as Keras ``regularizers.l2(λ)``);
* elastic net: :math:`\lambda_1\lVert\theta\rVert_1+\lambda_2\lVert\theta\rVert_2^2`.

**λ and ``weight_decay``.** ``torch.optim`` adds ``weight_decay·θ`` to the gradient, so the
book's :math:`\lambda\lVert\theta\rVert^2` corresponds to ``weight_decay = 2λ``
(:func:`weight_decay_for_l2`; the book's ``weight_decay=0.01`` at L4402 is λ = 0.005). For plain
SGD this coupled L2 equals decoupled decay :math:`\theta\leftarrow(1-\eta\lambda_{wd})\theta`; for
adaptive methods it does not: Adam divides the L2 gradient by :math:`\sqrt{\hat v}`, whereas
``AdamW(weight_decay=wd)`` shrinks every weight by ``lr·wd`` per step (Loshchilov & Hutter 2019).

Keras penalises kernels only; the book's PyTorch listing (L4412) sums |p| over all parameters,
biases included. :func:`penalized_parameters` chooses (``include_bias=False`` by default).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn as nn
from torch import Tensor


def penalized_parameters(model: nn.Module, include_bias: bool = False) -> list[Tensor]:
    """Weights to penalise: parameters with ≥ 2 dims (kernels), plus 1-D ones if ``include_bias``."""
    return [p for p in model.parameters() if p.requires_grad and (include_bias or p.dim() >= 2)]


def l1_penalty(params: Iterable[Tensor], lam: float) -> Tensor:
    """``lam · Σ |p|`` over all entries of ``params`` (a scalar tensor)."""
    return lam * sum(p.abs().sum() for p in params)


def l2_penalty(params: Iterable[Tensor], lam: float) -> Tensor:
    """``lam · Σ p²`` over all entries of ``params`` (a scalar tensor; no 1/2 factor)."""
    return lam * sum(p.pow(2).sum() for p in params)


def elastic_net_penalty(params: Iterable[Tensor], l1: float, l2: float) -> Tensor:
    """Elastic net: ``l1 · Σ |p| + l2 · Σ p²`` over ``params``."""
    params = list(params)
    return l1_penalty(params, l1) + l2_penalty(params, l2)


def weight_decay_for_l2(lam: float) -> float:
    r"""``weight_decay`` that makes torch's coupled decay equal the penalty :math:`\lambda\lVert\theta\rVert^2`."""
    return 2.0 * lam


@torch.no_grad()
def max_norm_(model_or_weight: nn.Module | Tensor, max_value: float = 3.0) -> None:
    r"""Max-norm constraint (Srivastava et al. 2014): rescale each unit's incoming weight vector
    (a row of a ``Linear`` weight, a filter of a conv) so that :math:`\lVert w_i\rVert_2\le c`.
    Apply after each optimiser step."""
    weights = [model_or_weight] if isinstance(model_or_weight, Tensor) else [
        m.weight for m in model_or_weight.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))
    ]
    for w in weights:
        w.copy_(torch.renorm(w, p=2, dim=0, maxnorm=max_value))


__all__ = ["penalized_parameters", "l1_penalty", "l2_penalty", "elastic_net_penalty", "weight_decay_for_l2", "max_norm_"]
