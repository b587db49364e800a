r"""Relational GCN with basis or block-diagonal decomposition (Schlichtkrull et al. 2018; book §8.4.5,
eq. 18663).

.. math::
    h_i' = W_0 h_i + b + \sum_{r \in \mathcal R} \frac{1}{c_{i,r}}
           \sum_{j \in \mathcal N_r(i)} W_r h_j, \qquad c_{i,r} = |\mathcal N_r(i)|

``W_r (F_in, F_out)`` is either free (``R F_in F_out`` parameters) or regularised by one of the
paper's two decompositions:

* basis (paper eq. 3), ``V_b (F_in, F_out)``, ``a_{rb}`` scalars:

  .. math:: W_r = \sum_{b=1}^{B} a_{rb} V_b

* block-diagonal (paper eq. 4), ``Q_{br} (F_in/B, F_out/B)``:

  .. math:: W_r = \operatorname{diag}(Q_{1r}, \dots, Q_{Br}) = \bigoplus_{b=1}^{B} Q_{br}

  so ``R B (F_in/B)(F_out/B) = R F_in F_out / B`` parameters. Splitting
  :math:`h_j = [h_j^{(1)}; \dots; h_j^{(B)}]` into ``B`` contiguous chunks of ``F_in/B``, chunk
  ``b`` of the message is :math:`Q_{br} h_j^{(b)}` (``F_out/B``) — one batched einsum over the
  blocks; the dense ``W_r`` is never formed.

The per-relation sum is the layer's :class:`~tensorprism.nn.graph.message_passing.MessagePassing`
step: the reference path transforms every edge's ``h_j`` and scatters (mean or sum) per relation;
the fused path transforms each node once, ``X W_r (N, F_out)``, and applies the relation's
normalised adjacency ``S_r`` (``S_r[i, j] = 1/c_{i,r}``) as one CSR product, ``S_r`` cached per
graph — cheaper whenever a relation has more edges than the graph has nodes.

Fixes over the book's listing (L9): the ``1/c_{i,r}`` normalisation is applied (the text leaves
its value open; ``|N_r(i)|`` is the paper's choice), the weights are Glorot-initialised instead of
unscaled ``randn``, and the output has the right shape ``(N, F_out)`` (bug R1).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from ...functional.graph import csr_pair
from .message_passing import MessagePassing, PropagationCache, csr_matmul


def _check_blocks(in_channels: int, out_channels: int, num_bases: int | None,
                  num_blocks: int | None) -> None:
    if num_blocks is None:
        return
    if num_bases is not None:
        raise ConfigError(
            f"RGCNConv got num_bases={num_bases} and num_blocks={num_blocks}; the basis (eq. 3) and "
            "block-diagonal (eq. 4) decompositions are alternatives. Pass only one of them "
            "(set the other to None).")
    if num_blocks < 1:
        raise ConfigError(f"RGCNConv num_blocks must be a positive integer, got {num_blocks}; "
                          "use None for no decomposition.")
    bad = [f"{name}={c}" for name, c in (("in_channels", in_channels), ("out_channels", out_channels))
           if c % num_blocks]
    if bad:
        ok = [d for d in range(1, math.gcd(in_channels, out_channels) + 1)
              if in_channels % d == 0 and out_channels % d == 0]
        raise ConfigError(
            f"RGCNConv num_blocks={num_blocks} must divide both channel counts, but {', '.join(bad)} "
            f"is not a multiple of {num_blocks}. Choose num_blocks from {ok} or change the widths "
            f"to multiples of {num_blocks}.")


class RGCNConv(MessagePassing):
    """R-GCN layer. ``edge_type (E,)`` holds each edge's relation in ``[0, num_relations)``.

    Args:
        num_bases: ``B`` bases (eq. 3); ``None`` gives one free ``W_r`` per relation.
        num_blocks: ``B`` diagonal blocks (eq. 4); must divide ``in_channels`` and
            ``out_channels``; cannot be combined with ``num_bases``.
        aggr: ``"mean"`` (``1/c_{i,r} = 1/|N_r(i)|``) or ``"sum"`` (the book's code).
        root_weight: include ``W_0 h_i``.

    Parameters: ``weight`` is ``(R, F_in, F_out)`` (free), ``(B, F_in, F_out)`` with
    ``comp (R, B)`` (basis), or ``(R, B, F_in/B, F_out/B)`` (blocks); ``root (F_in, F_out)``,
    ``bias (F_out,)`` — the same names and layouts as PyTorch Geometric's ``RGCNConv``.

    Shapes: ``x (N, F_in)``, ``edge_index (2, E)``, ``edge_type (E,)`` → ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int,
                 num_bases: int | None = None, aggr: str = "mean", root_weight: bool = True,
                 bias: bool = True, num_blocks: int | None = None):
        if aggr not in ("mean", "sum"):
            raise ConfigError(f"RGCNConv aggr must be 'mean' (1/|N_r(i)|) or 'sum', got {aggr!r}")
        super().__init__(aggr)
        _check_blocks(in_channels, out_channels, num_bases, num_blocks)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.num_bases = num_relations, num_bases
        self._cache = PropagationCache()
        self.num_blocks = num_blocks
        if num_blocks:
            shape = (num_relations, num_blocks, in_channels // num_blocks, out_channels // num_blocks)
        else:
            shape = (num_bases or num_relations, in_channels, out_channels)
        self.weight = nn.Parameter(torch.empty(shape))
        self.comp = nn.Parameter(torch.empty(num_relations, num_bases)) if num_bases else None
        self.root = nn.Parameter(torch.empty(in_channels, out_channels)) if root_weight else None
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Glorot per matrix (each W_r, V_b or block Q_br maps its last-but-one axis to its last one);
        # xavier_uniform_ on the 3-D/4-D tensor would count F_out as a receptive field and start far too small.
        i, o = self.weight.shape[-2:]
        bound = math.sqrt(6.0 / (i + o))
        nn.init.uniform_(self.weight, -bound, bound)
        for p in (self.comp, self.root):
            if p is not None:
                nn.init.xavier_uniform_(p)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache.clear()

    def relation_weights(self) -> Tensor:
        """Dense ``W_r`` for every relation, ``(R, F_in, F_out)`` (block-diagonal when ``num_blocks``)."""
        if self.num_blocks:
            r, nb, i, o = self.weight.shape
            eye = torch.eye(nb, dtype=self.weight.dtype, device=self.weight.device)
            # (R, B, i, B', o) with block b on the diagonal b = B' -> (R, B i, B o)
            return torch.einsum("rbio,bc->rbico", self.weight, eye).reshape(r, nb * i, nb * o)
        if self.comp is None:
            return self.weight
        return torch.einsum("rb,bio->rio", self.comp, self.weight)

    def _transform(self, h: Tensor, w: Tensor) -> Tensor:
        """``h (E_r, F_in)`` times ``W_r`` → ``(E_r, F_out)``.

        ``w`` is the dense ``W_r (F_in, F_out)``, or with ``num_blocks`` the blocks
        ``(B, F_in/B, F_out/B)``: chunk ``b`` of each row meets ``Q_br`` in one batched einsum.
        """
        if not self.num_blocks:
            return h @ w
        nb, i, o = w.shape
        return torch.einsum("ebi,bio->ebo", h.reshape(-1, nb, i), w).reshape(-1, nb * o)

    def message(self, x_j: Tensor, weight: Tensor) -> Tensor:
        """``W_r h_j`` per edge of relation ``r``: ``(E_r, F_in)`` → ``(E_r, F_out)``."""
        return self._transform(x_j, weight)

    def fused(self, edge_index: Tensor, size: tuple[int, int], x: Tensor, weight: Tensor,
              csr: tuple[Tensor, Tensor] | None = None):
        return NotImplemented if csr is None else csr_matmul(csr, self._transform(x, weight))

    def _relations(self, edge_index: Tensor, edge_type: Tensor, n: int, dtype: torch.dtype) -> list:
        """Per relation ``(edge_index_r (2, E_r), (S_r, S_rᵀ) CSR or None)``; the CSR operators only
        for the fused path, in ``dtype``, cached per graph."""
        def split(with_csr: bool):
            out = []
            for r in range(self.num_relations):
                ei = edge_index[:, edge_type == r]
                csr = None
                if with_csr and ei.size(1):
                    w = None
                    if self.aggr == "mean":
                        deg = torch.bincount(ei[1], minlength=n).to(dtype)
                        w = deg.reciprocal().index_select(0, ei[1])  # 1/c_{i,r} on each edge (j -> i)
                    csr = csr_pair(ei, w, n)
                out.append((ei, csr))
            return out

        if not self.use_fused:
            return split(False)
        return self._cache.get(edge_index, edge_type, (n, dtype), lambda: split(True))

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        n = x.size(0)
        out = x @ self.root if self.root is not None else x.new_zeros(n, self.out_channels)
        # per relation: (R, F_in, F_out) dense, or (R, B, F_in/B, F_out/B) blocks
        weights = self.weight if self.num_blocks else self.relation_weights()
        for w, (ei, csr) in zip(weights, self._relations(edge_index, edge_type, n, x.dtype), strict=True):
            if ei.size(1):
                out = out + self.propagate(ei, x=x, weight=w, csr=csr, size=(n, n))
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, num_relations={self.num_relations}, "
                f"num_bases={self.num_bases}, num_blocks={self.num_blocks}, aggr={self.aggr!r}")
