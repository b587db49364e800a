r"""Temporal graph models: the T-GCN of Zhao et al. (2019) for the book's traffic forecasting
application (book §8, lines 19392–19440, catalogue E-9 / L21, erratum E9).

The book states the task as :math:`\hat X_t = f(X_{t-1}, \dots, X_{t-n}, A)` (line 19394) but its
listing feeds one static snapshot ``randn(10, 3)`` through an untrained GCN. The T-GCN
(Zhao et al. 2019, "T-GCN: A Temporal Graph Convolutional Network for Traffic Prediction",
IEEE T-ITS 21(9)) is the model the formula asks for: a GRU whose gate and candidate transforms
are graph convolutions, unrolled over the ``n`` past snapshots, with a linear head that reads the
next snapshot(s) off the last hidden state.

Shapes: ``x (B, T, N, F)`` — batch, past time steps, nodes, features per node; the model returns
``(B, horizon, N, out_channels)``.

:func:`synthetic_traffic` makes a small *synthetic* road-traffic series (no real traffic data set
such as METR-LA or the Los-Loop/SZ-taxi sets of the paper is available offline).
A real temporal graph is the dataset ``nyc-flight-delays`` (daily delays at 40 US airports,
nearest-airport graph), trained by the recipe ``ch08-tgcn-flights``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...errors import ConfigError, ShapeError
from ...functional.graph import csr_pair, spmm
from ...functional.recurrent import _gru_gates_reset_after, _gru_update
from ...tensor.graph import check_edge_index, gcn_norm, to_undirected
from .. import register_model
from ..contract import GraphModelMixin, ring_edge_index

__all__ = ["TGCNCell", "TGCN", "TGCNConfig", "tgcn", "synthetic_traffic", "sliding_windows",
           "ring_road_edge_index"]


# --------------------------------------------------------------------------- propagation
def _check_adj(adj: Tensor, n: int) -> None:
    if adj.dim() != 2 or adj.size(0) != adj.size(1):
        raise ShapeError(
            f"the propagation matrix must be a square (N, N) tensor but has shape {tuple(adj.shape)}; "
            "pass the normalised adjacency (e.g. tensor.graph.gcn_propagation_matrix) or "
            "edge_index=... instead"
        )
    if adj.size(0) != n:
        raise ShapeError(
            f"the propagation matrix is for {adj.size(0)} nodes but x has N={n} nodes on its node "
            "axis (dim -2 of x (B, N, F), dim 2 of x (B, T, N, F)); build the adjacency of the same "
            "graph the features belong to"
        )


def _propagate(a: Tensor | tuple[Tensor, Tensor], h: Tensor) -> Tensor:
    r"""``Â H`` over the node axis of ``h (B, N, C)``; ``a`` is a dense or sparse ``(N, N)`` matrix,
    or a CSR pair ``(Â, Âᵀ)`` from :func:`~tensorprism.functional.graph.csr_pair`."""
    if isinstance(a, tuple) or a.layout != torch.strided:
        b, n, c = h.shape
        flat = h.transpose(0, 1).reshape(n, b * c)  # (N, B·C): one sparse product for the batch
        out = spmm(a[0], a[1], flat) if isinstance(a, tuple) else torch.sparse.mm(a, flat)
        return out.reshape(n, b, c).transpose(0, 1)
    return torch.matmul(a, h)


def _graph_operator(num_nodes: int, adj: Tensor | None, edge_index: Tensor | None,
                    edge_weight: Tensor | None):
    """The propagation matrix from either a ready ``adj`` or ``edge_index`` (normalised here)."""
    if (adj is None) == (edge_index is None):
        raise ConfigError(
            "give exactly one of adj (the normalised (N, N) propagation matrix Â, dense or sparse) "
            "and edge_index (2, E) (normalised here as D̃^{-1/2}(A + I)D̃^{-1/2})"
        )
    if adj is not None:
        _check_adj(adj, num_nodes)
        return adj
    check_edge_index(edge_index, num_nodes)
    ei, w = gcn_norm(edge_index, edge_weight, num_nodes, "sym", self_loops=True)
    return csr_pair(ei, w, num_nodes)


# --------------------------------------------------------------------------- the cell
class TGCNCell(nn.Module):
    r"""One T-GCN step: a GRU whose transforms are graph convolutions (Zhao et al. 2019, eqs. 3–6).

    With the graph convolution :math:`f(\hat A, [X_t, h_{t-1}]) = \hat A\,[X_t, h_{t-1}]\,W + b`
    and :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}` (Kipf & Welling 2017),

    .. math::
        r_t &= \sigma\big(\hat A X_t W_{xr} + b_{xr} + \hat A h_{t-1} W_{hr} + b_{hr}\big) \\
        u_t &= \sigma\big(\hat A X_t W_{xu} + b_{xu} + \hat A h_{t-1} W_{hu} + b_{hu}\big) \\
        c_t &= \tanh\big(\hat A X_t W_{xc} + b_{xc} + \hat A (r_t \odot h_{t-1}) W_{hc} + b_{hc}\big) \\
        h_t &= u_t \odot h_{t-1} + (1 - u_t) \odot c_t

    :math:`[X_t, h_{t-1}] W` is split into :math:`X_t W_x + h_{t-1} W_h` (the same function, the
    weight rows of :math:`W` split by input), so the weights use ``torch.nn.GRUCell``'s layout:
    ``weight_ih (3H, F)``, ``weight_hh (3H, H)``, ``bias_ih``, ``bias_hh (3H,)``, rows stacked
    (r, u, c) = PyTorch's (r, z, n). :math:`u_t` keeps the previous state, as in the paper's
    eq. 6 and PyTorch. The paper prints the graph convolution on :math:`X_t` only; the authors'
    code (and this cell) convolves the concatenation, i.e. the state too.

    ``reset_after=False`` (default) is the paper's candidate (reset before the graph convolution,
    as in Cho et al. 2014). ``reset_after=True`` moves the reset outside,
    :math:`r_t \odot (\hat A h_{t-1} W_{hc} + b_{hc})`, PyTorch's GRU convention: with
    :math:`\hat A = I` the cell is then exactly ``torch.nn.GRUCell`` applied to every node.

    ``forward(x (B, N, F), h (B, N, H) | None, adj | edge_index) -> h_t (B, N, H)``; ``adj`` is the
    normalised propagation matrix (dense or sparse ``(N, N)``), or pass ``edge_index (2, E)``
    (and ``edge_weight``) to have it built with self-loops and symmetric normalisation.
    """

    def __init__(self, in_channels: int, hidden: int, bias: bool = True, reset_after: bool = False):
        super().__init__()
        if in_channels < 1 or hidden < 1:
            raise ConfigError(f"in_channels and hidden must be >= 1, got {in_channels} and {hidden}")
        self.in_channels, self.hidden, self.reset_after = in_channels, hidden, reset_after
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden, in_channels))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden, hidden))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``U(-1/√H, 1/√H)`` for every weight and bias, as ``torch.nn.GRUCell``."""
        bound = 1.0 / math.sqrt(self.hidden)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _gconv(self, a, h: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        out = _propagate(a, h @ w.t())  # Â (H W) = (Â H) W; the narrower side is propagated
        return out if b is None else out + b

    def step(self, x: Tensor, h: Tensor, a) -> Tensor:
        """One step with a prepared propagation operator ``a`` (no checks; see :meth:`forward`)."""
        gx = self._gconv(a, x, self.weight_ih, self.bias_ih)  # (B, N, 3H)
        if self.reset_after:
            gh = self._gconv(a, h, self.weight_hh, self.bias_hh)
            return _gru_gates_reset_after(gx, gh, h, z_keeps_previous=True)
        H = self.hidden
        b_hh = (None, None) if self.bias_hh is None else (self.bias_hh[: 2 * H], self.bias_hh[2 * H:])
        gh = self._gconv(a, h, self.weight_hh[: 2 * H], b_hh[0])  # (B, N, 2H): r, u
        x_r, x_u, x_c = gx.chunk(3, dim=-1)
        h_r, h_u = gh.chunk(2, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        u = torch.sigmoid(x_u + h_u)
        c = torch.tanh(x_c + self._gconv(a, r * h, self.weight_hh[2 * H:], b_hh[1]))
        return _gru_update(h, u, c, z_keeps_previous=True)

    def forward(self, x: Tensor, h: Tensor | None = None, adj: Tensor | None = None, *,
                edge_index: Tensor | None = None, edge_weight: Tensor | None = None) -> Tensor:
        if x.dim() != 3 or x.size(-1) != self.in_channels:
            raise ShapeError(
                f"TGCNCell expects one snapshot x (B, N, F={self.in_channels}), got "
                f"{tuple(x.shape)}; add a batch axis with x.unsqueeze(0), or use TGCN for (B, T, N, F)"
            )
        B, N, _ = x.shape
        if h is None:
            h = x.new_zeros(B, N, self.hidden)
        elif h.shape != (B, N, self.hidden):
            raise ShapeError(f"hidden state must have shape (B, N, H) = {(B, N, self.hidden)}, "
                             f"got {tuple(h.shape)}")
        return self.step(x, h, _graph_operator(N, adj, edge_index, edge_weight))


# --------------------------------------------------------------------------- the model
@dataclass
class TGCNConfig:
    in_channels: int = 1  # features per node and time step (traffic speed or flow)
    hidden: int = 64  # the paper's best setting on SZ-taxi was 100, Los-loop 64
    horizon: int = 1  # future steps predicted
    out_channels: int | None = None  # features predicted per node and step (None: in_channels)
    reset_after: bool = False


class TGCN(GraphModelMixin, nn.Module):
    r"""T-GCN forecaster :math:`\hat X_{t+1..t+K} = g\big(h_t\big)`, with :math:`h_t` the state of a
    :class:`TGCNCell` unrolled over the ``T`` past snapshots :math:`X_{t-T+1}, \dots, X_t`
    (:math:`h_0 = 0`) and :math:`g` a linear head per node,
    :math:`\hat X_{t+k}[i] = W_k h_t[i] + b_k` for ``k = 1..horizon`` (Zhao et al. 2019, Fig. 4).

    ``forward(x (B, T, N, F), adj=None, *, edge_index=None, edge_weight=None)``
    → ``(B, horizon, N, out_channels)``. Give either the normalised propagation matrix ``adj``
    (dense or sparse ``(N, N)``; for example
    :func:`~tensorprism.tensor.graph.gcn_propagation_matrix`) or ``edge_index (2, E)``, from which
    :math:`\tilde D^{-1/2}(A + I)\tilde D^{-1/2}` is built once per call.
    """

    level = "temporal"
    example_steps = 4

    def __init__(self, cfg: TGCNConfig):
        super().__init__()
        if cfg.horizon < 1:
            raise ConfigError(f"horizon must be >= 1, got {cfg.horizon}")
        self.cfg = cfg
        self.in_channels = cfg.in_channels
        self.out_channels = cfg.out_channels or cfg.in_channels
        self.cell = TGCNCell(cfg.in_channels, cfg.hidden, reset_after=cfg.reset_after)
        self.head = nn.Linear(cfg.hidden, cfg.horizon * self.out_channels)

    def encode(self, x: Tensor, adj: Tensor | None = None, *, edge_index: Tensor | None = None,
               edge_weight: Tensor | None = None) -> Tensor:
        """The last hidden state ``h_T (B, N, H)``."""
        if x.dim() != 4 or x.size(-1) != self.cfg.in_channels:
            raise ShapeError(
                f"TGCN expects x (B, T, N, F={self.cfg.in_channels}) — batch, past time steps, "
                f"nodes, features — got {tuple(x.shape)}; a single series (T, N, F) needs "
                "x.unsqueeze(0), and one snapshot (N, F) is not enough: the model reads T past steps"
            )
        B, T, N, _ = x.shape
        a = _graph_operator(N, adj, edge_index, edge_weight)
        h = x.new_zeros(B, N, self.cfg.hidden)
        for t in range(T):
            h = self.cell.step(x[:, t], h, a)
        return h

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        """``x (B, 4, n, F)`` and the dense propagation matrix of an n-node ring, ``(A + I) / 3``."""
        n, dev = self.example_nodes, self._example_device()
        ring = ring_edge_index(n, dev)
        adj = torch.eye(n, device=dev).index_put_((ring[0], ring[1]), torch.ones(ring.shape[1], device=dev)) / 3
        return torch.randn(batch_size, self.example_steps, n, self.in_channels, device=dev), adj

    def forward(self, x: Tensor, adj: Tensor | None = None, *, edge_index: Tensor | None = None,
                edge_weight: Tensor | None = None) -> Tensor:
        h = self.encode(x, adj, edge_index=edge_index, edge_weight=edge_weight)
        B, N, _ = h.shape
        y = self.head(h).reshape(B, N, self.cfg.horizon, self.out_channels)
        return y.permute(0, 2, 1, 3)


@register_model("tgcn", config=TGCNConfig, family="gnn")
def tgcn(cfg: TGCNConfig) -> nn.Module:
    """T-GCN traffic forecaster (Zhao et al. 2019; the temporal model of book eq. 19394, E9)."""
    return TGCN(cfg)


# --------------------------------------------------------------------------- synthetic data
def ring_road_edge_index(num_nodes: int) -> Tensor:
    """Undirected ring road ``0 - 1 - ... - (N-1) - 0`` as a coalesced ``(2, 2N)`` edge index."""
    if num_nodes < 3:
        raise ConfigError(f"a ring road needs at least 3 nodes, got {num_nodes}")
    i = torch.arange(num_nodes)
    return to_undirected(torch.stack([i, (i + 1) % num_nodes]), num_nodes=num_nodes)[0]


def synthetic_traffic(num_nodes: int = 12, num_steps: int = 600, period: int = 48,
                      diffusion: float = 0.6, advection: float = 0.2, decay: float = 0.9,
                      noise: float = 1.0, amplitude: float = 1.0,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    r"""A **synthetic** traffic series on a ring road; no real traffic data exists offline.

    Flow at node :math:`i` and step :math:`t` is a daily profile plus a congestion anomaly that
    spreads along the road:

    .. math::
        X_t[i] &= a_i \sin(2\pi t / P + \varphi_i) + Y_t[i] \\
        Y_{t+1} &= \rho\, M\, Y_t + \sigma\,\varepsilon_t, \qquad \varepsilon_t \sim \mathcal N(0, I) \\
        M &= (1 - d - v)\, I + d\, D^{-1} A + v\, S

    :math:`P` is the day length in steps (``period``), :math:`D^{-1}A` averages the two ring
    neighbours (diffusion, weight :math:`d`), :math:`S` moves the anomaly one node downstream,
    ``S[i, i-1] = 1`` (advection, weight :math:`v`), :math:`\rho` is the decay. :math:`M` is
    row-stochastic, so the process is stable for :math:`\rho < 1`. A node's own past predicts its
    daily profile and its own anomaly, but the fresh innovations of its neighbours reach it only
    through the graph — which is what a graph-temporal model can exploit and a per-node model
    cannot.

    Returns ``(series (num_steps, N, 1), edge_index (2, 2N))``.
    """
    if not 0 <= diffusion + advection <= 1 or diffusion < 0 or advection < 0:
        raise ConfigError(f"need diffusion, advection >= 0 with sum <= 1, got {diffusion}, {advection}")
    g = generator
    n = num_nodes
    ei = ring_road_edge_index(n)
    i = torch.arange(n)
    m = (1 - diffusion - advection) * torch.eye(n)
    m[i, (i + 1) % n] += diffusion / 2
    m[i, (i - 1) % n] += diffusion / 2
    m[i, (i - 1) % n] += advection
    amp = amplitude * (0.5 + torch.rand(n, generator=g))
    phase = 0.5 * torch.randn(n, generator=g)
    t = torch.arange(num_steps, dtype=torch.float32)
    profile = amp * torch.sin(2 * math.pi * t[:, None] / period + phase)  # (T, N)
    y = torch.zeros(num_steps, n)
    eps = noise * torch.randn(num_steps, n, generator=g)
    for k in range(1, num_steps):
        y[k] = decay * (m @ y[k - 1]) + eps[k]
    return (profile + y).unsqueeze(-1), ei


def sliding_windows(series: Tensor, n_past: int, horizon: int = 1) -> tuple[Tensor, Tensor]:
    """Supervised pairs from a series ``(T, N, F)``: inputs ``(S, n_past, N, F)`` and targets
    ``(S, horizon, N, F)``, ``S = T - n_past - horizon + 1`` (window ``s`` predicts the ``horizon``
    steps right after its ``n_past`` inputs)."""
    if series.dim() != 3:
        raise ShapeError(f"series must be (T, N, F), got {tuple(series.shape)}")
    T = series.size(0)
    s = T - n_past - horizon + 1
    if n_past < 1 or horizon < 1 or s < 1:
        raise ConfigError(f"series of {T} steps is too short for n_past={n_past}, horizon={horizon}")
    win = series.unfold(0, n_past + horizon, 1).permute(0, 3, 1, 2)  # (S, n+h, N, F)
    return win[:, :n_past], win[:, n_past:]
