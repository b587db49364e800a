"""The graph container, block-diagonal mini-batching, and conversions (book §8.3.1).

A :class:`Graph` holds tensors (edge_index convention: see :mod:`tensorprism.tensor.graph`)::

    x          (N, F)   node features               edge_index (2, E) source → target
    edge_attr  (E, D)   edge features (or None)     edge_weight (E,) scalar weights (or None)
    y          (N,) / (N, C) node labels, or (1,) / (1, C) a graph label
    train_mask, val_mask, test_mask  (N,) bool       edge_type (E,) relation ids (R-GCN)

Batching many graphs (:func:`batch_graphs`) stacks node rows, offsets each graph's edge ids by
the number of nodes before it — the block-diagonal adjacency ``diag(A_1, ..., A_B)`` — and
records ``batch (N,)``, each node's graph id, for the readouts.

Conversions to/from networkx, scipy sparse matrices and PyTorch Geometric ``Data`` import those
packages lazily (PyG is only a development dependency).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch
from torch import Tensor

from ..errors import ShapeError
from ..tensor.graph import check_edge_index, is_undirected, to_dense_adj

_TENSOR_FIELDS = ("x", "edge_index", "edge_attr", "edge_weight", "edge_type", "y", "train_mask",
                  "val_mask", "test_mask", "batch", "pos")
_NODE_FIELDS = ("x", "train_mask", "val_mask", "test_mask", "pos")
_EDGE_FIELDS = ("edge_attr", "edge_weight", "edge_type")


@dataclass(eq=False)
class Graph:
    """One graph (or a batch of graphs, when ``batch`` is set). See the module docstring."""

    edge_index: Tensor
    x: Tensor | None = None
    edge_attr: Tensor | None = None
    edge_weight: Tensor | None = None
    edge_type: Tensor | None = None
    y: Tensor | None = None
    train_mask: Tensor | None = None
    val_mask: Tensor | None = None
    test_mask: Tensor | None = None
    pos: Tensor | None = None
    batch: Tensor | None = None
    num_nodes: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.num_nodes is None:
            if self.x is not None:
                self.num_nodes = self.x.size(0)
            else:
                self.num_nodes = int(self.edge_index.max()) + 1 if self.edge_index.numel() else 0
        self.validate()

    def validate(self) -> None:
        """Check shapes agree (node tensors have N rows, edge tensors E rows)."""
        check_edge_index(self.edge_index, self.num_nodes)
        n, e = self.num_nodes, self.edge_index.size(1)
        for name in _NODE_FIELDS + ("batch",):
            t = getattr(self, name)
            if t is not None and t.size(0) != n:
                raise ShapeError(f"Graph.{name} has {t.size(0)} rows but the graph has {n} nodes")
        for name in _EDGE_FIELDS:
            t = getattr(self, name)
            if t is not None and t.size(0) != e:
                raise ShapeError(f"Graph.{name} has {t.size(0)} rows but edge_index has {e} edges")

    # -- basic properties -------------------------------------------------------------------
    @property
    def num_edges(self) -> int:
        return self.edge_index.size(1)

    @property
    def num_features(self) -> int:
        return 0 if self.x is None else (self.x.size(1) if self.x.dim() > 1 else 1)

    @property
    def num_graphs(self) -> int:
        return 1 if self.batch is None else int(self.batch.max()) + 1 if self.batch.numel() else 0

    def is_undirected(self) -> bool:
        return is_undirected(self.edge_index, self.num_nodes)

    def dense_adj(self) -> Tensor:
        """``(N, N)`` adjacency with ``A[target, source] = edge_weight`` (1 when unweighted)."""
        return to_dense_adj(self.edge_index, self.num_nodes, self.edge_weight)

    def with_sparse_features(self) -> Graph:
        """A copy whose ``x`` is a sparse CSR tensor: bag-of-words features (Cora: 1.3 % nonzero)
        then cost ``O(nnz)`` in the first layer's product and in input dropout."""
        with warnings.catch_warnings():  # torch's "CSR support is in beta" note
            warnings.simplefilter("ignore", UserWarning)
            x = self.x.to_sparse_csr()
        return replace(self, x=x, meta=dict(self.meta))

    def to(self, device) -> Graph:
        """A copy with every tensor on ``device``."""
        moved = {k: getattr(self, k).to(device) for k in _TENSOR_FIELDS
                 if getattr(self, k) is not None}
        return replace(self, meta=dict(self.meta), **moved)

    def __repr__(self) -> str:
        parts = [f"num_nodes={self.num_nodes}", f"num_edges={self.num_edges}"]
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Tensor) and f.name != "edge_index":
                parts.append(f"{f.name}={list(v.shape)}")
        return f"Graph({', '.join(parts)})"

    # -- conversions ------------------------------------------------------------------------
    def to_networkx(self, node_attrs: tuple[str, ...] = ("x", "y"), undirected: bool | None = None):
        """A ``networkx.Graph`` (undirected) or ``DiGraph``; node/edge tensors become attributes."""
        from ..optional import require

        nx = require("networkx", feature="Graph.to_networkx")
        und = self.is_undirected() if undirected is None else undirected
        g = nx.Graph() if und else nx.DiGraph()
        g.add_nodes_from(range(self.num_nodes))
        for name in node_attrs:
            t = getattr(self, name)
            if t is not None and t.size(0) == self.num_nodes:
                for i, v in enumerate(t.tolist()):
                    g.nodes[i][name] = v
        w = None if self.edge_weight is None else self.edge_weight.tolist()
        for k, (s, t) in enumerate(self.edge_index.t().tolist()):
            g.add_edge(s, t, **({} if w is None else {"weight": w[k]}))
        return g

    @classmethod
    def from_networkx(cls, g, x: Tensor | None = None, node_attr: str | None = None,
                      weight: str | None = None) -> Graph:
        """Nodes are numbered in ``g.nodes`` order; an undirected edge gives both directions.

        ``node_attr`` names a node attribute to use as ``x``; ``weight`` an edge attribute.
        """
        index = {v: i for i, v in enumerate(g.nodes)}
        src, dst, ws = [], [], []
        for u, v, data in g.edges(data=True):
            pairs = [(u, v)] if g.is_directed() or u == v else [(u, v), (v, u)]
            for a, b in pairs:
                src.append(index[a])
                dst.append(index[b])
                ws.append(float(data.get(weight, 1.0)) if weight else 1.0)
        ei = torch.tensor([src, dst], dtype=torch.long).reshape(2, -1)
        if x is None and node_attr is not None:
            x = torch.tensor([g.nodes[v][node_attr] for v in g.nodes], dtype=torch.float32)
        return cls(edge_index=ei, x=x, num_nodes=len(index),
                   edge_weight=torch.tensor(ws) if weight else None)

    def to_scipy(self, format: str = "csr"):
        """``scipy.sparse`` matrix ``A`` (rows = targets), shape ``(N, N)``."""
        import scipy.sparse as sp

        w = (torch.ones(self.num_edges) if self.edge_weight is None else self.edge_weight)
        s, t = self.edge_index.cpu().numpy()
        m = sp.coo_matrix((w.detach().cpu().numpy(), (t, s)), shape=(self.num_nodes,) * 2)
        return m.asformat(format)

    @classmethod
    def from_scipy(cls, matrix, x: Tensor | None = None, weighted: bool = True) -> Graph:
        """From a square ``scipy.sparse`` ``A`` with ``A[target, source]`` (symmetric: either)."""
        coo = matrix.tocoo()
        ei = torch.stack([torch.from_numpy(coo.col).long(), torch.from_numpy(coo.row).long()])
        w = torch.from_numpy(coo.data).float() if weighted else None
        return cls(edge_index=ei, x=x, edge_weight=w, num_nodes=matrix.shape[0])

    def to_pyg(self):
        """A ``torch_geometric.data.Data`` with the same tensors (needs torch_geometric)."""
        from ..optional import require

        Data = require("torch_geometric.data", feature="Graph.to_pyg").Data
        kw = {k: getattr(self, k) for k in _TENSOR_FIELDS if getattr(self, k) is not None}
        return Data(num_nodes=self.num_nodes, **kw)

    @classmethod
    def from_pyg(cls, data) -> Graph:
        kw = {k: data[k] for k in _TENSOR_FIELDS if k in data and data[k] is not None}
        return cls(num_nodes=data.num_nodes, **kw)


