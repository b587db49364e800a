r"""Shapley values of a model's prediction (book I11.21, L24950-24954; Shapley 1953, Lundberg &
Lee 2017).

.. math:: \phi_j=\sum_{S\subseteq\{1..p\}\setminus\{j\}}\frac{|S|!\,(p-|S|-1)!}{p!}\,[v(S\cup\{j\})-v(S)]

The book leaves the value :math:`v(S)` of a feature subset unspecified. Here it is the
*interventional* expectation over a background set :math:`B` (what ``shap``'s explainers compute with
an independent masker): the features in :math:`S` take the explained point's values, the others
each background row's, and the model's outputs are averaged,

.. math:: v(S)=\frac1{|B|}\sum_{b\in B}f(x_S, b_{\bar S}).

So :math:`\sum_j\phi_j=f(x)-\frac1{|B|}\sum_b f(b)` (efficiency), a feature the model ignores gets 0
(dummy), and the values of a sum of models add up (linearity).

* :func:`exact_shapley` -- all :math:`2^p` coalitions (``p <= max_features``, 16 by default).
* :func:`sampling_shapley` -- the permutation estimator (Štrumbelj & Kononenko 2014): the marginal
  contributions along random feature orders, with antithetic (reversed) orders; each order keeps
  efficiency exactly, and the estimate converges to :func:`exact_shapley` at rate
  :math:`1/\sqrt{n}`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError

Predict = Callable[[Tensor], Tensor]


@dataclass
class ShapleyValues:
    """``values (F,)`` or ``(F, K)`` (one column per model output); ``base_value``: ``v(∅)``, the
    mean output over the background; ``stderr``: the sampling estimator's standard error (``None``
    for exact values)."""

    values: Tensor
    base_value: Tensor
    stderr: Tensor | None = None


def _check(x: Tensor, background: Tensor) -> tuple[Tensor, Tensor]:
    x, background = torch.as_tensor(x), torch.as_tensor(background)
    if x.dim() != 1 or background.dim() != 2 or background.shape[1] != x.shape[0] or len(background) == 0:
        raise ShapeError(f"Shapley values need one point x (F,) and a background (B, F) with B >= 1, got "
                         f"{tuple(x.shape)} and {tuple(background.shape)}")
    return x, background.to(x.dtype)


def coalition_values(predict: Predict, x: Tensor, background: Tensor, masks: Tensor, chunk: int = 65536) -> Tensor:
    """``v(S)`` for each row of ``masks (M, F)`` (True = the feature takes ``x``'s value), averaged
    over ``background (B, F)``: ``(M,)`` or ``(M, K)``."""
    x, background = _check(x, background)
    n_bg = len(background)
    rows_per_chunk = max(1, chunk // n_bg)
    out = []
    with torch.no_grad():
        for s in range(0, len(masks), rows_per_chunk):
            m = masks[s:s + rows_per_chunk].to(torch.bool)
            inputs = torch.where(m[:, None, :], x, background[None])  # (m, B, F)
            y = predict(inputs.reshape(-1, x.shape[0]))
            out.append(y.reshape(len(m), n_bg, *y.shape[1:]).double().mean(dim=1))
    return torch.cat(out)


def exact_shapley(predict: Predict, x: Tensor, background: Tensor, *, max_features: int = 16) -> ShapleyValues:
    """Exact interventional Shapley values of ``predict`` at ``x (F,)`` against ``background (B, F)``.

    ``predict`` maps ``(N, F)`` to ``(N,)`` or ``(N, K)``; it is called on ``2^F * B`` rows (in
    chunks). More than ``max_features`` features is refused: use :func:`sampling_shapley`.
    """
    x, background = _check(x, background)
    p = x.shape[0]
    if p > max_features:
        raise ConfigError(f"exact Shapley values enumerate 2^{p} coalitions; {p} features exceed max_features="
                          f"{max_features}: use sampling_shapley, or raise max_features")
    codes = torch.arange(2**p)
    bits = 2 ** torch.arange(p)
    masks = (codes[:, None] & bits) != 0  # (2^p, p): coalition c holds feature j when bit j is set
    v = coalition_values(predict, x, background, masks)
    size = masks.sum(1)
    weight = torch.tensor([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) if s < p else 0.0
                           for s in range(p + 1)], dtype=torch.float64)
    phi = []
    for j in range(p):
        without = codes[(codes & (1 << j)) == 0]  # coalitions S not holding j
        w = weight[size[without]]
        diff = v[without | (1 << j)] - v[without]
        phi.append((w.reshape(-1, *([1] * (diff.dim() - 1))) * diff).sum(0))
    return ShapleyValues(torch.stack(phi), v[0])


def sampling_shapley(predict: Predict, x: Tensor, background: Tensor, *, n_permutations: int = 100,
                     antithetic: bool = True, seed: int = 0) -> ShapleyValues:
    """Permutation-sampling estimate of :func:`exact_shapley`'s values.

    Each random order :math:`\\pi` of the features adds them one by one; feature :math:`\\pi_k`
    gets :math:`v(\\{\\pi_1..\\pi_k\\})-v(\\{\\pi_1..\\pi_{k-1}\\})`. ``n_permutations`` orders are
    averaged (with ``antithetic``, half of them are the reverses of the other half, which lowers
    the variance). Costs ``n_permutations * (F + 1) * B`` model rows; returns the standard error too.
    """
    x, background = _check(x, background)
    if isinstance(n_permutations, bool) or int(n_permutations) != n_permutations or n_permutations < 1:
        raise ConfigError(f"n_permutations must be an integer >= 1, got {n_permutations!r}")
    p = x.shape[0]
    g = torch.Generator().manual_seed(seed)
    n = int(n_permutations)
    orders = [torch.randperm(p, generator=g) for _ in range((n + 1) // 2 if antithetic else n)]
    if antithetic:
        orders = [o for pair in zip(orders, [o.flip(0) for o in orders], strict=True) for o in pair][:n]
    perms = torch.stack(orders)  # (n, p)
    # the p + 1 nested coalitions of each order: masks[i, k] holds the first k features of order i
    rank = torch.empty_like(perms)
    rank.scatter_(1, perms, torch.arange(p).expand(n, p))
    masks = rank[:, None, :] < torch.arange(p + 1)[None, :, None]  # (n, p + 1, p)
    v = coalition_values(predict, x, background, masks.reshape(-1, p))
    scalar = v.dim() == 1  # predict returns (N,): return (F,) values
    v = v.reshape(n, p + 1, -1)
    steps = v[:, 1:] - v[:, :-1]  # contribution of the k-th feature of each order: (n, p, K)
    contrib = torch.empty_like(steps)
    contrib.scatter_(1, perms[:, :, None].expand_as(steps), steps)  # back to feature order
    values = contrib.mean(0)
    if antithetic and n > 1:  # the pairs are the independent draws
        pairs = contrib[: n - n % 2].reshape(n // 2, 2, p, -1).mean(1)
        stderr = pairs.std(0, unbiased=True) / math.sqrt(len(pairs)) if len(pairs) > 1 else torch.zeros_like(values)
    else:
        stderr = contrib.std(0, unbiased=True) / math.sqrt(n) if n > 1 else torch.zeros_like(values)
    if scalar:
        values, stderr = values[:, 0], stderr[:, 0]
    base = v[0, 0, 0] if scalar else v[0, 0]
    return ShapleyValues(values, base, stderr)


__all__ = ["ShapleyValues", "coalition_values", "exact_shapley", "sampling_shapley"]
