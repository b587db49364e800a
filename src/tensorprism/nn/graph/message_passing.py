"""The generic message-passing layer (book §8.1.3, eqs. 17909–17919; Gilmer et al. 2017).

.. math::
    m_i = \\mathrm{AGG}_{j \\in \\mathcal N(i)} M(h_i, h_j, e_{ij}), \\qquad h_i' = U(h_i, m_i)

A subclass writes only its ``message`` (and, if needed, ``update``); :meth:`propagate` gathers
the per-edge inputs, calls ``message``, reduces the messages onto the target nodes with the
chosen aggregation (scatter sum/mean/max/min/std, or a learnable one such as
:class:`LSTMAggregation`) and calls ``update``. Argument naming as in PyTorch Geometric: a
``message`` parameter ``x_j`` receives ``x[source]`` per edge, ``x_i`` receives ``x[target]``,
any other name is passed through unchanged (e.g. per-edge ``edge_attr``).

**Fused fast path.** The gather → message → scatter path materialises one message per edge; most
layers have a faster kernel for the same sum. A subclass exposes it by overriding
:meth:`MessagePassing.fused`, which receives what :meth:`propagate` receives and returns what
``aggregate(message(...))`` would (``update`` is applied after either path). ``propagate`` calls it
first and falls back to the generic path when it returns ``NotImplemented`` (inputs it does not
cover, e.g. edge weights that need gradients) or when ``use_fused`` is off. The generic path stays
the readable reference: :func:`reference_path` switches a whole model to it, and the tests check
the two paths equal for every layer. :class:`LinearPropagation` is the common case — a fixed sparse
operator ``S`` (GCN's ``Â``, ChebNet's ``L̃``, GIN's ``A``) applied as one cached CSR product.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from ...functional.graph import REDUCTIONS, csr_pair, scatter, spmm


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

    Attributes:
        use_fused: try :meth:`fused` before the generic path (default ``True``).
    """

    use_fused = True

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

    def fused(self, edge_index: Tensor, size: tuple[int, int], **inputs):
        """The fast-path hook: ``aggregate(message(...))`` ``(N, ...)`` by a faster kernel, or
        ``NotImplemented`` to use the generic path (the default)."""
        del edge_index, size, inputs
        return NotImplemented

    # -- plumbing ---------------------------------------------------------------------------
    def propagate(self, edge_index: Tensor, size: tuple[int, int] | None = None, **inputs) -> Tensor:
        """``update(aggregate(message(...)))`` over ``edge_index (2, E)`` into ``size[1]`` target
        nodes; node inputs ``(N, ...)``, per-edge inputs ``(E, ...)``. Fused when available."""
        if size is None:
            first = next(v for v in inputs.values() if isinstance(v, Tensor))
            size = (first.size(0), first.size(0))
        out = self.fused(edge_index, size, **inputs) if self.use_fused else NotImplemented
        if out is NotImplemented:
            out = self.aggregate(self.message(**self._message_inputs(edge_index, size, inputs)),
                                 edge_index[1], size[1])
        return self.update(out, **{k: inputs.get(k) for k in self._upd_args})

    def _message_inputs(self, edge_index: Tensor, size: tuple[int, int], inputs: dict) -> dict:
        """The keyword arguments of :meth:`message`: ``x_j`` gathered at sources, ``x_i`` at targets."""
        src, dst = edge_index[0], edge_index[1]
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
        return kwargs

    def extra_repr(self) -> str:
        aggr = self.aggr if isinstance(self.aggr, str) else type(self.aggr).__name__
        return f"aggr={aggr!r}"


@contextmanager
def reference_path(module: nn.Module) -> Iterator[nn.Module]:
    """Run every :class:`MessagePassing` layer of ``module`` on the generic message/aggregate path
    inside the block (the reference the fused kernels are tested against)."""
    layers = [m for m in module.modules() if isinstance(m, MessagePassing)]
    saved = [m.use_fused for m in layers]
    for m in layers:
        m.use_fused = False
    try:
        yield module
    finally:
        for m, flag in zip(layers, saved, strict=True):
            m.use_fused = flag


