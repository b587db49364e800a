"""Message passing as tensor functions (book §8.1.3, §8.3.2, §8.4).

Two forms of every aggregation:

* the **scatter** form (fast, ``O(E·F)``): messages live on edges, ``scatter(msg, edge_index[1])``
  reduces them onto the target nodes;
* the **dense** reference form written as the book writes it, with an ``(N, N)`` adjacency
  (``sum``: ``A H``; ``mean``: ``D⁻¹ A H``; ``max``: element-wise max over ``{j : A_ij ≠ 0}``).

Tests prove the two equal (values and gradients). Nodes without incoming edges aggregate to 0 for
every reduction (the book's mean divides by zero there, catalogue B4).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..tensor.graph import csr_tensor, normalize_adjacency_dense, to_sparse_adj

REDUCTIONS = ("sum", "add", "mean", "max", "min", "mul", "std")


def _expand_index(index: Tensor, src: Tensor) -> Tensor:
    return index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)


def scatter(src: Tensor, index: Tensor, dim_size: int | None = None, reduce: str = "sum") -> Tensor:
    """Reduce rows of ``src (E, *)`` into ``(dim_size, *)`` by ``index (E,)``.

    ``reduce`` in sum/add/mean/max/min/mul/std. Empty groups give 0. Differentiable.
    """
    if reduce not in REDUCTIONS:
        raise ConfigError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
    n = int(index.max()) + 1 if dim_size is None else int(dim_size)
    if reduce == "std":
        return scatter_std(src, index, n)
    shape = (n, *src.shape[1:])
    if reduce in ("sum", "add"):
        return src.new_zeros(shape).index_add_(0, index, src)
    if reduce == "mean":
        out = src.new_zeros(shape).index_add_(0, index, src)
        cnt = torch.bincount(index, minlength=n).clamp_(min=1).to(src.dtype)
        return out / cnt.view(-1, *([1] * (src.dim() - 1)))
    red = {"max": "amax", "min": "amin", "mul": "prod"}[reduce]
    return src.new_zeros(shape).scatter_reduce(0, _expand_index(index, src), src, reduce=red,
                                               include_self=False)


def scatter_std(src: Tensor, index: Tensor, dim_size: int, eps: float = 1e-5) -> Tensor:
    """Per-group standard deviation ``sqrt(relu(E[x²] - E[x]²) + eps)`` — PNA's std aggregator
    (Corso et al. 2020), also PyTorch Geometric's ``StdAggregation``; empty groups give ``sqrt(eps)``.
    """
    mean = scatter(src, index, dim_size, "mean")
    mean2 = scatter(src * src, index, dim_size, "mean")
    return (mean2 - mean * mean).clamp(min=0).add(eps).sqrt()


def scatter_softmax(src: Tensor, index: Tensor, dim_size: int | None = None) -> Tensor:
    """Softmax of ``src (E, *)`` within each group of ``index`` (attention over ``N(i)``).

    Stable: the group max is subtracted first. Each group's values sum to 1.
    """
    n = int(index.max()) + 1 if dim_size is None else int(dim_size)
    gmax = scatter(src.detach(), index, n, "max")
    ex = (src - gmax.index_select(0, index)).exp()
    den = scatter(ex, index, n, "sum").index_select(0, index)
    return ex / (den + 1e-16)


def propagate_sparse(edge_index: Tensor, edge_weight: Tensor | None, x: Tensor,
                     num_nodes: int | None = None, reduce: str = "sum") -> Tensor:
    """``out[i] = reduce_{e: target_e = i} w_e · x[source_e]``: the scatter form of ``A X``."""
    msg = x.index_select(0, edge_index[0])
    if edge_weight is not None:
        msg = msg * edge_weight.view(-1, *([1] * (x.dim() - 1)))
    return scatter(msg, edge_index[1], x.size(0) if num_nodes is None else num_nodes, reduce)


def feature_dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Inverted dropout on node features (book eq. 18841); a sparse CSR ``x`` (bag-of-words
    features such as Cora's, ~1 % nonzero) only draws masks for its stored values."""
    if x.layout != torch.sparse_csr:
        return F.dropout(x, p, training)
    if not training or p == 0.0:
        return x
    v = x.values()
    v = v * (torch.rand_like(v) >= p) / (1.0 - p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), v, x.shape,
                                       check_invariants=False)


