"""Graph tensors: adjacency in its dense, COO (``edge_index``) and CSR forms, degrees, self-loops,
incidence matrices, Laplacians and the GCN propagation matrix (book §8.2–8.3, §8.4.1).

Conventions (used by every graph module of tensorprism):

* ``edge_index`` is a ``(2, E)`` ``int64`` tensor; column ``e`` is the directed edge
  ``edge_index[0, e] -> edge_index[1, e]`` (source ``j`` → target ``i``). Messages flow from
  source to target, so the dense adjacency that matches it is ``A[i, j] = w_e`` (row = target).
  For an undirected graph both directions are stored and ``A`` is symmetric.
* ``edge_weight`` is ``(E,)`` (``None`` means all ones), node indices are 0-based.
* Dense functions take ``A`` of shape ``(N, N)`` and are the readable *reference* forms of the
  book's equations; the sparse functions are the fast forms, tested equal to them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError

NORMALIZATIONS = ("none", "row", "sym")
LAPLACIANS = ("combinatorial", "sym", "rw")


def check_edge_index(edge_index: Tensor, num_nodes: int | None = None) -> None:
    """Raise :class:`ShapeError` unless ``edge_index`` is an integer ``(2, E)`` tensor in range."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ShapeError(
            f"edge_index must have shape (2, E) but has shape {tuple(edge_index.shape)}; "
            "if you hold a list of (source, target) pairs, pass `pairs.t()`"
        )
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise ShapeError(f"edge_index must be an integer tensor but has dtype {edge_index.dtype}")
    if num_nodes is not None and edge_index.numel() and int(edge_index.max()) >= num_nodes:
        raise ShapeError(
            f"edge_index refers to node {int(edge_index.max())} but the graph has {num_nodes} "
            "nodes; node ids must be 0-based and smaller than num_nodes"
        )


def num_nodes_of(edge_index: Tensor, num_nodes: int | None = None) -> int:
    """``num_nodes`` if given, else ``max(edge_index) + 1`` (0 for an empty edge set)."""
    if num_nodes is not None:
        return int(num_nodes)
    return int(edge_index.max()) + 1 if edge_index.numel() else 0


def _ones(edge_index: Tensor, edge_weight: Tensor | None, dtype=torch.float32) -> Tensor:
    if edge_weight is not None:
        return edge_weight
    return torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device)


# --------------------------------------------------------------------------- conversions
def to_dense_adj(edge_index: Tensor, num_nodes: int | None = None,
                 edge_weight: Tensor | None = None) -> Tensor:
    """Dense ``(N, N)`` adjacency with ``A[target, source] = w`` (duplicates are summed)."""
    check_edge_index(edge_index, num_nodes)
    n = num_nodes_of(edge_index, num_nodes)
    w = _ones(edge_index, edge_weight)
    adj = torch.zeros(n, n, dtype=w.dtype, device=w.device)
    return adj.index_put((edge_index[1], edge_index[0]), w, accumulate=True)


def dense_to_edge_index(adj: Tensor) -> tuple[Tensor, Tensor]:
    """``(edge_index, edge_weight)`` of the nonzero entries of a dense ``(N, N)`` adjacency.

    Edges come out sorted by target then source (the CSR order of ``A``).
    """
    if adj.dim() != 2 or adj.size(0) != adj.size(1):
        raise ShapeError(f"adjacency must be square (N, N) but has shape {tuple(adj.shape)}")
    tgt, src = adj.nonzero(as_tuple=True)
    return torch.stack([src, tgt]), adj[tgt, src]