def batch_graphs(graphs: list[Graph]) -> Graph:
    """Merge graphs into one block-diagonal graph with ``batch (N,)`` and ``meta['ptr'] (B+1,)``.

    Node-level tensors are concatenated, edge ids are shifted by each graph's node offset, and
    graph-level labels ``y`` (one row per graph) are stacked.
    """
    if not graphs:
        raise ShapeError("batch_graphs needs at least one graph")
    sizes = torch.tensor([g.num_nodes for g in graphs])
    ptr = torch.zeros(len(graphs) + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(sizes, 0)
    kw: dict[str, Any] = {
        "edge_index": torch.cat([g.edge_index + ptr[i] for i, g in enumerate(graphs)], dim=1),
        "batch": torch.repeat_interleave(torch.arange(len(graphs)), sizes),
        "num_nodes": int(ptr[-1]),
    }
    for name in _NODE_FIELDS + _EDGE_FIELDS + ("y",):
        vals = [getattr(g, name) for g in graphs]
        if all(v is not None for v in vals):
            kw[name] = torch.cat([v if v.dim() else v.view(1) for v in vals], dim=0)
        elif any(v is not None for v in vals):
            raise ShapeError(f"some graphs have {name} and some do not; give all or none")
    out = Graph(**kw)
    out.meta["ptr"] = ptr
    return out


def unbatch(batch: Graph) -> list[Graph]:
    """Split a batch made by :func:`batch_graphs` back into its graphs."""
    ptr = batch.meta["ptr"]
    owner = batch.batch.index_select(0, batch.edge_index[0])
    ys = batch.y
    out = []
    for i in range(len(ptr) - 1):
        lo, hi = int(ptr[i]), int(ptr[i + 1])
        emask = owner == i
        kw = {name: getattr(batch, name)[lo:hi] for name in _NODE_FIELDS
              if getattr(batch, name) is not None}
        kw.update({name: getattr(batch, name)[emask] for name in _EDGE_FIELDS
                   if getattr(batch, name) is not None})
        if ys is not None:
            kw["y"] = ys[lo:hi] if ys.size(0) == batch.num_nodes else ys[i:i + 1]
        out.append(Graph(edge_index=batch.edge_index[:, emask] - lo, num_nodes=hi - lo, **kw))
    return out


def collate_graphs(graphs: list[Graph]) -> Graph:
    """``collate_fn`` for ``torch.utils.data.DataLoader`` over a list of graphs."""
    return batch_graphs(list(graphs))
