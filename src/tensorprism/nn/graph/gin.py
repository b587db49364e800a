"""Graph isomorphism network layer (Xu et al. 2019).

.. math::
    h_i' = \\mathrm{MLP}\\big((1 + \\epsilon) h_i + \\textstyle\\sum_{j \\in \\mathcal N(i)} h_j\\big)

Sum aggregation with an injective MLP makes the layer as discriminative as the 1-WL test. The
neighbour sum is a :class:`~tensorprism.nn.graph.message_passing.LinearPropagation` with ``S = A``
(fused: one cached CSR product; reference: scatter-sum of ``h_j``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...tensor.graph import num_nodes_of
from .message_passing import LinearPropagation


class GINConv(LinearPropagation):
    """GIN layer around any ``mlp: (N, F_in) → (N, F_out)``; ``train_eps`` learns ``ε``.

    ``cache`` keeps ``A`` while the same ``edge_index`` tensor is passed (full-batch training).

    Shapes: ``x (N, F_in)``, ``edge_index (2, E)`` → ``(N, F_out)``.
    """

    def __init__(self, mlp: nn.Module, eps: float = 0.0, train_eps: bool = False, cache: bool = True):
        super().__init__(cache)
        self.mlp = mlp
        self.initial_eps = eps
        if train_eps:
            self.eps = nn.Parameter(torch.tensor([eps]))
        else:
            self.register_buffer("eps", torch.tensor([eps]))

    def reset_parameters(self) -> None:
        for m in self.mlp.modules():
            if m is not self.mlp and hasattr(m, "reset_parameters"):
                m.reset_parameters()
        self.eps.data.fill_(self.initial_eps)
        self.reset_cache()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        n = num_nodes_of(edge_index, x.size(0))
        return self.mlp((1 + self.eps) * x + self.apply_operator(x, edge_index, None, n))

    def extra_repr(self) -> str:
        return f"eps={float(self.eps):g}, train_eps={isinstance(self.eps, nn.Parameter)}"