def adjacency_list_to_edge_index(adj_list: Mapping[int, Sequence[int]] | Sequence[Sequence[int]],
                                 one_based: bool = False) -> tuple[Tensor, int]:
    """Edge index of an adjacency list (book §8.2, Exercise 3): ``{1: [2, 3], 2: [1, 3], ...}``.

    Each listed neighbour ``j`` of node ``i`` becomes the edge ``j -> i`` (``i`` receives from
    ``j``). Returns ``(edge_index, num_nodes)``; ``one_based=True`` converts 1-based ids.
    """
    items = adj_list.items() if isinstance(adj_list, Mapping) else enumerate(adj_list)
    off = 1 if one_based else 0
    src, tgt, n = [], [], 0
    for node, nbrs in items:
        n = max(n, node - off + 1, *(j - off + 1 for j in nbrs)) if nbrs else max(n, node - off + 1)
        for j in nbrs:
            src.append(j - off)
            tgt.append(node - off)
    if min(src + tgt, default=0) < 0:
        raise ConfigError("adjacency list has a node id below the base; set one_based correctly")
    return torch.tensor([src, tgt], dtype=torch.long).reshape(2, -1), n


def sort_edge_index(edge_index: Tensor, edge_weight: Tensor | None = None,
                    num_nodes: int | None = None, by: str = "target"):
    """Sort edges by ``target`` (then source) — CSR order of ``A`` — or by ``source``."""
    n = num_nodes_of(edge_index, num_nodes)
    major, minor = (edge_index[1], edge_index[0]) if by == "target" else (edge_index[0], edge_index[1])
    perm = torch.argsort(major * n + minor)
    return edge_index[:, perm], (None if edge_weight is None else edge_weight[perm])


def coalesce(edge_index: Tensor, edge_weight: Tensor | None = None, num_nodes: int | None = None,
             reduce: str = "sum"):
    """Sort edges by target and merge duplicates (their weights combined by ``reduce``)."""
    n = num_nodes_of(edge_index, num_nodes)
    key = edge_index[1] * n + edge_index[0]
    uniq, inv = torch.unique(key, return_inverse=True)
    out = torch.stack([uniq % n, torch.div(uniq, n, rounding_mode="floor")])
    if edge_weight is None:
        return out, None
    w = torch.zeros(uniq.numel(), *edge_weight.shape[1:], dtype=edge_weight.dtype,
                    device=edge_weight.device)
    if reduce == "sum":
        w = w.index_add(0, inv, edge_weight)
    else:
        w = w.scatter_reduce(0, inv.view(-1, *[1] * (edge_weight.dim() - 1)).expand_as(edge_weight),
                             edge_weight, reduce=reduce, include_self=False)
    return out, w


def to_undirected(edge_index: Tensor, edge_weight: Tensor | None = None,
                  num_nodes: int | None = None, reduce: str = "mean"):
    """Add the reverse of every edge and coalesce. A pair stored in one direction gets ``w`` both
    ways; a pair stored in both directions is merged by ``reduce`` (``mean`` keeps a symmetric
    graph's weights unchanged)."""
    ei = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    w = None if edge_weight is None else torch.cat([edge_weight, edge_weight])
    return coalesce(ei, w, num_nodes, reduce=reduce)


def is_undirected(edge_index: Tensor, num_nodes: int | None = None) -> bool:
    n = num_nodes_of(edge_index, num_nodes)
    a, _ = coalesce(edge_index, None, n)
    b, _ = coalesce(edge_index.flip(0), None, n)
    return a.shape == b.shape and bool((a == b).all())


def to_csr(edge_index: Tensor, edge_weight: Tensor | None = None, num_nodes: int | None = None):
    """CSR arrays ``(rowptr (N+1,), col (E,), value (E,))`` of ``A`` (rows = targets)."""
    n = num_nodes_of(edge_index, num_nodes)
    ei, w = sort_edge_index(edge_index, _ones(edge_index, edge_weight), n, by="target")
    counts = torch.bincount(ei[1], minlength=n)
    rowptr = torch.zeros(n + 1, dtype=torch.long, device=ei.device)
    rowptr[1:] = torch.cumsum(counts, 0)
    return rowptr, ei[0], w


def csr_to_edge_index(rowptr: Tensor, col: Tensor) -> Tensor:
    """Inverse of :func:`to_csr` (edge order = CSR order)."""
    counts = rowptr[1:] - rowptr[:-1]
    tgt = torch.repeat_interleave(torch.arange(counts.numel(), device=col.device), counts)
    return torch.stack([col, tgt])


