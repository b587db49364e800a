r"""Spectral clustering and DBSCAN, the two methods the book asks for in its exercises (Ex. 9.17, 9.18).

**Spectral clustering** (von Luxburg 2007): RBF similarity :math:`S_{ij}=\exp(-\gamma\lVert z_i-z_j\rVert^2)`
(the book's :math:`\sigma` is :math:`\gamma=1/2\sigma^2`), degree matrix :math:`D`, then either the
book's unnormalised Laplacian :math:`L=D-S` or the symmetric normalised
:math:`L_{sym}=I-D^{-1/2}SD^{-1/2}` (Ng, Jordan & Weiss 2002; rows of the eigenvector matrix
normalised to unit length). The eigenvectors of the ``k`` smallest eigenvalues embed the points;
k-means clusters the embedding.

**DBSCAN** (Ester et al. 1996): a point with at least ``min_samples`` points (itself included)
within ``eps`` is a *core* point; core points within ``eps`` of each other share a cluster; a
non-core point within ``eps`` of a core point is a *border* point of that cluster (of the first
such cluster, numbered by their lowest core point, which is scikit-learn's order); the rest is
noise, label ``-1``. Clusters are the connected components of the core graph, found by min-label
propagation on the device.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin

from ..errors import ConfigError
from ._base import as_tensor, check_n_clusters, generator, sq_distances, to_numpy
from .kmeans import KMeans


def rbf_affinity(x: torch.Tensor, gamma: float) -> torch.Tensor:
    """``exp(-gamma |x_i - x_j|^2)``, ``(N, N)``."""
    return torch.exp(-gamma * sq_distances(x, x))


def spectral_embedding(affinity: torch.Tensor, k: int, laplacian: str = "normalized") -> torch.Tensor:
    """Eigenvectors of the ``k`` smallest eigenvalues of the graph Laplacian, ``(N, k)``."""
    deg = affinity.sum(1)
    if laplacian == "unnormalized":
        lap = torch.diag(deg) - affinity
        _, vecs = torch.linalg.eigh(lap)
        return vecs[:, :k]
    if laplacian != "normalized":
        raise ConfigError(f"laplacian must be 'normalized' or 'unnormalized', got {laplacian!r}")
    inv_sqrt = deg.clamp_min(torch.finfo(deg.dtype).tiny).rsqrt()
    lap = torch.eye(len(deg), dtype=affinity.dtype, device=affinity.device) - inv_sqrt[:, None] * affinity * inv_sqrt[None]
    _, vecs = torch.linalg.eigh(lap)
    emb = vecs[:, :k]
    return emb / emb.norm(dim=1, keepdim=True).clamp_min(1e-12)


class SpectralClustering(ClusterMixin, BaseEstimator):
    """Spectral clustering with scikit-learn's interface.

    Args:
        n_clusters: clusters. affinity: ``"rbf"`` or ``"precomputed"`` (``X`` is the ``(N, N)``
            similarity). gamma: RBF coefficient (the book's sigma=1 is ``gamma=0.5``).
        laplacian: ``"normalized"`` (default) or ``"unnormalized"`` (the book's ``L = D - S``).
        n_init: k-means restarts on the embedding. random_state, device, dtype: as for KMeans.

    Attributes:
        labels_, affinity_matrix_, embedding_ ``(N, k)``, n_features_in_.
    """

    def __init__(self, n_clusters=8, *, affinity="rbf", gamma=1.0, laplacian="normalized", n_init=10,
                 random_state=None, device=None, dtype="float64"):
        self.n_clusters = n_clusters
        self.affinity = affinity
        self.gamma = gamma
        self.laplacian = laplacian
        self.n_init = n_init
        self.random_state = random_state
        self.device = device
        self.dtype = dtype

    def fit(self, X, y=None):
        del y
        x = as_tensor(X, estimator="SpectralClustering", device=self.device, dtype=self.dtype, min_samples=2)
        k = check_n_clusters(self.n_clusters, x.shape[0], name="n_clusters", estimator="SpectralClustering")
        if self.affinity == "rbf":
            s = rbf_affinity(x, float(self.gamma))
        elif self.affinity == "precomputed":
            if x.shape[0] != x.shape[1]:
                raise ConfigError(f"SpectralClustering(affinity='precomputed') needs a square (N, N) matrix, got {tuple(x.shape)}")
            s = x
        else:
            raise ConfigError(f"SpectralClustering: affinity must be 'rbf' or 'precomputed', got {self.affinity!r}")
        emb = spectral_embedding(s, k, self.laplacian)
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator(self.random_state)))
        km = KMeans(k, n_init=self.n_init, random_state=seed, device=emb.device, dtype=emb.dtype).fit(emb)
        self.labels_ = km.labels_
        self.affinity_matrix_, self.embedding_ = to_numpy(s), to_numpy(emb)
        self.n_features_in_ = x.shape[1]
        return self


def dbscan_labels(x: torch.Tensor, eps: float, min_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(labels (N,) with -1 for noise, core mask (N,))`` of DBSCAN on points ``x (N, D)``."""
    n = x.shape[0]
    near = sq_distances(x, x) <= eps * eps  # (N, N), includes i itself
    core = near.sum(1) >= min_samples
    idx = torch.arange(n, device=x.device)
    big = torch.full((n,), n, device=x.device, dtype=torch.long)
    comp = torch.where(core, idx, big)
    core_adj = near & core[None, :] & core[:, None]
    while True:  # min-label propagation: each core point takes the smallest id among its core neighbours
        cand = torch.where(core_adj, comp[None, :], big[None, :]).min(1).values
        new = torch.where(core, torch.minimum(comp, cand), big)
        if torch.equal(new, comp):
            break
        comp = new
    # number clusters by their lowest core point (the order in which a sequential scan finds them)
    roots = torch.unique(comp[core])  # sorted; each root is its component's lowest index
    cluster_of_root = torch.full((n + 1,), -1, device=x.device, dtype=torch.long)
    cluster_of_root[roots] = torch.arange(len(roots), device=x.device)
    labels = torch.where(core, cluster_of_root[comp.clamp_max(n)], torch.full_like(comp, -1))
    # border points: the lowest-numbered cluster among their core neighbours
    core_cluster = torch.where(core, labels, torch.full_like(labels, n))
    reach = torch.where(near & core[None, :], core_cluster[None, :], torch.full_like(near, n, dtype=torch.long)).min(1).values
    labels = torch.where(~core & (reach < n), reach, labels)
    return labels, core


class DBSCAN(ClusterMixin, BaseEstimator):
    """DBSCAN with scikit-learn's interface (Euclidean metric).

    Args:
        eps: neighbourhood radius. min_samples: points (itself included) within ``eps`` that make a
            core point. device, dtype: where the ``(N, N)`` neighbourhood matrix is built.

    Attributes:
        labels_ (``-1`` = noise), core_sample_indices_, components_ (the core points), n_features_in_.
    """

    def __init__(self, eps=0.5, *, min_samples=5, device=None, dtype="float64"):
        self.eps = eps
        self.min_samples = min_samples
        self.device = device
        self.dtype = dtype

    def fit(self, X, y=None):
        del y
        if not float(self.eps) > 0:
            raise ConfigError(f"DBSCAN: eps must be > 0, got {self.eps!r}")
        if isinstance(self.min_samples, bool) or not isinstance(self.min_samples, (int, np.integer)) or self.min_samples < 1:
            raise ConfigError(f"DBSCAN: min_samples must be an integer >= 1, got {self.min_samples!r}")
        x = as_tensor(X, estimator="DBSCAN", device=self.device, dtype=self.dtype)
        labels, core = dbscan_labels(x, float(self.eps), int(self.min_samples))
        self.labels_ = to_numpy(labels)
        self.core_sample_indices_ = to_numpy(core.nonzero().flatten())
        self.components_ = to_numpy(x[core])
        self.n_features_in_ = x.shape[1]
        return self


__all__ = ["DBSCAN", "SpectralClustering", "dbscan_labels", "rbf_affinity", "spectral_embedding"]
