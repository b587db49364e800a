"""Relational GCN with basis decomposition (Schlichtkrull et al. 2018; book §8.4.5, eq. 18663).

.. math::
    h_i' = W_0 h_i + b + \\sum_{r \\in \\mathcal R} \\frac{1}{c_{i,r}}
           \\sum_{j \\in \\mathcal N_r(i)} W_r h_j, \\qquad
    W_r = \\sum_{b=1}^{B} a_{rb} V_b, \\qquad c_{i,r} = |\\mathcal N_r(i)|

Fixes over the book's listing (L9): the ``1/c_{i,r}`` normalisation is applied (the text leaves
its value open; ``|N_r(i)|`` is the paper's choice), the weights are Glorot-initialised instead of
unscaled ``randn``, and the output has the right shape ``(N, F_out)`` (bug R1).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...functional.graph import scatter


class RGCNConv(nn.Module):
    """R-GCN layer. ``edge_type (E,)`` holds each edge's relation in ``[0, num_relations)``.

    Args:
        num_bases: ``B``; ``None`` gives one free ``W_r`` per relation.
        aggr: ``"mean"`` (``1/c_{i,r} = 1/|N_r(i)|``) or ``"sum"`` (the book's code).
        root_weight: include ``W_0 h_i``.

    Shapes: ``x (N, F_in)``, ``edge_index (2, E)``, ``edge_type (E,)`` → ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int,
                 num_bases: int | None = None, aggr: str = "mean", root_weight: bool = True,
                 bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.num_bases, self.aggr = num_relations, num_bases, aggr
        self.weight = nn.Parameter(torch.empty(num_bases or num_relations, in_channels, out_channels))
        self.comp = nn.Parameter(torch.empty(num_relations, num_bases)) if num_bases else None
        self.root = nn.Parameter(torch.empty(in_channels, out_channels)) if root_weight else None
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p in (self.weight, self.comp, self.root):
            if p is not None:
                nn.init.xavier_uniform_(p)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def relation_weights(self) -> Tensor:
        """``W_r`` for every relation, ``(R, F_in, F_out)``."""
        if self.comp is None:
            return self.weight
        return torch.einsum("rb,bio->rio", self.comp, self.weight)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        n = x.size(0)
        out = x @ self.root if self.root is not None else x.new_zeros(n, self.out_channels)
        for r, w in enumerate(self.relation_weights()):
            mask = edge_type == r
            if not bool(mask.any()):
                continue
            src, dst = edge_index[0, mask], edge_index[1, mask]
            out = out + scatter(x.index_select(0, src) @ w, dst, n, self.aggr)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, num_relations={self.num_relations}, "
                f"num_bases={self.num_bases}, aggr={self.aggr!r}")
