"""Sampling on graphs: GraphSAGE neighbourhoods, mini-batch subgraphs, negative edges, edge splits.

* :func:`sample_neighbors` draws, for every target node, at most ``k`` of its incoming edges
  uniformly without replacement (Hamilton et al. 2017; the book's code takes the *first* five,
  erratum E6).
* :class:`NeighborSampler` turns a set of seed nodes into the subgraph their ``L``-hop sampled
  neighbourhoods span (fan-outs ``[k_1, ..., k_L]``), seeds first, so any node model trains on
  mini-batches of a graph too large for a full-batch step.
* :func:`negative_sampling` draws node pairs that are not edges, for link prediction.
"""

from __future__ import annotations

from collections import namedtuple

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..data.graph import Graph
from ..tensor.graph import coalesce, num_nodes_of, to_csr

NodeBatch = namedtuple("NodeBatch", ["graph", "mask"])
NodeBatch.__doc__ = "A graph plus the boolean mask of the nodes whose loss/metrics count."


def _segment_sample(rowptr: Tensor, nodes: Tensor, k: int, generator=None) -> Tensor:
    """Edge positions (into CSR order) of ≤ ``k`` random incoming edges of each node in ``nodes``."""
    start, deg = rowptr[nodes], rowptr[nodes + 1] - rowptr[nodes]
    seg = torch.repeat_interleave(torch.arange(nodes.numel()), deg)
    offs = torch.arange(seg.numel()) - (torch.cumsum(deg, 0) - deg)[seg]
    pos = start[seg] + offs
    if k < 0:
        return pos
    key = torch.rand(seg.numel(), generator=generator)
    order = torch.argsort(seg.double() * 2 + key.double())  # by segment, random inside
    rank = torch.arange(seg.numel()) - (torch.cumsum(deg, 0) - deg)[seg[order]]
    return pos[order[rank < k]]


def sample_neighbors(edge_index: Tensor, num_nodes: int | None, k: int, nodes: Tensor | None = None,
                     generator=None) -> Tensor:
    """The sub-edge-set with at most ``k`` random incoming edges per node (``k=-1``: all)."""
    n = num_nodes_of(edge_index, num_nodes)
    rowptr, col, _ = to_csr(edge_index, None, n)
    nodes = torch.arange(n) if nodes is None else nodes
    pos = _segment_sample(rowptr, nodes, k, generator)
    tgt = torch.repeat_interleave(torch.arange(n), rowptr[1:] - rowptr[:-1])
    return torch.stack([col[pos], tgt[pos]])


def subgraph(graph: Graph, nodes: Tensor, edge_index: Tensor | None = None) -> Graph:
    """The subgraph on ``nodes`` (relabelled ``0..len(nodes)-1`` in the given order).

    ``edge_index`` (global ids) restricts the edges to a given set, e.g. sampled ones; otherwise
    all edges of ``graph`` between the nodes are kept. Node tensors and masks are sliced.
    """
    relabel = torch.full((graph.num_nodes,), -1, dtype=torch.long)
    relabel[nodes] = torch.arange(nodes.numel())
    ei = graph.edge_index if edge_index is None else edge_index
    keep = (relabel[ei[0]] >= 0) & (relabel[ei[1]] >= 0)
    kw = {name: getattr(graph, name)[nodes] for name in ("x", "y", "train_mask", "val_mask",
          "test_mask", "pos") if getattr(graph, name) is not None
          and getattr(graph, name).size(0) == graph.num_nodes}
    if edge_index is None:
        kw.update({name: getattr(graph, name)[keep] for name in ("edge_attr", "edge_weight",
                   "edge_type") if getattr(graph, name) is not None})
    return Graph(edge_index=relabel[ei[:, keep]], num_nodes=nodes.numel(), **kw)


