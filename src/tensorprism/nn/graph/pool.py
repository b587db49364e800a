"""Graph readouts: one vector per graph from its node vectors (book line 19318 uses the mean).

``batch (N,)`` gives each node's graph id in ``[0, B)`` (see :class:`tensorprism.data.graph.GraphBatch`);
``batch=None`` means one graph. Outputs are ``(B, F)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from ...functional.graph import scatter, scatter_softmax


def _batch(x: Tensor, batch: Tensor | None, size: int | None):
    if batch is None:
        return torch.zeros(x.size(0), dtype=torch.long, device=x.device), 1
    return batch, (int(batch.max()) + 1 if size is None else size)


def global_pool(x: Tensor, batch: Tensor | None = None, reduce: str = "mean",
                size: int | None = None) -> Tensor:
    """``r_g = reduce_{i in g} h_i`` with ``reduce`` in sum/mean/max."""
    if reduce not in ("sum", "mean", "max"):
        raise ConfigError(f"readout must be 'sum', 'mean' or 'max', got {reduce!r}")
    batch, b = _batch(x, batch, size)
    return scatter(x, batch, b, reduce)


class AttentionalReadout(nn.Module):
    """Gated attention pooling (Li et al. 2016): ``r_g = Σ_{i∈g} softmax_g(gate(h_i)) · f(h_i)``.

    ``gate: (N, F) → (N, 1)``; ``feat`` defaults to the identity.
    """

    def __init__(self, gate: nn.Module, feat: nn.Module | None = None):
        super().__init__()
        self.gate, self.feat = gate, feat

    def forward(self, x: Tensor, batch: Tensor | None = None, size: int | None = None) -> Tensor:
        batch, b = _batch(x, batch, size)
        alpha = scatter_softmax(self.gate(x).view(-1, 1), batch, b)
        h = self.feat(x) if self.feat is not None else x
        return scatter(alpha * h, batch, b, "sum")


class Readout(nn.Module):
    """Module form of the readouts: ``Readout("mean")``, ``"sum"``, ``"max"`` or
    ``"attention"`` (needs ``channels``)."""

    def __init__(self, kind: str = "mean", channels: int | None = None):
        super().__init__()
        self.kind = kind
        self.att = None
        if kind == "attention":
            if channels is None:
                raise ConfigError("Readout('attention') needs channels= (the node feature width)")
            self.att = AttentionalReadout(nn.Linear(channels, 1))
        elif kind not in ("sum", "mean", "max"):
            raise ConfigError(f"readout must be sum/mean/max/attention, got {kind!r}")

    def forward(self, x: Tensor, batch: Tensor | None = None, size: int | None = None) -> Tensor:
        if self.att is not None:
            return self.att(x, batch, size)
        return global_pool(x, batch, self.kind, size)

    def extra_repr(self) -> str:
        return repr(self.kind)
