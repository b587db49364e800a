r"""k-means (Lloyd 1982; book §9.2.1, L20517-20575) with k-means++ seeding and a mini-batch variant.

Objective (WCSS, the book's L20520): :math:`\sum_{i=1}^k\sum_{x\in C_i}\lVert x-\mu_i\rVert^2`, reported
as ``inertia_`` as in scikit-learn. Differences from the book's listing, on purpose:

* seeding is k-means++ (Arthur & Vassilvitskii 2007, the greedy variant scikit-learn uses:
  ``2 + ln k`` candidates per centre, the one that lowers the potential most is kept); ``init="random"``
  is the book's ``k`` distinct data points;
* an **empty cluster** (the listing divides by zero) takes the point farthest from its centre;
* convergence is a tolerance on the squared centre shift relative to the data's mean variance
  (scikit-learn's rule) or unchanged labels, not exact float equality.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError
from ._base import as_tensor, check_n_clusters, generator, sq_distances, to_numpy


def kmeans_plusplus(x: torch.Tensor, k: int, gen: torch.Generator, n_local_trials: int | None = None) -> torch.Tensor:
    """Greedy k-means++ seeding: ``k`` rows of ``x (N, D)`` as centres ``(k, D)``."""
    n = x.shape[0]
    trials = n_local_trials or 2 + int(math.log(k))
    first = int(torch.randint(n, (1,), generator=gen))
    centers = [x[first]]
    closest = sq_distances(x, x[first:first + 1])[:, 0]
    pot = closest.sum()
    for _ in range(1, k):
        r = torch.rand(trials, generator=gen, dtype=x.dtype).to(x.device) * pot
        cand = torch.searchsorted(torch.cumsum(closest, 0), r).clamp_max(n - 1)
        d = torch.minimum(closest[None, :], sq_distances(x[cand], x))  # (trials, N)
        pots = d.sum(1)
        best = int(pots.argmin())
        closest, pot = d[best], pots[best]
        centers.append(x[cand[best]])
    return torch.stack(centers)


def assign(x: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre of each point: ``(labels (N,), squared distance to it (N,))``."""
    d = sq_distances(x, centers)
    dist, labels = d.min(1)
    return labels, dist