def node_linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x Wᵀ + b`` for dense or sparse-CSR node features ``x (N, F_in)``, ``weight (F_out, F_in)``."""
    if x.layout == torch.strided:
        return F.linear(x, weight, bias)
    out = torch.sparse.mm(x, weight.t())
    return out if bias is None else out + bias


class _CSRMatmul(torch.autograd.Function):
    """``A @ H`` with a constant sparse ``A`` whose transpose is supplied (no per-step transpose)."""

    @staticmethod
    def forward(ctx, a: Tensor, a_t: Tensor, h: Tensor) -> Tensor:
        ctx.a_t = a_t
        return torch.sparse.mm(a, h)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return None, None, torch.sparse.mm(ctx.a_t, grad)


def spmm(a: Tensor, a_t: Tensor, h: Tensor) -> Tensor:
    """``A H`` for a constant sparse CSR ``A (N, N)`` and its transpose ``a_t`` (both built once).

    ``torch.sparse.mm``'s own backward re-transposes ``A`` (a sort over all edges) every step;
    handing it the cached transpose makes the backward another CSR product.
    """
    return _CSRMatmul.apply(a, a_t, h)


def csr_pair(edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``(A, Aᵀ)`` as CSR tensors, the operands of :func:`spmm`."""
    return (to_sparse_adj(edge_index, edge_weight, num_nodes, "csr"),
            to_sparse_adj(edge_index.flip(0), edge_weight, num_nodes, "csr"))


def csr_structure(edge_index: Tensor, num_nodes: int) -> dict[str, Tensor]:
    """Index arrays for :func:`attention_aggregate`; ``edge_index`` must be sorted by target.

    ``rowptr``/``col`` give ``A`` in CSR (rows = targets), ``rowptr_t``/``col_t``/``perm_t`` give
    ``Aᵀ`` (``perm_t`` maps its stored entries back to edge ids).
    """
    src, dst = edge_index
    n = num_nodes
    rowptr = torch.zeros(n + 1, dtype=torch.long, device=src.device)
    rowptr[1:] = torch.cumsum(torch.bincount(dst, minlength=n), 0)
    perm_t = torch.argsort(src * n + dst)
    rowptr_t = torch.zeros(n + 1, dtype=torch.long, device=src.device)
    rowptr_t[1:] = torch.cumsum(torch.bincount(src, minlength=n), 0)
    return {"rowptr": rowptr, "col": src.contiguous(), "rowptr_t": rowptr_t,
            "col_t": dst[perm_t].contiguous(), "perm_t": perm_t}


class _AttentionSpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, alpha: Tensor, h: Tensor, s: dict) -> Tensor:
        n, heads = h.size(0), h.size(1)
        ctx.s = s
        ctx.save_for_backward(alpha, h)
        out = [torch.sparse.mm(csr_tensor(s["rowptr"], s["col"], alpha[:, k].contiguous(), n),
                               h[:, k].contiguous()) for k in range(heads)]
        return torch.stack(out, 1)

    @staticmethod
    def backward(ctx, grad: Tensor):
        alpha, h = ctx.saved_tensors
        s, n, heads = ctx.s, h.size(0), h.size(1)
        grad_alpha = grad_h = None
        if ctx.needs_input_grad[1]:  # dL/dh_k = A_kᵀ dL/dout_k
            a_t = alpha.index_select(0, s["perm_t"])
            grad_h = torch.stack([
                torch.sparse.mm(csr_tensor(s["rowptr_t"], s["col_t"], a_t[:, k].contiguous(), n),
                                grad[:, k].contiguous()) for k in range(heads)], 1)
        if ctx.needs_input_grad[0]:  # dL/dα_e,k = <dL/dout[dst_e, k], h[src_e, k]> (SDDMM)
            zero = csr_tensor(s["rowptr"], s["col"], alpha.new_zeros(alpha.size(0)), n)
            grad_alpha = torch.stack([
                torch.sparse.sampled_addmm(zero, grad[:, k].contiguous(), h[:, k].t().contiguous(),
                                           beta=0.0).values() for k in range(heads)], 1)
        return grad_alpha, grad_h, None


def attention_aggregate(alpha: Tensor, h: Tensor, structure: dict[str, Tensor]) -> Tensor:
    """``out[i, k] = Σ_{e: target_e = i} α[e, k] · h[source_e, k]`` for ``alpha (E, H)``,
    ``h (N, H, F)`` → ``(N, H, F)``, as one CSR product per head.

    Equal to ``scatter(h[src] * alpha[..., None], dst)`` without materialising the ``(E, H, F)``
    messages: the backward is a CSR product with ``Aᵀ`` for ``h`` and a sampled dense–dense
    product (SDDMM) for ``α``. Edges must be sorted by target (see :func:`csr_structure`).
    First-order gradients only.
    """
    return _AttentionSpMM.apply(alpha, h, structure)


