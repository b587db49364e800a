"""GraphSAGE (Hamilton et al. 2017; book §8.4.3, eqs. 18458–18494).

.. math::
    h_i' = W [h_i \\Vert \\mathrm{AGG}_{j \\in \\mathcal N_s(i)} h_j] + b
         = W_{root} h_i + W_{nbr} \\mathrm{AGG}(\\cdot) + b

The book's concatenation ``Linear(2·F_in → F_out)`` is stored as its two halves (``lin_root`` and
``lin_nbr``), which is the same map. Aggregators: ``"mean"``, ``"sum"``, ``"max"``, ``"pool"``
(the paper's max-pooling: ``max_j ReLU(W_pool h_j + b)``) and ``"lstm"``. Neighbour sampling
(``N_s``) is done on the graph before the layer runs, by
:func:`tensorprism.graph.sampling.sample_neighbors` or the mini-batch
:class:`~tensorprism.graph.sampling.NeighborSampler` (random, fixing the book's deterministic
first-5 choice, erratum E6).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ConfigError
from .message_passing import LSTMAggregation, MessagePassing

SAGE_AGGREGATORS = ("mean", "sum", "max", "pool", "lstm")


class SAGEConv(MessagePassing):
    """GraphSAGE layer. Shapes: ``x (N, F_in)``, ``edge_index (2, E)`` → ``(N, F_out)``.

    Args:
        aggr: one of ``mean, sum, max, pool, lstm``.
        normalize: L2-normalise each output row (the paper's step 7).
        root_weight: include ``W_root h_i`` (the ``h_i`` half of the concatenation).
    """

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "mean",
                 normalize: bool = False, root_weight: bool = True, bias: bool = True):
        if aggr not in SAGE_AGGREGATORS:
            raise ConfigError(f"SAGEConv aggr must be one of {SAGE_AGGREGATORS}, got {aggr!r}")
        inner = {"pool": "max", "lstm": LSTMAggregation(in_channels)}.get(aggr, aggr)
        super().__init__(inner)
        self.in_channels, self.out_channels, self.kind = in_channels, out_channels, aggr
        self.normalize, self.root_weight = normalize, root_weight
        self.pool = nn.Linear(in_channels, in_channels) if aggr == "pool" else None
        self.lin_nbr = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_root = nn.Linear(in_channels, out_channels, bias=False) if root_weight else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in (self.pool, self.lin_nbr, self.lin_root, self.aggr):
            if isinstance(m, nn.Module):
                m.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        src = F.relu(self.pool(x)) if self.pool is not None else x
        out = self.lin_nbr(self.propagate(edge_index, x=src, size=(x.size(0), x.size(0))))
        if self.lin_root is not None:
            out = out + self.lin_root(x)
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, aggr={self.kind!r}, normalize={self.normalize}"
