"""Graph convolution (Kipf & Welling 2017; book §8.3.2, §8.4.1, §8.5, §8.7) in one configurable layer.

.. math::
    H' = \\hat A\\, H W^\\top + b, \\qquad
    \\hat A \\in \\{A,\\ D^{-1}A,\\ D^{-1/2} A D^{-1/2}\\}, \\quad A \\leftarrow A + I
    \\text{ if self\\_loops}

The book prints five different layers under this name (catalogue table C); each is this layer
with one setting (activation is applied by the model, never inside the layer):

====================================  ==============================================================
book layer                            ``GCNConv(...)``
====================================  ==============================================================
C1 ``GNNLayer`` (``Linear(A X)``)      ``normalization="none", self_loops=False``
C3/C4 row-normalised                  ``normalization="row", self_loops=False``
C5 Kipf & Welling (the text)          defaults: ``normalization="sym", self_loops=True``
C6 ``mm(adj, x)`` then Linear         ``normalization="none", self_loops=False`` (adj holds loops)
C7 Keras, no bias                     ``normalization="none", self_loops=False, bias=False``
C8 Linear then ``adj @``              ``..., bias_before_aggregation=True`` (``Â(XWᵀ+b)``)
====================================  ==============================================================

The layer is a :class:`~tensorprism.nn.graph.message_passing.LinearPropagation` with ``S = Â``:
the reference path scatters ``Â_ij h_j`` per edge; the fused path builds ``Â`` and ``Âᵀ`` once per
graph (cached on the identity and version of ``edge_index``) as CSR matrices and applies them with
``torch.sparse.mm`` forward and backward. The multiplication order (transform or aggregate first)
is the cheaper one. Edge weights that require grad take the reference path.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from ...functional.graph import node_linear
from ...tensor.graph import NORMALIZATIONS, gcn_norm, num_nodes_of
from .message_passing import LinearPropagation, PropagationCache

__all__ = ["GCNConv", "PropagationCache"]


class GCNConv(LinearPropagation):
    """Graph convolution ``H' = Â X Wᵀ + b`` (see module docstring for the options).

    Args:
        in_channels, out_channels: ``F_in``, ``F_out``.
        normalization: ``"sym"`` (default), ``"row"`` or ``"none"``.
        self_loops: use ``A + I`` (missing loops only).
        bias: learnable ``b (F_out,)``.
        bias_before_aggregation: compute ``Â (X Wᵀ + b)`` (book §8.7.2 / §8.10 layer).
        cache: reuse ``Â`` while the same ``edge_index`` tensor is passed (default on).

    Shapes: ``x (N, F_in)``, ``edge_index (2, E)``, ``edge_weight (E,)`` → ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, normalization: str = "sym",
                 self_loops: bool = True, bias: bool = True, bias_before_aggregation: bool = False,
                 cache: bool = True):
        super().__init__(cache)
        if normalization not in NORMALIZATIONS:
            raise ConfigError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.normalization, self.self_loops = normalization, self_loops
        self.bias_before_aggregation = bias_before_aggregation
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)  # Glorot, as Kipf & Welling
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self.reset_cache()

    def operator(self, edge_index: Tensor, edge_weight: Tensor | None, n: int):
        """``(edge_index, weight)`` of ``Â`` for this layer's settings."""
        return gcn_norm(edge_index, edge_weight, n, self.normalization, self.self_loops)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        n = num_nodes_of(edge_index, x.size(0))
        bias_first = self.bias is not None and self.bias_before_aggregation
        transform_first = (bias_first or self.out_channels <= self.in_channels
                           or x.layout != torch.strided)
        h = node_linear(x, self.lin.weight) if transform_first else x
        if bias_first:
            h = h + self.bias
        out = self.apply_operator(h, edge_index, edge_weight, n)  # Â h
        if not transform_first:
            out = self.lin(out)
        if self.bias is not None and not bias_first:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, normalization={self.normalization!r}, "
                f"self_loops={self.self_loops}, bias={self.bias is not None}"
                + (", bias_before_aggregation=True" if self.bias_before_aggregation else ""))
