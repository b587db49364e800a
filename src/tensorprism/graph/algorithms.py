"""Classic graph algorithms used by the book's applications (§8.6.1): PageRank influence and
community detection.

PageRank (book eq. at line 19176, damping ``α`` left open there; 0.85 as networkx/Brin & Page):

.. math:: PR = \\alpha\\, P^\\top PR + \\frac{1-\\alpha}{N}\\mathbf 1, \\qquad
          P_{ji} = w_{ji} / d^{out}_j

with the out-degree of the *source* (erratum E8) and dangling nodes spreading their mass uniformly.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..functional.graph import scatter
from ..tensor.graph import degree, laplacian_dense, num_nodes_of, to_dense_adj


def pagerank(edge_index: Tensor, num_nodes: int | None = None, edge_weight: Tensor | None = None,
             alpha: float = 0.85, tol: float = 1e-10, max_iter: int = 1000) -> Tensor:
    """Power iteration on the sparse graph; returns ``(N,)`` scores summing to 1."""
    n = num_nodes_of(edge_index, num_nodes)
    w = torch.ones(edge_index.size(1), dtype=torch.float64) if edge_weight is None else edge_weight.double()
    out_deg = degree(edge_index[0], n, w)
    p = w / out_deg[edge_index[0]]
    dangling = out_deg == 0
    pr = torch.full((n,), 1.0 / n, dtype=torch.float64)
    for _ in range(max_iter):
        spread = scatter(pr[edge_index[0]] * p, edge_index[1], n, "sum")
        new = alpha * (spread + pr[dangling].sum() / n) + (1 - alpha) / n
        if (new - pr).abs().sum() < n * tol:
            return new.float()
        pr = new
    return pr.float()


def modularity(edge_index: Tensor, communities: Tensor, num_nodes: int | None = None) -> float:
    """Newman modularity ``Q = (1/2m) Σ_ij (A_ij − k_i k_j / 2m) δ(c_i, c_j)`` of a labelling."""
    n = num_nodes_of(edge_index, num_nodes)
    a = to_dense_adj(edge_index, n).double()
    k = a.sum(1)
    two_m = k.sum()
    same = communities.view(-1, 1) == communities.view(1, -1)
    return float(((a - torch.outer(k, k) / two_m) * same).sum() / two_m)


def spectral_communities(edge_index: Tensor, k: int, num_nodes: int | None = None,
                         seed: int = 0) -> Tensor:
    """Spectral clustering (book §8.2.3, line 18029): k-means on the first ``k`` eigenvectors of
    ``L_sym``, rows normalised (Ng, Jordan & Weiss 2001). Returns labels ``(N,)``."""
    from sklearn.cluster import KMeans

    n = num_nodes_of(edge_index, num_nodes)
    _, vec = torch.linalg.eigh(laplacian_dense(to_dense_adj(edge_index, n).double(), "sym"))
    emb = vec[:, :k]
    emb = emb / emb.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return torch.from_numpy(KMeans(k, n_init=10, random_state=seed).fit_predict(emb.numpy())).long()


def label_propagation(edge_index: Tensor, labels: Tensor, mask: Tensor, num_nodes: int | None = None,
                      alpha: float = 0.9, iterations: int = 50) -> Tensor:
    """Label propagation (Zhou et al. 2004), the semi-supervised baseline the book mentions
    (line 18761): ``F ← α Â F + (1 − α) Y`` with ``Â = D^{-1/2} A D^{-1/2}``; returns class ids."""
    from ..tensor.graph import gcn_norm

    n = num_nodes_of(edge_index, num_nodes)
    ei, w = gcn_norm(edge_index, None, n, "sym", self_loops=False)
    y0 = torch.zeros(n, int(labels.max()) + 1)
    y0[mask] = torch.nn.functional.one_hot(labels[mask], y0.size(1)).float()
    f = y0.clone()
    for _ in range(iterations):
        f = alpha * scatter(f[ei[0]] * w[:, None], ei[1], n, "sum") + (1 - alpha) * y0
    return f.argmax(1)
