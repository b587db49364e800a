r"""Agglomerative (bottom-up) hierarchical clustering (book §9.2.1, L20632-20665).

Start with every point its own cluster and merge the two closest clusters until one is left. The
distance between a merged cluster :math:`i\cup j` and another cluster :math:`k` follows the
Lance-Williams recurrence, so one :math:`N\times N` distance matrix is updated in place:

=========  ==================================================================================
single     :math:`\min(d_{ki}, d_{kj})`
complete   :math:`\max(d_{ki}, d_{kj})`
average    :math:`(n_i d_{ki} + n_j d_{kj})/(n_i+n_j)` (UPGMA)
ward       :math:`\sqrt{((n_i+n_k)d_{ki}^2+(n_j+n_k)d_{kj}^2-n_k d_{ij}^2)/(n_i+n_j+n_k)}`
=========  ==================================================================================

The book lists single/complete/average and its code uses Ward (erratum §5.9): all four are here.
The result is a SciPy-format linkage matrix ``Z (N-1, 4)``: row ``t`` merges clusters ``Z[t,0] <
Z[t,1]`` (ids ``< N`` are points, ``N + s`` the cluster formed at row ``s``) at height ``Z[t,2]``
into a cluster of ``Z[t,3]`` points -- equal to ``scipy.cluster.hierarchy.linkage`` (tested), so
SciPy's ``dendrogram``/``fcluster`` and :func:`tensorprism.viz.dendrogram` read it.

Each merge is one arg-min over the matrix: :math:`O(N^3)` time, :math:`O(N^2)` memory, fine up to
a few thousand points (vectorised on the device); SciPy's nearest-neighbour chain is
:math:`O(N^2)` on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin

from ..errors import ConfigError
from ._base import as_tensor, check_n_clusters, sq_distances, to_numpy

LINKAGES = ("single", "complete", "average", "ward")


def linkage(x: torch.Tensor, method: str = "ward") -> torch.Tensor:
    """SciPy-format linkage matrix ``(N-1, 4)`` (float64, on the CPU) of points ``x (N, D)``."""
    if method not in LINKAGES:
        raise ConfigError(f"linkage must be one of {LINKAGES}, got {method!r}")
    n = x.shape[0]
    d = sq_distances(x, x).sqrt()
    inf = torch.tensor(float("inf"), dtype=d.dtype, device=d.device)
    d.fill_diagonal_(inf)
    size = torch.ones(n, dtype=d.dtype, device=d.device)
    ident = list(range(n))  # SciPy id of the cluster living in each slot
    rows = []
    for step in range(n - 1):
        flat = int(torch.argmin(d))
        i, j = divmod(flat, n)
        if i > j:
            i, j = j, i
        h = d[i, j].clone()
        ni, nj = size[i], size[j]
        di, dj = d[i], d[j]
        if method == "single":
            new = torch.minimum(di, dj)
        elif method == "complete":
            new = torch.maximum(di, dj)
        elif method == "average":
            new = (ni * di + nj * dj) / (ni + nj)
        else:
            nk = size
            new = (((ni + nk) * di**2 + (nj + nk) * dj**2 - nk * h**2) / (ni + nj + nk)).clamp_min(0).sqrt()
        a, b = sorted((ident[i], ident[j]))
        rows.append([a, b, float(h), float(ni + nj)])
        # slot i holds the merged cluster, slot j is retired
        new[i] = inf
        new[j] = inf
        d[i], d[:, i] = new, new
        d[j], d[:, j] = inf, inf
        size[i] = ni + nj
        ident[i] = n + step
    return torch.tensor(rows, dtype=torch.float64).reshape(n - 1, 4)


def cut_tree(z: np.ndarray | torch.Tensor, n_clusters: int) -> np.ndarray:
    """Flat labels ``(N,)`` in ``0..n_clusters-1`` from applying the first ``N - n_clusters`` merges of
    linkage ``z`` (labels numbered by each cluster's first point)."""
    z = np.asarray(z)
    n = z.shape[0] + 1
    parent = np.arange(2 * n - 1)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for t in range(n - n_clusters):
        a, b = int(z[t, 0]), int(z[t, 1])
        parent[find(a)] = n + t
        parent[find(b)] = n + t
    roots = np.array([find(i) for i in range(n)])
    _, first = np.unique(roots, return_index=True)
    order = {roots[i]: r for r, i in enumerate(sorted(first))}
    return np.array([order[r] for r in roots])


class AgglomerativeClustering(ClusterMixin, BaseEstimator):
    """Hierarchical clustering cut to ``n_clusters``, with scikit-learn's interface.

    Args:
        n_clusters: clusters after the cut. linkage: ``"ward"``, ``"single"``, ``"complete"``,
            ``"average"`` (Euclidean distances). device, dtype: where the merges are computed.

    Attributes:
        labels_ ``(N,)``, linkage_matrix_ (SciPy format ``(N-1, 4)``), distances_ (merge heights),
        children_ ``(N-1, 2)`` (scikit-learn's name), n_leaves_, n_features_in_.
    """

    def __init__(self, n_clusters=2, *, linkage="ward", device=None, dtype="float64"):
        self.n_clusters = n_clusters
        self.linkage = linkage
        self.device = device
        self.dtype = dtype

    def fit(self, X, y=None):
        del y
        x = as_tensor(X, estimator="AgglomerativeClustering", device=self.device, dtype=self.dtype, min_samples=2)
        k = check_n_clusters(self.n_clusters, x.shape[0], name="n_clusters", estimator="AgglomerativeClustering")
        z = to_numpy(linkage(x, self.linkage))
        self.linkage_matrix_ = z
        self.children_ = z[:, :2].astype(np.int64)
        self.distances_ = z[:, 2].copy()
        self.labels_ = cut_tree(z, k)
        self.n_leaves_, self.n_features_in_, self.n_clusters_ = x.shape[0], x.shape[1], k
        return self


__all__ = ["AgglomerativeClustering", "LINKAGES", "cut_tree", "linkage"]
