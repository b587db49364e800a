"""Graph regularisers (book §8.5.2): DropEdge, feature dropout, PairNorm.

* Feature dropout (book eq. 18841) is inverted dropout on node features: ``torch.nn.Dropout``.
* :func:`drop_edge` (Rong et al. 2020) fixes the book's ``F.dropout(adj, p)`` (erratum E17): it
  drops whole edges, both directions of an undirected edge together, never rescales the kept
  weights, and keeps self-loops; the GCN normalisation is then recomputed on the thinned graph.
* :class:`PairNorm` (Zhao & Akoglu 2020) against over-smoothing.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...functional.graph import scatter


def drop_edge(edge_index: Tensor, p: float = 0.5, edge_weight: Tensor | None = None,
              undirected: bool = True, training: bool = True, generator=None):
    """Remove each edge with probability ``p``; returns ``(edge_index, edge_weight)``.

    With ``undirected=True`` the pair ``i→j``/``j→i`` is kept or dropped together (the graph stays
    symmetric). Self-loops are always kept.
    """
    if not training or p == 0.0:
        return edge_index, edge_weight
    src, dst = edge_index
    lo, hi = torch.minimum(src, dst), torch.maximum(src, dst)
    if undirected:
        n = int(edge_index.max()) + 1
        pair, inv = torch.unique(lo * n + hi, return_inverse=True)
        keep = (torch.rand(pair.numel(), generator=generator, device=edge_index.device) >= p)[inv]
    else:
        keep = torch.rand(src.numel(), generator=generator, device=edge_index.device) >= p
    keep = keep | (src == dst)
    return edge_index[:, keep], (None if edge_weight is None else edge_weight[keep])


class DropEdge(nn.Module):
    """Module form of :func:`drop_edge` (active only in training mode)."""

    def __init__(self, p: float = 0.5, undirected: bool = True):
        super().__init__()
        self.p, self.undirected = p, undirected

    def forward(self, edge_index: Tensor, edge_weight: Tensor | None = None):
        return drop_edge(edge_index, self.p, edge_weight, self.undirected, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, undirected={self.undirected}"


class PairNorm(nn.Module):
    """PairNorm: ``x̃ = x − mean_g(x)``, ``x' = s · x̃ / sqrt(mean_g ‖x̃_i‖²)`` per graph ``g``.

    Keeps the total pairwise squared distance constant, so stacked layers cannot collapse all
    node vectors onto one point. ``scale_individually`` is the PN-SI variant (each row to norm s).
    """

    def __init__(self, scale: float = 1.0, scale_individually: bool = False, eps: float = 1e-5):
        super().__init__()
        self.scale, self.scale_individually, self.eps = scale, scale_individually, eps

    def forward(self, x: Tensor, batch: Tensor | None = None) -> Tensor:
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        b = int(batch.max()) + 1
        xc = x - scatter(x, batch, b, "mean").index_select(0, batch)
        if self.scale_individually:
            return self.scale * xc / (self.eps + xc.norm(dim=-1, keepdim=True))
        msq = scatter(xc.pow(2).sum(-1, keepdim=True), batch, b, "mean").index_select(0, batch)
        return self.scale * xc / (self.eps + msq).sqrt()

    def extra_repr(self) -> str:
        return f"scale={self.scale}, scale_individually={self.scale_individually}"