class NeighborSampler(Dataset):
    """Mini-batches of seed nodes with their sampled ``L``-hop neighbourhoods.

    A ``Dataset`` over the seed ids (``graph``'s nodes where ``mask`` is True); its ``collate_fn``
    builds a :class:`NodeBatch` whose graph holds the seeds first and whose mask marks them. Use
    with the Trainer (``batch_size`` = seeds per batch) or a ``DataLoader``.

    Args:
        graph: the full graph.
        num_neighbors: fan-out per hop, e.g. ``[25, 10]`` (``-1`` takes all neighbours).
        mask: boolean ``(N,)`` seed mask (default: all nodes).
    """

    def __init__(self, graph: Graph, num_neighbors: list[int], mask: Tensor | None = None,
                 seed: int | None = None):
        self.graph, self.num_neighbors = graph, list(num_neighbors)
        self.seeds = torch.arange(graph.num_nodes) if mask is None else mask.nonzero().view(-1)
        self.rowptr, self.col, _ = to_csr(graph.edge_index, None, graph.num_nodes)
        self.target = torch.repeat_interleave(torch.arange(graph.num_nodes),
                                              self.rowptr[1:] - self.rowptr[:-1])
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.seeds.numel()

    def __getitem__(self, i: int) -> int:
        return int(self.seeds[i])

    def sample(self, seeds: Tensor) -> NodeBatch:
        n = self.graph.num_nodes
        seen = torch.zeros(n, dtype=torch.bool)
        seen[seeds] = True
        order, frontier, edges = [seeds], seeds, []
        for k in self.num_neighbors:
            pos = _segment_sample(self.rowptr, frontier, k, self.generator)
            src = self.col[pos]
            edges.append(torch.stack([src, self.target[pos]]))
            new = torch.unique(src[~seen[src]])
            seen[new] = True
            order.append(new)
            frontier = new
        nodes = torch.cat(order)
        sub = subgraph(self.graph, nodes, torch.cat(edges, 1))
        mask = torch.zeros(nodes.numel(), dtype=torch.bool)
        mask[: seeds.numel()] = True
        return NodeBatch(sub, mask)

    def collate_fn(self, ids: list[int]) -> NodeBatch:
        return self.sample(torch.tensor(ids, dtype=torch.long))


def negative_sampling(edge_index: Tensor, num_nodes: int, num_samples: int,
                      generator=None, bipartite: tuple[int, int] | None = None) -> Tensor:
    """``(2, num_samples)`` distinct random pairs that are not edges (and not self-loops).

    ``bipartite=(U, I)`` draws sources in ``[0, U)`` and targets in ``[U, U + I)``. Draws in
    rounds until enough pairs are found (fewer only if the graph has fewer non-edges).
    """
    existing = edge_index[0] * num_nodes + edge_index[1]
    found = torch.empty(0, dtype=torch.long)
    for _ in range(10):
        m = 2 * (num_samples - found.numel()) + 16
        if bipartite is None:
            src = torch.randint(0, num_nodes, (m,), generator=generator)
            dst = torch.randint(0, num_nodes, (m,), generator=generator)
        else:
            u, i = bipartite
            src = torch.randint(0, u, (m,), generator=generator)
            dst = torch.randint(u, u + i, (m,), generator=generator)
        key = src * num_nodes + dst
        key = key[~(torch.isin(key, existing) | (src == dst))]
        found = torch.cat([found, key[~torch.isin(key, found)]]).unique(sorted=False)
        if found.numel() >= num_samples:
            break
    found = found[torch.randperm(found.numel(), generator=generator)[:num_samples]]
    return torch.stack([torch.div(found, num_nodes, rounding_mode="floor"), found % num_nodes])


def split_edges(graph: Graph, val_ratio: float = 0.05, test_ratio: float = 0.1, seed: int = 0):
    """Random link-prediction split of an undirected graph (each edge pair goes to one side).

    Returns ``(train_graph, splits)``: ``train_graph`` keeps only the training edges (both
    directions) for message passing; ``splits[s] = (pos (2, P), neg (2, P))`` for ``s`` in
    ``train, val, test`` (``neg`` is ``None`` for train: it is resampled every step).
    """
    g = torch.Generator().manual_seed(seed)
    n = graph.num_nodes
    und, _ = coalesce(graph.edge_index[:, graph.edge_index[0] < graph.edge_index[1]], None, n)
    perm = torch.randperm(und.size(1), generator=g)
    n_val, n_test = int(val_ratio * und.size(1)), int(test_ratio * und.size(1))
    val, test, train = (und[:, perm[:n_val]], und[:, perm[n_val:n_val + n_test]],
                        und[:, perm[n_val + n_test:]])
    train_graph = Graph(edge_index=torch.cat([train, train.flip(0)], 1), x=graph.x, num_nodes=n)
    full = torch.cat([und, und.flip(0)], 1)
    neg = negative_sampling(full, n, n_val + n_test, generator=g)
    splits = {"train": (train, None), "val": (val, neg[:, :n_val]), "test": (test, neg[:, n_val:])}
    return train_graph, splits