def update_centers(x: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """Means of each cluster; an empty cluster is moved onto the point farthest from its centre
    (one distinct point per empty cluster, the farthest first)."""
    k = centers.shape[0]
    sums = torch.zeros_like(centers).index_add_(0, labels, x)
    counts = torch.zeros(k, dtype=x.dtype, device=x.device).index_add_(0, labels, torch.ones_like(dist))
    new = sums / counts.clamp_min(1)[:, None]
    empty = (counts == 0).nonzero().flatten()
    if len(empty):
        far = dist.argsort(descending=True)[: len(empty)]
        new[empty] = x[far]
    return new


def lloyd(x: torch.Tensor, centers: torch.Tensor, max_iter: int, tol: float) -> tuple[torch.Tensor, torch.Tensor, float, int]:
    """Lloyd iterations from ``centers``: ``(centres, labels, inertia, iterations)``."""
    labels = None
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - it is the iteration count after the loop
        new_labels, dist = assign(x, centers)
        new = update_centers(x, new_labels, centers, dist)
        shift = ((new - centers) ** 2).sum()
        centers = new
        if labels is not None and torch.equal(labels, new_labels):
            break
        labels = new_labels
        if shift <= tol:
            break
    labels, dist = assign(x, centers)  # labels consistent with the returned centres
    return centers, labels, float(dist.sum()), it


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """k-means clustering in torch with scikit-learn's interface.

    Args:
        n_clusters: number of clusters ``k``.
        init: ``"k-means++"``, ``"random"`` (k distinct points, the book's) or an array ``(k, D)``.
        n_init: restarts, the lowest WCSS kept; ``"auto"``: 1 for k-means++ / an array, 10 for random.
        max_iter: Lloyd iterations per run. tol: stop when the summed squared centre shift is at most
            ``tol`` x the mean feature variance.
        random_state: seed (int) for reproducible seeding. device, dtype: where and in what precision.

    Attributes:
        cluster_centers_ ``(k, D)``, labels_ ``(N,)``, inertia_ (WCSS), n_iter_, n_features_in_.
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 random_state=None, device=None, dtype="float64"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.dtype = dtype

    def _runs(self) -> int:
        if self.n_init == "auto":
            return 10 if isinstance(self.init, str) and self.init == "random" else 1
        if isinstance(self.n_init, bool) or not isinstance(self.n_init, (int, np.integer)) or self.n_init < 1:
            raise ConfigError(f"KMeans: n_init must be 'auto' or an integer >= 1, got {self.n_init!r}")
        return int(self.n_init)

    def _initial(self, x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
        if isinstance(self.init, str):
            if self.init == "k-means++":
                return kmeans_plusplus(x, k, gen)
            if self.init == "random":
                return x[torch.randperm(x.shape[0], generator=gen)[:k].to(x.device)].clone()
            raise ConfigError(f"KMeans: init must be 'k-means++', 'random' or an array, got {self.init!r}")
        c = as_tensor(self.init, estimator="KMeans init", device=x.device, dtype=x.dtype)
        if c.shape != (k, x.shape[1]):
            raise ConfigError(f"KMeans: init array has shape {tuple(c.shape)}, expected {(k, x.shape[1])}")
        return c.clone()

    def fit(self, X, y=None):
        del y
        x = as_tensor(X, estimator="KMeans", device=self.device, dtype=self.dtype)
        k = check_n_clusters(self.n_clusters, x.shape[0], name="n_clusters", estimator="KMeans")
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1:
            raise ConfigError(f"KMeans: max_iter must be an integer >= 1, got {self.max_iter!r}")
        gen = generator(self.random_state)
        tol = float(self.tol) * float(x.var(0, unbiased=False).mean())
        best = None
        for _ in range(self._runs() if isinstance(self.init, str) else 1):
            result = lloyd(x, self._initial(x, k, gen), int(self.max_iter), tol)
            if best is None or result[2] < best[2]:
                best = result
        centers, labels, inertia, it = best
        self.cluster_centers_ = to_numpy(centers)
        self.labels_ = to_numpy(labels)
        self.inertia_ = inertia
        self.n_iter_ = it
        self.n_features_in_ = x.shape[1]
        self._centers = centers
        return self

    def _check(self, X) -> torch.Tensor:
        check_is_fitted(self, "cluster_centers_")
        x = as_tensor(X, estimator=type(self).__name__, device=self._centers.device, dtype=self._centers.dtype)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {x.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input")
        return x

    def predict(self, X):
        """Index of the nearest centre for each row of ``X``, ``(N,)``."""
        return to_numpy(assign(self._check(X), self._centers)[0])

    def transform(self, X):
        """Euclidean distance of each row to each centre, ``(N, k)``."""
        return to_numpy(sq_distances(self._check(X), self._centers).sqrt())

    def score(self, X, y=None):
        """Minus the WCSS of ``X`` against the fitted centres (higher is better, as in sklearn)."""
        del y
        return -float(assign(self._check(X), self._centers)[1].sum())


class MiniBatchKMeans(KMeans):
    """Mini-batch k-means (Sculley 2010): each step assigns a random batch and moves every centre
    towards its batch points with a per-centre rate ``1 / (points seen so far)``.

    Args (besides KMeans'): batch_size; max_iter: passes over the data (epochs); init_size: points
    the k-means++ seeding sees (default ``3 * batch_size``).
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=100, tol=0.0, batch_size=1024,
                 init_size=None, random_state=None, device=None, dtype="float64"):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         random_state=random_state, device=device, dtype=dtype)
        self.batch_size = batch_size
        self.init_size = init_size

    def _step(self, xb: torch.Tensor) -> None:
        labels, _ = assign(xb, self._centers)
        k = self._centers.shape[0]
        sums = torch.zeros_like(self._centers).index_add_(0, labels, xb)
        counts = torch.zeros(k, dtype=xb.dtype, device=xb.device).index_add_(0, labels, torch.ones_like(labels, dtype=xb.dtype))
        self._counts += counts
        hit = counts > 0
        # c <- c + (sum_b - n_b c) / n_total: the running mean of every point the centre has taken
        self._centers[hit] += (sums[hit] - counts[hit, None] * self._centers[hit]) / self._counts[hit, None]

    def _start(self, x: torch.Tensor, gen: torch.Generator) -> None:
        k = check_n_clusters(self.n_clusters, x.shape[0], name="n_clusters", estimator=type(self).__name__)
        size = min(x.shape[0], self.init_size or max(3 * self.batch_size, k))
        sample = x[torch.randperm(x.shape[0], generator=gen)[:size].to(x.device)]
        self._centers = self._initial(sample, k, gen)
        self._counts = torch.zeros(k, dtype=x.dtype, device=x.device)
        self._gen = gen

    def fit(self, X, y=None):
        del y
        x = as_tensor(X, estimator="MiniBatchKMeans", device=self.device, dtype=self.dtype)
        self._start(x, generator(self.random_state))
        n, b = x.shape[0], min(int(self.batch_size), x.shape[0])
        self.n_steps_ = 0
        for _ in range(int(self.max_iter)):
            order = torch.randperm(n, generator=self._gen).to(x.device)
            for start in range(0, n - b + 1, b):
                self._step(x[order[start:start + b]])
                self.n_steps_ += 1
        self._finish(x)
        self.n_iter_ = int(self.max_iter)
        return self

    def partial_fit(self, X, y=None):
        """One update from the batch ``X`` (seeding from it on the first call)."""
        del y
        x = as_tensor(X, estimator="MiniBatchKMeans", device=self.device, dtype=self.dtype)
        if not hasattr(self, "_centers"):
            self._start(x, generator(self.random_state))
            self.n_steps_ = 0
        elif x.shape[1] != self._centers.shape[1]:
            raise ValueError(f"X has {x.shape[1]} features, but MiniBatchKMeans is expecting "
                             f"{self._centers.shape[1]} features as input")
        self._step(x)
        self.n_steps_ += 1
        self._finish(x)
        return self

    def _finish(self, x: torch.Tensor) -> None:
        labels, dist = assign(x, self._centers)
        self.cluster_centers_ = to_numpy(self._centers)
        self.labels_ = to_numpy(labels)
        self.inertia_ = float(dist.sum())
        self.n_features_in_ = x.shape[1]


__all__ = ["KMeans", "MiniBatchKMeans", "kmeans_plusplus", "assign", "update_centers", "lloyd"]
