r"""Self-supervised losses, batched and numerically stable (Chapter 9, §9.3-9.4).

Every loss here works on any batch size of at least two (one sample has no negatives: a clear
:class:`~tensorprism.errors.ShapeError`), in any floating dtype, and computes its softmaxes with
``logsumexp`` (``cross_entropy``), never ``log(exp(...) / sum(exp(...)))``. Their equations and
loop versions are in :mod:`tensorprism.functional.contrastive` (tested equal).

* :func:`info_nce` -- InfoNCE / the MoCo loss: a query against its positive key and a set of
  negatives (a queue); the positive is in the denominator (the book's L20890 omits it, erratum §5.3).
* :func:`nt_xent` -- SimCLR's normalised-temperature cross-entropy over the ``2N`` views of ``N``
  images; :func:`nt_xent_pairs` takes explicit positive pairs (the book's Ex. 9.3).
* :func:`byol_loss` -- ``2 - 2 cos(p, z)`` (BYOL's normalised MSE); ``normalize=False`` gives the
  book's unnormalised squared error (L21422, erratum §5.7).
* :func:`sinkhorn_knopp`, :func:`swav_loss` -- SwAV's equipartitioned codes and swapped prediction.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError, ShapeError


def _check(name: str, *tensors: Tensor, min_batch: int = 2) -> None:
    for t in tensors:
        if t.ndim != 2:
            raise ShapeError(f"{name} expects embeddings (N, D), got shape {tuple(t.shape)}")
    n = tensors[0].shape[0]
    if n < min_batch:
        raise ShapeError(f"{name} needs a batch of at least {min_batch} samples (a contrastive loss needs "
                         f"negatives), got {n}; use a larger batch or drop_last=True in the loader")


def _check_temperature(t: float) -> None:
    if not t > 0:
        raise ConfigError(f"temperature must be > 0, got {t}")


def info_nce(query: Tensor, positive: Tensor, negatives: Tensor | None = None, temperature: float = 0.1,
             reduction: str = "mean") -> Tensor:
    """InfoNCE of ``query (N, D)`` against ``positive (N, D)``.

    ``negatives (M, D)`` are shared by every query (a MoCo queue); ``None`` uses the other rows of
    ``positive`` as negatives (in-batch, the CPC/CLIP form, ``N >= 2``). Vectors are L2-normalised
    here. Returns the mean (``"mean"``), sum or per-query (``"none"``) loss.
    """
    _check_temperature(temperature)
    if query.shape != positive.shape:
        raise ShapeError(f"info_nce: query {tuple(query.shape)} and positive {tuple(positive.shape)} differ")
    _check("info_nce", query, positive, min_batch=1 if negatives is not None else 2)
    q, k = F.normalize(query, dim=1), F.normalize(positive, dim=1)
    if negatives is None:
        logits = q @ k.T / temperature  # (N, N): the diagonal holds the positives
        target = torch.arange(q.shape[0], device=q.device)
    else:
        if negatives.ndim != 2 or negatives.shape[1] != q.shape[1]:
            raise ShapeError(f"info_nce: negatives must be (M, {q.shape[1]}), got {tuple(negatives.shape)}")
        pos = (q * k).sum(1, keepdim=True)
        logits = torch.cat([pos, q @ F.normalize(negatives, dim=1).T], 1) / temperature  # positive at 0
        target = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, target, reduction=reduction)


def nt_xent_pairs(z: Tensor, partner: Tensor, temperature: float = 0.5, reduction: str = "mean") -> Tensor:
    """NT-Xent over ``M`` views ``z (M, D)`` where ``partner[i]`` is the index of view ``i``'s positive.

    Each anchor's softmax runs over the ``M - 1`` other views (the anchor itself is excluded).
    """
    _check_temperature(temperature)
    _check("nt_xent", z)
    m = z.shape[0]
    if m < 3:
        raise ShapeError(f"nt_xent needs at least 2 images (4 views) so that each anchor has a negative, got {m} views")
    zn = F.normalize(z, dim=1)
    logits = zn @ zn.T / temperature
    logits = logits.masked_fill(torch.eye(m, dtype=torch.bool, device=z.device), float("-inf"))
    return F.cross_entropy(logits, partner.to(z.device).long(), reduction=reduction)


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5, reduction: str = "mean") -> Tensor:
    """SimCLR's loss for two views ``z1, z2 (N, D)`` of the same ``N`` images: the positive of view
    ``i`` is ``i + N`` and vice versa (the book's listings point rows at themselves, C9-27)."""
    if z1.shape != z2.shape:
        raise ShapeError(f"nt_xent: the two views differ in shape, {tuple(z1.shape)} vs {tuple(z2.shape)}")
    _check("nt_xent", z1, z2)
    n = z1.shape[0]
    idx = torch.arange(n, device=z1.device)
    return nt_xent_pairs(torch.cat([z1, z2]), torch.cat([idx + n, idx]), temperature, reduction)


def byol_loss(p: Tensor, z: Tensor, normalize: bool = True) -> Tensor:
    """BYOL's regression loss, mean over the batch: ``|p/|p| - z/|z||^2 = 2 - 2 cos(p, z)``;
    ``normalize=False``: the book's ``|p - z|^2`` (scale-dependent). ``z`` is the (detached) target."""
    if p.shape != z.shape or p.ndim != 2:
        raise ShapeError(f"byol_loss: prediction {tuple(p.shape)} and target {tuple(z.shape)} must both be (N, D)")
    if normalize:
        return (2 - 2 * F.cosine_similarity(p, z, dim=1)).mean()
    return ((p - z) ** 2).sum(1).mean()


@torch.no_grad()
def sinkhorn_knopp(scores: Tensor, epsilon: float = 0.05, iterations: int = 3) -> Tensor:
    """SwAV codes ``(B, K)`` from prototype scores ``(B, K)``: ``exp(S/eps)`` scaled alternately so that
    every prototype gets ``1/K`` of the mass and every sample ``1/B`` (equipartition); rows of the
    result sum to 1. Computed in the log domain (``logsumexp`` normalisations), so no score range
    overflows or underflows ``exp(S / eps)``."""
    if not epsilon > 0:
        raise ConfigError(f"sinkhorn epsilon must be > 0, got {epsilon}")
    log_q = (scores.detach().double() / epsilon).T  # (K, B)
    k, b = log_q.shape
    log_q = log_q - torch.logsumexp(log_q.flatten(), 0)
    for _ in range(iterations):
        log_q = log_q - torch.logsumexp(log_q, 1, keepdim=True) - math.log(k)  # each prototype: 1/K
        log_q = log_q - torch.logsumexp(log_q, 0, keepdim=True) - math.log(b)  # each sample: 1/B
    return (log_q.exp() * b).T.to(scores.dtype)


def swav_loss(scores: list[Tensor], codes: list[Tensor], code_views: list[int], temperature: float = 0.1) -> Tensor:
    """Swapped prediction: for each view ``s`` with codes ``codes[j]`` (``s = code_views[j]``), the
    cross-entropy between those codes and ``softmax(scores[t] / T)`` of every other view ``t``;
    averaged over pairs. ``scores[t] (B, K)`` are the views' prototype scores."""
    _check_temperature(temperature)
    _check("swav_loss", *scores)
    total, pairs = scores[0].new_zeros(()), 0
    for q, s in zip(codes, code_views, strict=True):
        for t, st in enumerate(scores):
            if t == s:
                continue
            total = total - (q * F.log_softmax(st / temperature, dim=1)).sum(1).mean()
            pairs += 1
    return total / max(pairs, 1)


__all__ = ["info_nce", "nt_xent", "nt_xent_pairs", "byol_loss", "sinkhorn_knopp", "swav_loss"]