def to_sparse_adj(edge_index: Tensor, edge_weight: Tensor | None = None,
                  num_nodes: int | None = None, layout: str = "csr") -> Tensor:
    """``A`` as a ``torch.sparse_csr`` (fast ``A @ X`` on CPU) or coalesced ``sparse_coo`` tensor."""
    n = num_nodes_of(edge_index, num_nodes)
    if layout == "coo":
        w = _ones(edge_index, edge_weight)
        return torch.sparse_coo_tensor(edge_index.flip(0), w, (n, n),
                                       check_invariants=False).coalesce()
    if layout != "csr":
        raise ConfigError(f"layout must be 'csr' or 'coo', got {layout!r}")
    rowptr, col, w = to_csr(edge_index, edge_weight, n)
    return csr_tensor(rowptr, col, w, n)


def csr_tensor(rowptr: Tensor, col: Tensor, values: Tensor, n: int) -> Tensor:
    """An ``(n, n)`` ``torch.sparse_csr`` tensor from validated index arrays (torch's "CSR support
    is in beta" note is silenced: it is not something a caller can act on)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(rowptr, col, values, (n, n), check_invariants=False)


def edge_features_to_dense(edge_index: Tensor, edge_attr: Tensor, num_nodes: int | None = None) -> Tensor:
    """Edge features ``(E, D)`` as the dense ``(N, N, D)`` tensor of the book's MPNN listing
    (``[target, source, :]``; zero where there is no edge) — catalogue A11."""
    n = num_nodes_of(edge_index, num_nodes)
    out = edge_attr.new_zeros(n, n, *edge_attr.shape[1:])
    out[edge_index[1], edge_index[0]] = edge_attr
    return out


def dense_to_edge_features(edge_tensor: Tensor, edge_index: Tensor) -> Tensor:
    """The ``(E, D)`` rows of a dense ``(N, N, D)`` edge tensor at the edges of ``edge_index``."""
    return edge_tensor[edge_index[1], edge_index[0]]


def incidence_matrix(edge_index: Tensor, num_nodes: int | None = None,
                     directed: bool = True) -> Tensor:
    """Node–edge incidence matrix ``B`` of shape ``(N, E)`` (book §8.2, eq. at line 17999).

    Directed: ``B[source, e] = +1`` and ``B[target, e] = -1`` — the convention of the book's
    worked example (the text's "head"/"tail" wording contradicts it, see erratum E1). Undirected:
    both endpoints get ``+1``. With this convention ``B Bᵀ = D - A`` for an undirected graph whose
    edges are each listed once.
    """
    n = num_nodes_of(edge_index, num_nodes)
    e = torch.arange(edge_index.size(1), device=edge_index.device)
    b = torch.zeros(n, edge_index.size(1), device=edge_index.device)
    b[edge_index[0], e] = 1.0
    b[edge_index[1], e] = -1.0 if directed else 1.0
    return b


# --------------------------------------------------------------------------- degree, self-loops
def degree(index: Tensor, num_nodes: int | None = None, edge_weight: Tensor | None = None,
           dtype=torch.float32) -> Tensor:
    """``deg[i] = Σ_{e: index[e]=i} w_e``; pass ``edge_index[1]`` for in-degree (rows of ``A``)."""
    n = num_nodes_of(index.view(1, -1), num_nodes)
    w = edge_weight if edge_weight is not None else torch.ones(index.numel(), dtype=dtype,
                                                               device=index.device)
    return torch.zeros(n, dtype=w.dtype, device=w.device).index_add_(0, index, w)


def remove_self_loops(edge_index: Tensor, edge_weight: Tensor | None = None):
    keep = edge_index[0] != edge_index[1]
    return edge_index[:, keep], (None if edge_weight is None else edge_weight[keep])


def add_self_loops(edge_index: Tensor, edge_weight: Tensor | None = None,
                   num_nodes: int | None = None, fill_value: float = 1.0):
    """Append the loop ``i -> i`` for every node (``Ã = A + I``, book line 18272)."""
    n = num_nodes_of(edge_index, num_nodes)
    loop = torch.arange(n, device=edge_index.device).repeat(2, 1)
    ei = torch.cat([edge_index, loop], dim=1)
    if edge_weight is None:
        return ei, None
    fill = torch.full((n, *edge_weight.shape[1:]), fill_value, dtype=edge_weight.dtype,
                      device=edge_weight.device)
    return ei, torch.cat([edge_weight, fill])


def add_remaining_self_loops(edge_index: Tensor, edge_weight: Tensor | None = None,
                             num_nodes: int | None = None, fill_value: float = 1.0):
    """Add ``i -> i`` only for nodes that have no self-loop yet (existing loops keep their weight)."""
    n = num_nodes_of(edge_index, num_nodes)
    is_loop = edge_index[0] == edge_index[1]
    has = torch.zeros(n, dtype=torch.bool, device=edge_index.device)
    has[edge_index[0, is_loop]] = True
    missing = (~has).nonzero().view(-1)
    ei = torch.cat([edge_index, missing.repeat(2, 1)], dim=1)
    if edge_weight is None:
        return ei, None
    fill = torch.full((missing.numel(),), fill_value, dtype=edge_weight.dtype,
                      device=edge_weight.device)
    return ei, torch.cat([edge_weight, fill])


# --------------------------------------------------------------------------- normalisation
def _check_norm(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")


def _inv(x: Tensor, power: float) -> Tensor:
    out = x.pow(power)
    return out.masked_fill(x == 0, 0.0)  # isolated nodes: 0 instead of inf (book B4 leaves it open)


def normalize_adjacency_dense(adj: Tensor, normalization: str = "sym",
                              self_loops: bool = True) -> Tensor:
    """Reference propagation matrix (dense), the book's three choices (catalogue A14):

    * ``"sym"``: ``D̃^{-1/2} Ã D̃^{-1/2}`` with ``Ã = A + I`` (Kipf & Welling, line 18272) when
      ``self_loops`` else ``D^{-1/2} A D^{-1/2}`` (Exercises 1, 5, 10);
    * ``"row"``: ``D^{-1} A`` (the book's code, lines 18208–18209), i.e. a mean over neighbours;
    * ``"none"``: ``A`` itself (sum aggregation).

    Degrees are row sums of the matrix actually used; zero-degree rows stay zero.
    """
    _check_norm(normalization)
    a = adj + torch.eye(adj.size(0), dtype=adj.dtype, device=adj.device) if self_loops else adj
    if normalization == "none":
        return a
    deg = a.sum(1)
    if normalization == "row":
        return _inv(deg, -1.0)[:, None] * a
    d = _inv(deg, -0.5)
    return d[:, None] * a * d[None, :]


def gcn_norm(edge_index: Tensor, edge_weight: Tensor | None = None, num_nodes: int | None = None,
             normalization: str = "sym", self_loops: bool = True):
    """Sparse form of :func:`normalize_adjacency_dense`: ``(edge_index, weight)`` of the propagation
    matrix ``Â`` so that ``out[i] = Σ_e Â_e x[source_e]`` over edges with target ``i``.

    Self-loops are added only where missing (an existing loop keeps its weight), which is what
    PyTorch Geometric's ``gcn_norm`` does; on a loop-free graph it is exactly ``A + I``.
    """
    _check_norm(normalization)
    n = num_nodes_of(edge_index, num_nodes)
    w = _ones(edge_index, edge_weight)
    if self_loops:
        edge_index, w = add_remaining_self_loops(edge_index, w, n)
    if normalization == "none":
        return edge_index, w
    deg = degree(edge_index[1], n, w)
    if normalization == "row":
        return edge_index, _inv(deg, -1.0)[edge_index[1]] * w
    d = _inv(deg, -0.5)
    return edge_index, d[edge_index[1]] * w * d[edge_index[0]]


def gcn_propagation_matrix(edge_index: Tensor, num_nodes: int | None = None,
                           edge_weight: Tensor | None = None, normalization: str = "sym",
                           self_loops: bool = True, layout: str = "csr") -> Tensor:
    """The GCN propagation matrix ``Â`` as a sparse tensor (``layout="dense"`` for a dense one)."""
    n = num_nodes_of(edge_index, num_nodes)
    ei, w = gcn_norm(edge_index, edge_weight, n, normalization, self_loops)
    if layout == "dense":
        return to_dense_adj(ei, n, w)
    return to_sparse_adj(ei, w, n, layout)


# --------------------------------------------------------------------------- Laplacians
def laplacian_dense(adj: Tensor, kind: str = "combinatorial") -> Tensor:
    """Graph Laplacian of a dense (symmetric) adjacency (book line 18007 and the usual variants):

    * ``"combinatorial"``: ``L = D - A``;
    * ``"sym"``: ``L_sym = I - D^{-1/2} A D^{-1/2}``;
    * ``"rw"``: ``L_rw = I - D^{-1} A`` (random-walk).

    Isolated nodes get a zero row in ``D^{-1/2} A D^{-1/2}`` and ``D^{-1} A``.
    """
    if kind not in LAPLACIANS:
        raise ConfigError(f"Laplacian kind must be one of {LAPLACIANS}, got {kind!r}")
    eye = torch.eye(adj.size(0), dtype=adj.dtype, device=adj.device)
    if kind == "combinatorial":
        return torch.diag(adj.sum(1)) - adj
    norm = "sym" if kind == "sym" else "row"
    return eye - normalize_adjacency_dense(adj, norm, self_loops=False)


def laplacian(edge_index: Tensor, edge_weight: Tensor | None = None, num_nodes: int | None = None,
              kind: str = "combinatorial"):
    """Sparse Laplacian ``(edge_index, weight)`` (self-loops of ``A`` removed first), equal to
    :func:`laplacian_dense` of the same graph."""
    if kind not in LAPLACIANS:
        raise ConfigError(f"Laplacian kind must be one of {LAPLACIANS}, got {kind!r}")
    n = num_nodes_of(edge_index, num_nodes)
    ei, w = remove_self_loops(edge_index, _ones(edge_index, edge_weight))
    deg = degree(ei[1], n, w)
    loop = torch.arange(n, device=ei.device).repeat(2, 1)
    if kind == "combinatorial":
        return torch.cat([ei, loop], 1), torch.cat([-w, deg])
    _, off = gcn_norm(ei, w, n, "sym" if kind == "sym" else "row", self_loops=False)
    diag = torch.ones_like(deg)  # I, as in the dense form (also on isolated nodes)
    return torch.cat([ei, loop], 1), torch.cat([-off, diag])


def laplacian_eigh(adj: Tensor, kind: str = "combinatorial") -> tuple[Tensor, Tensor]:
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric Laplacian (Exercise 9).

    The multiplicity of the eigenvalue 0 of ``D - A`` is the number of connected components.
    """
    return torch.linalg.eigh(laplacian_dense(adj, kind))


def scaled_laplacian(edge_index: Tensor, edge_weight: Tensor | None = None,
                     num_nodes: int | None = None, kind: str = "sym",
                     lambda_max: float | None = None):
    """``L̃ = 2 L / λ_max - I`` (spectrum in ``[-1, 1]``), the input of Chebyshev filters.

    ``lambda_max`` defaults to 2, the bound for ``L_sym`` used by Defferrard et al. (2016).
    """
    n = num_nodes_of(edge_index, num_nodes)
    ei, w = laplacian(edge_index, edge_weight, n, kind)
    lam = 2.0 if lambda_max is None else float(lambda_max)
    w = 2.0 * w / lam
    loop = ei[0] == ei[1]
    w = torch.where(loop, w - 1.0, w)
    return coalesce(ei, w, n)