def _same(a, b) -> bool:
    return a is b if isinstance(a, Tensor) or isinstance(b, Tensor) else a == b


class PropagationCache:
    """Caches a graph-derived object for the last ``(edge_index, edge_weight, N)`` it saw.

    The key holds the tensors themselves (so their memory cannot be reused under us) and their
    in-place version counters, so an edited ``edge_index`` is never served stale. ``edge_weight``
    may be any per-edge tensor the object depends on (e.g. R-GCN's ``edge_type``).
    """

    def __init__(self):
        self._key = None
        self._value = None

    def get(self, edge_index: Tensor, edge_weight: Tensor | None, n: int, build: Callable[[], object]):
        key = (edge_index, edge_index._version, edge_weight,
               None if edge_weight is None else edge_weight._version, n, edge_index.device)
        old = self._key
        if old is None or not all(_same(a, b) for a, b in zip(old, key, strict=True)):
            self._value = build()
            self._key = key
        return self._value

    def clear(self) -> None:
        self._key = self._value = None


def csr_matmul(csr: tuple[Tensor, Tensor], x: Tensor) -> Tensor:
    """``S x`` for a cached CSR pair ``(S, Sᵀ)`` (:func:`~tensorprism.functional.graph.spmm`), ``S``
    cast to ``x``'s dtype when they differ (operators are built in the default dtype)."""
    a, a_t = csr
    if a.dtype != x.dtype:
        a, a_t = a.to(x.dtype), a_t.to(x.dtype)
    return spmm(a, a_t, x)


class LinearPropagation(MessagePassing):
    r"""Propagation by a fixed sparse operator ``S``: ``out_i = Σ_{e: dst_e = i} w_e x_{src_e}``,
    i.e. ``S X`` for ``x (N, F)``.

    Reference path: gather, weight, scatter-sum. Fused path: one CSR product ``S X`` (and ``Sᵀ G``
    backward, :func:`~tensorprism.functional.graph.spmm`), with ``S`` built once per graph and
    cached on the identity and version of ``edge_index`` (``cache=False`` rebuilds it per call).
    Edge weights that require grad take the reference path (the CSR values are constants).
    Subclasses define :meth:`operator`, the ``(edge_index, weight)`` of their ``S``.
    """

    def __init__(self, cache: bool = True):
        super().__init__("sum")
        self.cache = cache
        self._cache = PropagationCache()

    def operator(self, edge_index: Tensor, edge_weight: Tensor | None, n: int):
        """``(edge_index (2, E'), weight (E',) or None)`` of ``S``; the default is ``A`` as given."""
        return edge_index, edge_weight

    def message(self, x_j: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        return x_j if edge_weight is None else x_j * edge_weight.view(-1, *([1] * (x_j.dim() - 1)))

    def fused(self, edge_index: Tensor, size: tuple[int, int], x: Tensor,
              edge_weight: Tensor | None = None, csr: tuple[Tensor, Tensor] | None = None):
        return NotImplemented if csr is None else csr_matmul(csr, x)

    def apply_operator(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, n: int) -> Tensor:
        """``S x`` for ``x (N, F)`` → ``(N, F)``."""
        if not self.use_fused or (edge_weight is not None and edge_weight.requires_grad):
            ei, w = self.operator(edge_index, edge_weight, n)
            csr = None
        else:
            ei, w, csr = self._prepared(edge_index, edge_weight, n)
        return self.propagate(ei, x=x, edge_weight=w, csr=csr, size=(n, n))

    def _prepared(self, edge_index: Tensor, edge_weight: Tensor | None, n: int):
        def build():
            ei, w = self.operator(edge_index, edge_weight, n)
            return ei, w, csr_pair(ei, w, n)

        return self._cache.get(edge_index, edge_weight, n, build) if self.cache else build()

    def reset_cache(self) -> None:
        self._cache.clear()
