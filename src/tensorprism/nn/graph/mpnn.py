"""Message passing neural network with an edge network and a GRU update (Gilmer et al. 2017;
book §8.4.4, eqs. 18577–18595).

.. math::
    m_i = \\sum_{j \\in \\mathcal N(i)} M(h_i, h_j, e_{ij}), \\qquad h_i' = \\mathrm{GRU}(m_i, h_i)

Message functions:

* ``"edge_network"`` (the paper's): ``M = A(e_{ij}) h_j`` with ``A`` an MLP mapping the edge
  features to an ``(F, F)`` matrix — :class:`EdgeNetworkConv`;
* ``"concat"`` (the book's listing L8, with its shapes repaired: bugs M1–M3):
  ``M = ReLU(W [h_i ‖ h_j ‖ e_ij] + b)``.

All nodes are updated synchronously from the previous state (the book's loop updated nodes in
place, so later nodes saw already-updated neighbours, bug M3); nodes without neighbours get
``m_i = 0`` (bug M4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ConfigError
from .message_passing import MessagePassing


class EdgeNetworkConv(MessagePassing):
    """``h_i' = W_root h_i + b + AGG_j (A(e_ij) h_j)`` with ``A: (E, D) → (E, F_in, F_out)``.

    ``edge_nn`` maps ``edge_attr (E, D)`` to ``(E, F_in·F_out)``. Shapes: ``x (N, F_in)`` →
    ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, edge_nn: nn.Module, aggr: str = "sum",
                 root_weight: bool = True, bias: bool = True):
        super().__init__(aggr)
        self.in_channels, self.out_channels, self.edge_nn = in_channels, out_channels, edge_nn
        self.root = nn.Linear(in_channels, out_channels, bias=False) if root_weight else None
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def reset_parameters(self) -> None:
        for m in self.edge_nn.modules():
            if hasattr(m, "reset_parameters") and m is not self.edge_nn:
                m.reset_parameters()
        if self.root is not None:
            self.root.reset_parameters()
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def edge_matrices(self, edge_attr: Tensor) -> Tensor:
        """``A(e_ij)`` for every edge, ``(E, F_in, F_out)``."""
        return self.edge_nn(edge_attr).view(-1, self.in_channels, self.out_channels)

    def message(self, x_j: Tensor, edge_attr: Tensor, matrices: Tensor | None) -> Tensor:
        w = self.edge_matrices(edge_attr) if matrices is None else matrices
        return torch.bmm(x_j.unsqueeze(1), w).squeeze(1)  # (E, F_out)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor,
                matrices: Tensor | None = None) -> Tensor:
        """``matrices``: precomputed :meth:`edge_matrices` (reused across weight-tied steps)."""
        out = self.propagate(edge_index, x=x, edge_attr=edge_attr, matrices=matrices,
                             size=(x.size(0), x.size(0)))
        if self.root is not None:
            out = out + self.root(x)
        return out if self.bias is None else out + self.bias


class ConcatMessageConv(MessagePassing):
    """The book's MPNN message ``ReLU(W [h_i ‖ h_j ‖ e_ij] + b)`` summed over neighbours."""

    def __init__(self, channels: int, edge_dim: int, aggr: str = "sum"):
        super().__init__(aggr)
        self.lin = nn.Linear(2 * channels + edge_dim, channels)

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def message(self, x_i: Tensor, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        return F.relu(self.lin(torch.cat([x_i, x_j, edge_attr], dim=-1)))

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        return self.propagate(edge_index, x=x, edge_attr=edge_attr, size=(x.size(0), x.size(0)))


class MPNNLayer(nn.Module):
    """One MPNN step ``h' = GRU(m, h)`` on hidden states of width ``channels``.

    Args:
        channels: hidden width ``F`` (input and output; project raw features first).
        edge_dim: ``D``, the width of ``edge_attr``.
        message: ``"edge_network"`` or ``"concat"`` (see module docs).
        edge_hidden: hidden width of the edge network's MLP.

    Shapes: ``h (N, F)``, ``edge_index (2, E)``, ``edge_attr (E, D)`` → ``(N, F)``.
    """

    def __init__(self, channels: int, edge_dim: int, message: str = "edge_network",
                 edge_hidden: int = 64, aggr: str = "sum"):
        super().__init__()
        if message == "edge_network":
            edge_nn = nn.Sequential(nn.Linear(edge_dim, edge_hidden), nn.ReLU(),
                                    nn.Linear(edge_hidden, channels * channels))
            self.conv = EdgeNetworkConv(channels, channels, edge_nn, aggr=aggr)
        elif message == "concat":
            self.conv = ConcatMessageConv(channels, edge_dim, aggr=aggr)
        else:
            raise ConfigError(f"message must be 'edge_network' or 'concat', got {message!r}")
        self.gru = nn.GRUCell(channels, channels)

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        self.gru.reset_parameters()

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor, steps: int = 1) -> Tensor:
        """``steps`` weight-tied message-passing steps (Gilmer et al. share them); the edge
        network's matrices are computed once for all steps."""
        extra = {}
        if isinstance(self.conv, EdgeNetworkConv):
            extra["matrices"] = self.conv.edge_matrices(edge_attr)
        for _ in range(steps):
            h = self.gru(F.relu(self.conv(h, edge_index, edge_attr, **extra)), h)
        return h
