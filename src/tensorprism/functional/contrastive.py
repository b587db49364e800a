r"""Self-supervised losses of Chapter 9 written as the sums they are (reference paths, loops).

The fast, batched versions are in :mod:`tensorprism.losses.contrastive` and are tested equal to
these. Similarities are cosine similarities :math:`\mathrm{sim}(u,v)=u^\top v/\lVert u\rVert\lVert v\rVert`.

==============  ===============================================================================
InfoNCE         :math:`-\frac1N\sum_i\log\frac{e^{s(q_i,k_i^+)/\tau}}{e^{s(q_i,k_i^+)/\tau}+\sum_j e^{s(q_i,k_j^-)/\tau}}`
                (the positive *is* in the denominator; the book's L20890 leaves it out, erratum §5.3)
NT-Xent         over the 2N views :math:`\ell_{i}=-\log\frac{e^{s(z_i,z_{p(i)})/\tau}}{\sum_{k\ne i}e^{s(z_i,z_k)/\tau}}`,
                mean over all 2N anchors (L21316; the indicator excludes the anchor, not the
                positive, erratum §5.4)
BYOL            :math:`\lVert\bar p-\bar z\rVert^2=2-2\cos(p,z)` with unit vectors (erratum §5.7: the
                book's L21422 does not normalise)
Sinkhorn-Knopp  :math:`Q=\mathrm{diag}(u)\,e^{S^\top/\varepsilon}\,\mathrm{diag}(v)` with rows summing to
                :math:`1/K` and columns to :math:`1/B` (equipartition), returned per sample
SwAV            :math:`-\sum_k q_k^{(s)}\log\mathrm{softmax}(z^{(t)\top}c/\tau)_k` (cross-entropy, swapped
                views; the book's "cosine divergence" of L21144 is erratum §5.6)
==============  ===============================================================================
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _cos(u: Tensor, v: Tensor) -> float:
    return float(u @ v / (u.norm() * v.norm()))


def info_nce_loop(query: Tensor, positive: Tensor, negatives: Tensor, temperature: float) -> Tensor:
    """InfoNCE with shared negatives: ``query (N, D)``, ``positive (N, D)``, ``negatives (M, D)``."""
    total = 0.0
    for i in range(query.shape[0]):
        pos = math.exp(_cos(query[i], positive[i]) / temperature)
        neg = sum(math.exp(_cos(query[i], negatives[j]) / temperature) for j in range(negatives.shape[0]))
        total += -math.log(pos / (pos + neg))
    return torch.tensor(total / query.shape[0], dtype=torch.float64)


def nt_xent_loop(z: Tensor, partner: list[int], temperature: float) -> Tensor:
    """NT-Xent over views ``z (2N, D)`` where ``partner[i]`` is the index of view ``i``'s positive."""
    m = z.shape[0]
    total = 0.0
    for i in range(m):
        num = math.exp(_cos(z[i], z[partner[i]]) / temperature)
        den = sum(math.exp(_cos(z[i], z[k]) / temperature) for k in range(m) if k != i)
        total += -math.log(num / den)
    return torch.tensor(total / m, dtype=torch.float64)


def byol_loop(p: Tensor, z: Tensor) -> Tensor:
    """Mean over rows of ``|p/|p| - z/|z||^2``."""
    total = 0.0
    for i in range(p.shape[0]):
        diff = p[i] / p[i].norm() - z[i] / z[i].norm()
        total += float(diff @ diff)
    return torch.tensor(total / p.shape[0], dtype=torch.float64)


def sinkhorn_loop(scores: Tensor, epsilon: float, iterations: int) -> Tensor:
    """Codes ``(B, K)`` from prototype scores ``(B, K)``: alternate row (prototype) and column (sample)
    normalisation of ``exp(S / eps)``, then rows of the result per sample sum to 1."""
    q = torch.exp(scores.double() / epsilon).T.clone()  # (K, B)
    k, b = q.shape
    q /= q.sum()
    for _ in range(iterations):
        for r in range(k):
            q[r] /= q[r].sum() * k
        for c in range(b):
            q[:, c] /= q[:, c].sum() * b
    return (q * b).T


__all__ = ["info_nce_loop", "nt_xent_loop", "byol_loop", "sinkhorn_loop"]
