"""Graph sparsification (book Ch. 8, D8, l.18915): remove the less important edges.

The book names two routes without giving an algorithm: thresholding edge weights and "graph
pruning algorithms". Three are implemented:

* :func:`threshold_edges` -- keep the edges whose weight magnitude reaches a threshold;
* :func:`top_k_edges` -- keep the ``k`` heaviest incoming edges of every node (a k-NN style
  pruning that never isolates a node that had an in-edge);
* :func:`spectral_sparsify` -- Spielman & Srivastava (2011): sample ``q`` edges of an undirected
  graph with probability proportional to :math:`w_e R_e` (weight times effective resistance) and
  reweight each kept edge by :math:`w_e/(q\\,p_e)` per draw. The sampled Laplacian :math:`\\tilde L`
  is an unbiased estimate of :math:`L` and, with :math:`q = O(n\\log n/\\varepsilon^2)` draws,
  :math:`(1-\\varepsilon)x^\\top Lx\\le x^\\top\\tilde Lx\\le(1+\\varepsilon)x^\\top Lx` for all
  :math:`x` with high probability. Effective resistances come from the dense pseudo-inverse of
  :math:`L` (:math:`O(n^3)`), so this is for graphs of up to a few thousand nodes.

Edges are ``edge_index (2, E)`` with weights ``(E,)`` (ones when ``None``); undirected graphs store
both directions, and :func:`spectral_sparsify` keeps the pairs together.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError
from ..tensor.graph import check_edge_index, coalesce, laplacian_dense, num_nodes_of, to_dense_adj

__all__ = ["effective_resistance", "spectral_sparsify", "threshold_edges", "top_k_edges"]


def _weights(edge_index: Tensor, edge_weight: Tensor | None) -> Tensor:
    check_edge_index(edge_index)
    if edge_weight is None:
        return torch.ones(edge_index.shape[1])
    if edge_weight.shape != (edge_index.shape[1],):
        raise ShapeError(f"edge_weight must be (E,) = ({edge_index.shape[1]},), got {tuple(edge_weight.shape)}")
    return edge_weight


def threshold_edges(edge_index: Tensor, edge_weight: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """Keep the edges with ``|w| >= threshold``: ``(edge_index (2, E'), edge_weight (E',))``."""
    w = _weights(edge_index, edge_weight)
    keep = w.abs() >= threshold
    return edge_index[:, keep], w[keep]


def top_k_edges(edge_index: Tensor, edge_weight: Tensor, k: int,
                num_nodes: int | None = None) -> tuple[Tensor, Tensor]:
    """Keep, for every target node, its ``k`` incoming edges of largest ``|w|`` (ties: lower index first)."""
    if k < 1:
        raise ConfigError(f"top_k_edges needs k >= 1, got {k}")
    w = _weights(edge_index, edge_weight)
    n = num_nodes_of(edge_index, num_nodes)
    # sort by (target, -|w|), then rank within each target's run
    order = torch.argsort(-w.abs(), stable=True)
    order = order[torch.argsort(edge_index[1, order], stable=True)]
    tgt = edge_index[1, order]
    start = torch.zeros(n + 1, dtype=torch.long)
    start[1:] = torch.bincount(tgt, minlength=n).cumsum(0)
    rank = torch.arange(len(order)) - start[tgt]
    keep = torch.sort(order[rank < k]).values
    return edge_index[:, keep], w[keep]


def effective_resistance(edge_index: Tensor, edge_weight: Tensor | None = None,
                         num_nodes: int | None = None) -> Tensor:
    """:math:`R_{uv}=(e_u-e_v)^\\top L^+(e_u-e_v)` for every edge, ``(E,)`` (dense pseudo-inverse)."""
    w = _weights(edge_index, edge_weight).double()
    n = num_nodes_of(edge_index, num_nodes)
    adj = to_dense_adj(edge_index, n, w)
    if not torch.allclose(adj, adj.T):
        raise ConfigError("effective resistances need an undirected graph: store both directions with equal weights "
                          "(tensor.graph.to_undirected)")
    lp = torch.linalg.pinv(laplacian_dense(adj), hermitian=True)
    u, v = edge_index
    return (lp[u, u] + lp[v, v] - 2 * lp[u, v]).clamp_min(0)


def spectral_sparsify(edge_index: Tensor, edge_weight: Tensor | None, num_samples: int,
                      num_nodes: int | None = None, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Spielman-Srivastava sampling of an undirected graph; returns both directions of the kept edges.

    Each of ``num_samples`` draws picks an undirected edge ``e`` with probability
    :math:`p_e\\propto w_eR_e` and adds :math:`w_e/(q\\,p_e)` to its new weight.
    """
    if num_samples < 1:
        raise ConfigError(f"spectral_sparsify needs num_samples >= 1, got {num_samples}")
    w = _weights(edge_index, edge_weight).double()
    n = num_nodes_of(edge_index, num_nodes)
    r = effective_resistance(edge_index, w, n)
    once = edge_index[0] < edge_index[1]  # one direction of each undirected edge (self-loops dropped)
    ei, we, re = edge_index[:, once], w[once], r[once]
    p = we * re
    if float(p.sum()) <= 0:
        raise ConfigError("spectral_sparsify: the graph has no edge with positive weight between distinct nodes")
    p = p / p.sum()
    draws = torch.multinomial(p, num_samples, replacement=True, generator=generator)
    new_w = torch.zeros_like(we).index_add_(0, draws, (we / (num_samples * p))[draws])
    kept = new_w > 0
    ei, new_w = ei[:, kept], new_w[kept]
    both = torch.cat([ei, ei.flip(0)], dim=1)
    out_index, out_w = coalesce(both, torch.cat([new_w, new_w]), n)
    return out_index, out_w.to(edge_weight.dtype if edge_weight is not None else torch.float32)