# --------------------------------------------------------------------------- graph losses
def laplacian_smoothness(h: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
    """``Σ_{(i,j)∈E} w_ij ‖h_i − h_j‖²`` (book eq. 18905), over the stored (directed) edges.

    For an undirected graph stored in both directions this is ``2 tr(Hᵀ L H)``. Apply it to the
    model's **learned** embeddings: the book's listing (L12) computed it on the input features,
    a constant with no gradient (erratum G2).
    """
    d = (h.index_select(0, edge_index[0]) - h.index_select(0, edge_index[1])).pow(2).sum(-1)
    return (d if edge_weight is None else d * edge_weight).sum()


def link_reconstruction_loss(z: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    """Bounded unsupervised embedding loss: binary cross-entropy of ``σ(z_u · z_v)`` on edges
    ``pos (2, P)`` (label 1) and non-edges ``neg (2, Q)`` (label 0), as in graph auto-encoders
    (Kipf & Welling 2016). Replaces the book's ``Σ_E ‖h_i − h_j‖² − Σ_{∉E} ‖h_i − h_j‖²``
    (eq. 18751), which is unbounded below (erratum E7).
    """
    sp = (z[pos[0]] * z[pos[1]]).sum(-1)
    sn = (z[neg[0]] * z[neg[1]]).sum(-1)
    return (F.binary_cross_entropy_with_logits(sp, torch.ones_like(sp))
            + F.binary_cross_entropy_with_logits(sn, torch.zeros_like(sn)))


# --------------------------------------------------------------------------- dense references
def dense_aggregate(adj: Tensor, h: Tensor, reduce: str = "sum") -> Tensor:
    """Reference aggregation over neighbours ``{j : A_ij ≠ 0}`` of a dense ``(N, N)`` adjacency.

    sum: ``m = A H`` (book eq. 18138, weights included); mean: ``D⁻¹ A H`` (eq. 18142);
    max/min: element-wise over neighbours (eq. 18146); std: ``sqrt(E[h²] − E[h]² + 1e-5)``.
    """
    if reduce in ("sum", "add"):
        return adj @ h
    if reduce == "mean":
        return normalize_adjacency_dense((adj != 0).to(h.dtype), "row", self_loops=False) @ h
    if reduce == "std":
        mean = dense_aggregate(adj, h, "mean")
        var = (dense_aggregate(adj, h * h, "mean") - mean * mean).clamp(min=0)
        return (var + 1e-5).sqrt()
    if reduce in ("max", "min"):
        mask = (adj != 0).unsqueeze(-1)  # (N, N, 1)
        fill = float("-inf") if reduce == "max" else float("inf")
        vals = torch.where(mask, h.unsqueeze(0).expand(adj.size(0), -1, -1), fill)  # (N, N, F)
        out = vals.amax(1) if reduce == "max" else vals.amin(1)
        return torch.where(mask.any(1), out, torch.zeros_like(out))
    raise ConfigError(f"dense_aggregate: reduce must be sum/mean/max/min/std, got {reduce!r}")


def dense_graph_conv(adj: Tensor, x: Tensor, weight: Tensor, bias: Tensor | None = None,
                     normalization: str = "sym", self_loops: bool = True,
                     bias_before_aggregation: bool = False) -> Tensor:
    """Reference GCN layer ``H' = Â X Wᵀ + b`` (book eq. 18270, without σ), ``weight (out, in)``.

    ``Â`` is :func:`~tensorprism.tensor.graph.normalize_adjacency_dense`; with
    ``bias_before_aggregation`` it computes ``Â (X Wᵀ + b)``, the book's §8.7.2 variant (E18).
    """
    a = normalize_adjacency_dense(adj, normalization, self_loops)
    h = x @ weight.t()
    if bias is not None and bias_before_aggregation:
        return a @ (h + bias)
    out = a @ h
    return out if bias is None else out + bias


def dense_gat(adj: Tensor, x: Tensor, weight: Tensor, att_src: Tensor, att_dst: Tensor,
              negative_slope: float | None = 0.2, concat: bool = True,
              edge_bias: Tensor | None = None) -> Tensor:
    """Reference multi-head graph attention (book eqs. 18330–18368, pyGAT-style all-pairs form).

    ``weight (H·F', F_in)``, ``att_src``/``att_dst (H, F')`` split the book's ``a ∈ R^{2F'}`` into
    its halves: ``e_ij = LeakyReLU(a_dstᵀ W h_i + a_srcᵀ W h_j) (+ edge_bias_ij)``; softmax over
    ``{j : A_ij ≠ 0}``; ``h'_i = Σ_j α_ij W h_j``; heads concatenated ``(N, H·F')`` or averaged.
    ``negative_slope=None`` drops the LeakyReLU (Exercises 6, 13).
    """
    heads, f_out = att_src.shape
    wh = (x @ weight.t()).view(-1, heads, f_out)  # (N, H, F')
    s_dst = (wh * att_dst).sum(-1)  # (N, H)
    s_src = (wh * att_src).sum(-1)
    e = s_dst.unsqueeze(1) + s_src.unsqueeze(0)  # (N_i, N_j, H)
    if negative_slope is not None:
        e = F.leaky_relu(e, negative_slope)
    if edge_bias is not None:
        e = e + edge_bias.unsqueeze(-1)
    e = e.masked_fill((adj == 0).unsqueeze(-1), float("-inf"))
    alpha = torch.softmax(e, dim=1).nan_to_num(0.0)  # rows with no neighbour → 0
    out = torch.einsum("ijh,jhf->ihf", alpha, wh)
    return out.reshape(-1, heads * f_out) if concat else out.mean(1)
