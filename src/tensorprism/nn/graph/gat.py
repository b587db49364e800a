"""Graph attention (Veličković et al. 2018; book §8.4.2, eqs. 18330–18368).

.. math::
    e_{ij} = \\mathrm{LeakyReLU}_{0.2}\\big(\\mathbf a^\\top [W h_i \\Vert W h_j]\\big), \\quad
    \\alpha_{ij} = \\mathrm{softmax}_{j \\in \\mathcal N(i) \\cup \\{i\\}}(e_{ij}), \\quad
    h_i' = \\big\\Vert_{k=1}^{K} \\sum_j \\alpha^{(k)}_{ij} W^{(k)} h_j \\ \\text{(or the mean over k)}

``a = [a_dst; a_src]`` is stored as its two halves so the score is a sum of two per-node terms
(``O(N·F)`` instead of the book's ``O(N²·2F)`` all-pairs tensor, listing L6). Fixes over the
book's listing: attention dropout uses the configured rate (not a hard-coded 0.6), the node
attends to itself by default (erratum E5), and the multi-head output is ``‖_k`` (erratum E4).
The output non-linearity (ELU in the paper) is applied by the model. The weighted sum over
neighbours is the layer's :class:`~tensorprism.nn.graph.message_passing.MessagePassing` step: the
reference path builds the ``(E, K, F')`` messages ``α_ij W h_j`` and scatter-sums them; the fused
path runs one CSR product per head (:func:`~tensorprism.functional.graph.attention_aggregate`),
so the message tensor is never built (first-order gradients only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...functional.graph import (
    attention_aggregate,
    csr_structure,
    node_linear,
    scatter_softmax,
)
from ...tensor.graph import add_self_loops, num_nodes_of, remove_self_loops, sort_edge_index
from .message_passing import MessagePassing, PropagationCache


class GATConv(MessagePassing):
    """Multi-head graph attention layer.

    Args:
        in_channels, out_channels: ``F_in`` and per-head ``F'``.
        heads: ``K``. concat: output ``(N, K·F')`` if True else the head mean ``(N, F')``.
        negative_slope: LeakyReLU slope (0.2); ``None`` for the exercises' plain ``aᵀ[..]``.
        dropout: dropout on the attention coefficients during training.
        self_loops: attend to the node itself (existing loops are replaced by one loop).
        edge_weight_bias: add ``A_ij`` (the edge weight) to ``e_ij`` (Exercise 16).
        bias: learnable output bias.
        value_dropout: dropout on the transformed features ``W h_j`` that are summed (not on the
            scores), as the GAT reference code does; 0 (PyG's behaviour) by default.

    Shapes: ``x (N, F_in)``, ``edge_index (2, E)`` → ``(N, K·F')`` or ``(N, F')``.
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float | None = 0.2, dropout: float = 0.0, self_loops: bool = True,
                 edge_weight_bias: bool = False, bias: bool = True, value_dropout: float = 0.0):
        super().__init__("sum")
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.negative_slope, self.dropout = concat, negative_slope, dropout
        self.self_loops, self.edge_weight_bias = self_loops, edge_weight_bias
        self.value_dropout = value_dropout
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(heads, out_channels))
        width = heads * out_channels if concat else out_channels
        self.bias = nn.Parameter(torch.empty(width)) if bias else None
        self._cache = PropagationCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        nn.init.xavier_uniform_(self.att_src.unsqueeze(0))
        nn.init.xavier_uniform_(self.att_dst.unsqueeze(0))
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache.clear()

    def _edges(self, edge_index: Tensor, edge_weight: Tensor | None, n: int):
        def build():
            ei, w = edge_index, edge_weight
            if self.self_loops:
                ei, w = remove_self_loops(ei, w)
                ei, w = add_self_loops(ei, w, n, fill_value=0.0)
            ei, w = sort_edge_index(ei, w, n, by="target")  # CSR order
            return ei, w, csr_structure(ei, n)

        return self._cache.get(edge_index, edge_weight, n, build)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        """``α_ij W h_j``: ``x_j (E, K, F')`` weighted by ``alpha (E, K)``."""
        return x_j * alpha.unsqueeze(-1)

    def fused(self, edge_index: Tensor, size: tuple[int, int], x: Tensor, alpha: Tensor,
              csr: dict[str, Tensor]) -> Tensor:
        return attention_aggregate(alpha, x, csr)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None,
                return_attention: bool = False):
        n = num_nodes_of(edge_index, x.size(0))
        ei, w, csr = self._edges(edge_index, edge_weight if self.edge_weight_bias else None, n)
        src, dst = ei[0], ei[1]
        h = node_linear(x, self.lin.weight).view(n, self.heads, self.out_channels)  # (N, K, F')
        s_src = (h * self.att_src).sum(-1)  # (N, K)
        s_dst = (h * self.att_dst).sum(-1)
        e = s_src.index_select(0, src) + s_dst.index_select(0, dst)  # (E, K)
        if self.negative_slope is not None:
            e = F.leaky_relu(e, self.negative_slope)
        if w is not None:
            e = e + w.view(-1, 1)
        alpha = scatter_softmax(e, dst, n)
        alpha = F.dropout(alpha, self.dropout, self.training)
        values = F.dropout(h, self.value_dropout, self.training) if self.value_dropout else h
        out = self.propagate(ei, x=values, alpha=alpha, csr=csr, size=(n, n))  # Σ_j α_ij W h_j (N, K, F')
        out = out.reshape(n, -1) if self.concat else out.mean(1)
        if self.bias is not None:
            out = out + self.bias
        return (out, (ei, alpha)) if return_attention else out

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, heads={self.heads}, concat={self.concat}, "
                f"negative_slope={self.negative_slope}, dropout={self.dropout}, "
                f"self_loops={self.self_loops}")
