r"""Loss functions as their equations (reference paths), each tested equal to torch's loss.

``pred``/``logits`` are ``(N, K)`` (or ``(N,)``), targets as noted. ``reduction`` is ``"mean"``
(torch's default), ``"sum"`` or ``"none"``; :func:`mse` also accepts ``"half_sum"``.

==================  ==============================================================  =========================
loss                equation (per element / sample)                                 torch
==================  ==============================================================  =========================
MSE                 :math:`(\hat y-y)^2`                                            ``nn.MSELoss``
MAE                 :math:`|\hat y-y|`                                              ``nn.L1Loss``
Huber (δ)           :math:`\tfrac12 r^2` if :math:`|r|\le\delta` else :math:`\delta(|r|-\tfrac12\delta)`  ``nn.HuberLoss``
BCE (probs)         :math:`-[y\ln p+(1-y)\ln(1-p)]`, logs clamped at −100           ``nn.BCELoss``
BCE (logits)        :math:`\max(z,0)-zy+\ln(1+e^{-|z|})` (stable)                   ``nn.BCEWithLogitsLoss``
cross-entropy       :math:`-\sum_k q_k\ln\mathrm{softmax}(z)_k`, ``q`` = smoothed one-hot  ``nn.CrossEntropyLoss``
KL                  :math:`\sum_k p_k(\ln p_k-\ln q_k)`, input :math:`\ln q`            ``nn.KLDivLoss``
multi-class hinge   :math:`\frac1K\sum_{k\ne y}\max(0,m-z_y+z_k)`                    ``nn.MultiMarginLoss``
==================  ==============================================================  =========================
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError
from .activations import log_softmax


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ConfigError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Squared error; ``"half_sum"`` gives ½Σ(ŷ−y)² whose gradient is ŷ−y."""
    sq = (pred - target) ** 2
    return 0.5 * sq.sum() if reduction == "half_sum" else _reduce(sq, reduction)


def mae(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``|pred - target|``, reduced by ``reduction`` (``mean``, ``sum`` or ``none``)."""
    return _reduce((pred - target).abs(), reduction)


def huber(pred: Tensor, target: Tensor, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """Huber loss: ``r²/2`` for residuals ``|r| <= delta``, ``delta (|r| - delta/2)`` beyond; reduced by ``reduction``."""
    r = (pred - target).abs()
    return _reduce(torch.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta)), reduction)


def bce(prob: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    """BCE on probabilities (after a sigmoid); torch clamps the logs at −100, so do we."""
    loss = -(target * torch.clamp(torch.log(prob), min=-100) + (1 - target) * torch.clamp(torch.log1p(-prob), min=-100))
    return _reduce(loss if weight is None else weight * loss, reduction)


def bce_with_logits(
    logits: Tensor, target: Tensor, pos_weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    r"""BCE on logits: :math:`-[w_+ y\ln\sigma(z)+(1-y)\ln(1-\sigma(z))]`, computed stably."""
    log_sig = -(torch.clamp(-logits, min=0) + torch.log1p(torch.exp(-logits.abs())))  # ln σ(z)
    log_one_minus = log_sig - logits  # ln(1 − σ(z)) = ln σ(z) − z
    w = 1.0 if pos_weight is None else pos_weight
    return _reduce(-(w * target * log_sig + (1 - target) * log_one_minus), reduction)


def cross_entropy(
    logits: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    r"""Cross-entropy from **logits** ``(N, K)`` and class indices ``(N,)`` (never probabilities).

    With class weights :math:`w` and smoothing :math:`\varepsilon`, sample ``i`` contributes
    :math:`(1-\varepsilon)\,w_{y_i}(-\ln p_{i,y_i})+\frac{\varepsilon}{K}\sum_k w_k(-\ln p_{ik})`;
    ``"mean"`` divides the total by :math:`\sum_i w_{y_i}` (PyTorch's weighted mean).
    """
    k = logits.shape[-1]
    logp = log_softmax(logits, -1)
    w = torch.ones(k, dtype=logits.dtype, device=logits.device) if weight is None else weight
    nll = -logp.gather(-1, target.long().unsqueeze(-1)).squeeze(-1) * w[target]
    smooth = -(logp * w).sum(-1)
    loss = (1 - label_smoothing) * nll + label_smoothing / k * smooth
    if reduction == "mean":
        return loss.sum() / w[target].sum()
    return _reduce(loss, reduction)


def kl_div(log_q: Tensor, p: Tensor, reduction: str = "batchmean") -> Tensor:
    r""":math:`\mathrm{KL}(p\,\|\,q)=\sum p(\ln p-\ln q)` with ``log_q`` log-probabilities (as torch).

    ``"batchmean"`` divides by the batch size — the true KL per sample; torch's ``"mean"``
    divides by the number of elements instead.
    """
    elem = torch.where(p > 0, p * (torch.log(p) - log_q), torch.zeros_like(p))
    if reduction == "batchmean":
        return elem.sum() / log_q.shape[0]
    return _reduce(elem, reduction)


def multiclass_hinge(logits: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Crammer–Singer style hinge as torch's ``MultiMarginLoss`` (p = 1), averaged over classes."""
    zy = logits.gather(-1, target.long().unsqueeze(-1))
    viol = torch.clamp(margin - zy + logits, min=0.0)
    viol = viol.scatter(-1, target.long().unsqueeze(-1), 0.0)
    return _reduce(viol.sum(-1) / logits.shape[-1], reduction)


__all__ = ["mse", "mae", "huber", "bce", "bce_with_logits", "cross_entropy", "kl_div", "multiclass_hinge"]
