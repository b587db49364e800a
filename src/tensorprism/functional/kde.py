r"""Kernel density estimation (book I10.11, L23596–23602) with the bandwidth chosen by
cross-validated log-likelihood.

:math:`\hat p(x)=\frac1{Nh^d}\sum_i K\!\left(\frac{x-x_i}h\right)` with the Gaussian kernel
:math:`K(u)=(2\pi)^{-d/2}e^{-\lVert u\rVert^2/2}`, computed in log space with ``logsumexp`` (no
underflow far from the data). The book leaves kernel and bandwidth open; here the bandwidth
maximises the mean held-out log-density over ``folds`` folds, as scikit-learn's
``GridSearchCV(KernelDensity(), {"bandwidth": ...})`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import ShapeError


def kde_log_density(x: Tensor, data: Tensor, bandwidth: float) -> Tensor:
    r""":math:`\log\hat p(x)` ``(M,)`` of points ``x (M, d)`` under the Gaussian KDE of ``data (N, d)``."""
    if x.dim() != 2 or data.dim() != 2 or x.shape[1] != data.shape[1]:
        raise ShapeError(f"KDE needs points (M, d) and data (N, d), got {tuple(x.shape)} and {tuple(data.shape)}")
    if bandwidth <= 0:
        raise ShapeError(f"the bandwidth must be > 0, got {bandwidth}")
    n, d = data.shape
    sq = torch.cdist(x.double(), data.double()).pow(2)
    return (torch.logsumexp(-sq / (2 * bandwidth ** 2), dim=1) - math.log(n) - d * math.log(bandwidth)
            - 0.5 * d * math.log(2 * math.pi)).to(x.dtype)


def kde_bandwidth_cv(data: Tensor, bandwidths: Sequence[float], folds: int = 5) -> tuple[float, list[float]]:
    """The bandwidth with the highest mean held-out log-density over ``folds`` contiguous folds
    (scikit-learn's default ``KFold`` without shuffling); returns ``(best, mean score per bandwidth)``
    where a fold's score is the **sum** of its held-out log-densities (``KernelDensity.score``)."""
    n = data.shape[0]
    if folds < 2 or folds > n:
        raise ShapeError(f"folds must lie in [2, {n}], got {folds}")
    sizes = [n // folds + (1 if i < n % folds else 0) for i in range(folds)]
    bounds = [sum(sizes[:i]) for i in range(folds + 1)]
    scores = []
    for h in bandwidths:
        fold_scores = []
        for i in range(folds):
            test = data[bounds[i]:bounds[i + 1]]
            train = torch.cat([data[:bounds[i]], data[bounds[i + 1]:]])
            fold_scores.append(float(kde_log_density(test, train, h).sum()))
        scores.append(sum(fold_scores) / folds)
    best = max(range(len(scores)), key=scores.__getitem__)
    return float(bandwidths[best]), scores


__all__ = ["kde_log_density", "kde_bandwidth_cv"]
