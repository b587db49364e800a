"""Chebyshev spectral graph convolution (Defferrard et al. 2016; book Exercise 9, which names it
without defining it — the scaling and recurrence below are the paper's).

.. math::
    H' = \\sum_{k=0}^{K-1} T_k(\\tilde L) X W_k + b, \\quad \\tilde L = \\frac{2L}{\\lambda_{max}} - I,
    \\quad T_0 = X,\\ T_1 = \\tilde L X,\\ T_k = 2 \\tilde L T_{k-1} - T_{k-2}
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...tensor.graph import num_nodes_of, scaled_laplacian
from .message_passing import LinearPropagation


def chebyshev_basis(lap, x: Tensor, K: int):
    """Yield ``T_0(L̃) x, ..., T_{K-1}(L̃) x``; ``lap`` is ``L̃`` (dense) or a callable ``h ↦ L̃ h``."""
    apply = lap if callable(lap) else lap.__matmul__
    t_prev, t = None, x
    for k in range(K):
        yield t
        if k + 1 < K:
            t_prev, t = t, (apply(t) if k == 0 else 2 * apply(t) - t_prev)


def chebyshev_filter(lap: Tensor, x: Tensor, coefficients) -> Tensor:
    """``Σ_k c_k T_k(L̃) x`` with scalar ``coefficients`` (Exercise 9's spectral filter)."""
    return sum(c * t for c, t in zip(coefficients, chebyshev_basis(lap, x, len(coefficients)), strict=True))


class ChebConv(LinearPropagation):
    """ChebNet layer of order ``K`` (``K`` terms). Shapes: ``x (N, F_in)`` → ``(N, F_out)``.

    Args:
        kind: Laplacian (``"sym"`` default, or ``"combinatorial"``/``"rw"``).
        lambda_max: largest eigenvalue used in the scaling (2 for ``"sym"`` by default).
    """

    def __init__(self, in_channels: int, out_channels: int, K: int, kind: str = "sym",
                 lambda_max: float | None = None, bias: bool = True, cache: bool = True):
        super().__init__(cache)
        self.in_channels, self.out_channels, self.K, self.kind = in_channels, out_channels, K, kind
        self.lambda_max = lambda_max
        self.lins = nn.ModuleList(nn.Linear(in_channels, out_channels, bias=False) for _ in range(K))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins:
            nn.init.xavier_uniform_(lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self.reset_cache()

    def operator(self, edge_index: Tensor, edge_weight: Tensor | None, n: int):
        """``(edge_index, weight)`` of the scaled Laplacian ``L̃``."""
        return scaled_laplacian(edge_index, edge_weight, n, self.kind, self.lambda_max)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        n = num_nodes_of(edge_index, x.size(0))
        basis = chebyshev_basis(lambda h: self.apply_operator(h, edge_index, edge_weight, n), x, self.K)
        out = sum(lin(t) for lin, t in zip(self.lins, basis, strict=True))
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, K={self.K}, kind={self.kind!r}"
