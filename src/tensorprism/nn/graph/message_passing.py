"""The generic message-passing layer (book §8.1.3, eqs. 17909–17919; Gilmer et al. 2017).

.. math::
    m_i = \\mathrm{AGG}_{j \\in \\mathcal N(i)} M(h_i, h_j, e_{ij}), \\qquad h_i' = U(h_i, m_i)

A subclass writes only its ``message`` (and, if needed, ``update``); :meth:`propagate` gathers
the per-edge inputs, calls ``message``, reduces the messages onto the target nodes with the
chosen aggregation (scatter sum/mean/max/min/std, or a learnable one such as
:class:`LSTMAggregation`) and calls ``update``. Argument naming as in PyTorch Geometric: a
``message`` parameter ``x_j`` receives ``x[source]`` per edge, ``x_i`` receives ``x[target]``,
any other name is passed through unchanged (e.g. per-edge ``edge_attr``).
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from ...functional.graph import REDUCTIONS, scatter


def to_dense_batch(x: Tensor, index: Tensor, dim_size: int, fill_value: float = 0.0):
    """Group rows of ``x (E, F)`` by ``index`` into ``(dim_size, max_count, F)`` plus a mask.

    Rows keep their order inside a group (a stable sort), so the result is deterministic.
    """
    order = torch.sort(index, stable=True).indices
    idx = index[order]
    counts = torch.bincount(idx, minlength=dim_size)
    start = torch.cumsum(counts, 0) - counts
    pos = torch.arange(idx.numel(), device=x.device) - start[idx]
    width = int(counts.max()) if counts.numel() else 0
    out = x.new_full((dim_size, max(width, 1), *x.shape[1:]), fill_value)
    out[idx, pos] = x[order]
    mask = torch.zeros(dim_size, max(width, 1), dtype=torch.bool, device=x.device)
    mask[idx, pos] = True
    return out, mask


class LSTMAggregation(nn.Module):
    """LSTM aggregator of GraphSAGE (Hamilton et al. 2017, book eq. 18487): the neighbours' messages,
    in edge order, are read by an LSTM and its last hidden state is the aggregate. Not permutation
    invariant (the book leaves the order open; we use the stored edge order).
    """

    def __init__(self, in_channels: int, out_channels: int | None = None):
        super().__init__()
        self.lstm = nn.LSTM(in_channels, out_channels or in_channels, batch_first=True)

    def reset_parameters(self) -> None:
        self.lstm.reset_parameters()

    def forward(self, msg: Tensor, index: Tensor, dim_size: int) -> Tensor:
        dense, mask = to_dense_batch(msg, index, dim_size)  # (N, D, F)
        lengths = mask.sum(1)
        has = lengths > 0
        out = msg.new_zeros(dim_size, self.lstm.hidden_size)
        if has.any():
            packed = nn.utils.rnn.pack_padded_sequence(
                dense[has], lengths[has].cpu(), batch_first=True, enforce_sorted=False)
            _, (h, _) = self.lstm(packed)
            out[has] = h[-1]
        return out


class MessagePassing(nn.Module):
    """Base class: ``propagate(edge_index, size=None, **inputs) -> (N, F)``; see module docs.

    Args:
        aggr: ``"sum"``, ``"mean"``, ``"max"``, ``"min"``, ``"std"`` (scatter reductions) or an
            ``nn.Module`` called as ``aggr(messages, target_index, num_nodes)``.
    """

    def __init__(self, aggr: str | nn.Module = "sum"):
        super().__init__()
        if isinstance(aggr, str) and aggr not in REDUCTIONS:
            raise ConfigError(f"aggr must be one of {REDUCTIONS} or an nn.Module, got {aggr!r}")
        self.aggr = aggr
        self._msg_args = list(inspect.signature(self.message).parameters)
        self._upd_args = list(inspect.signature(self.update).parameters)[1:]

    # -- the three steps ------------------------------------------------------------------
    def message(self, x_j: Tensor) -> Tensor:
        """``M(h_i, h_j, e_ij)``; the default passes ``x_j`` through (plain sum/mean/max of neighbours)."""
        return x_j

    def aggregate(self, msg: Tensor, index: Tensor, dim_size: int) -> Tensor:
        if isinstance(self.aggr, str):
            return scatter(msg, index, dim_size, self.aggr)
        return self.aggr(msg, index, dim_size)

    def update(self, aggr_out: Tensor) -> Tensor:
        """``U(h_i, m_i)``; the default returns ``m_i``."""
        return aggr_out

    # -- plumbing ---------------------------------------------------------------------------
    def propagate(self, edge_index: Tensor, size: tuple[int, int] | None = None, **inputs) -> Tensor:
        src, dst = edge_index[0], edge_index[1]
        if size is None:
            first = next(v for v in inputs.values() if isinstance(v, Tensor))
            size = (first.size(0), first.size(0))
        kwargs = {}
        for name in self._msg_args:
            if name.endswith("_j") and name[:-2] in inputs:
                kwargs[name] = inputs[name[:-2]].index_select(0, src)
            elif name.endswith("_i") and name[:-2] in inputs:
                kwargs[name] = inputs[name[:-2]].index_select(0, dst)
            elif name == "index":
                kwargs[name] = dst
            elif name == "size_i":
                kwargs[name] = size[1]
            else:
                kwargs[name] = inputs.get(name)
        out = self.aggregate(self.message(**kwargs), dst, size[1])
        return self.update(out, **{k: inputs.get(k) for k in self._upd_args})

    def extra_repr(self) -> str:
        aggr = self.aggr if isinstance(self.aggr, str) else type(self.aggr).__name__
        return f"aggr={aggr!r}"
