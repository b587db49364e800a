"""T-GCN (Zhao et al. 2019) for the book's traffic forecasting application (book lines
19392-19440, catalogue E-9 / L21, erratum E9): GRUCell parity with self-loops only, the
concatenated graph-convolution form, shapes, node-permutation equivariance, use of the n past
snapshots, and a short training run on synthetic diffusion/advection traffic."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.recurrent import gru_cell
from tensorprism.models import create_model
from tensorprism.models.gnn.temporal import (
    TGCN,
    TGCNCell,
    TGCNConfig,
    ring_road_edge_index,
    sliding_windows,
    synthetic_traffic,
)
from tensorprism.nn.graph import GCNConv
from tensorprism.tensor.graph import (
    dense_to_edge_index,
    gcn_propagation_matrix,
    normalize_adjacency_dense,
)

PATH10 = torch.diag(torch.ones(9), 1) + torch.diag(torch.ones(9), -1)  # the book's 10-node road


def _ring_a_hat(n: int) -> torch.Tensor:
    return gcn_propagation_matrix(ring_road_edge_index(n), n, layout="dense")


@pytest.mark.parametrize("bias", [True, False])
def test_identity_graph_cell_is_per_node_torch_gru_cell(bias):
    """Â = I (self-loops, no edges): the reset-after cell is nn.GRUCell on every node with the
    same (r, z, n)-stacked weights; the paper's reset-before cell is the GRU of Cho et al."""
    torch.manual_seed(0)
    B, N, Fin, H = 3, 5, 4, 6
    ref = nn.GRUCell(Fin, H, bias=bias)
    cell = TGCNCell(Fin, H, bias=bias, reset_after=True)
    cell.load_state_dict(ref.state_dict())
    x, h = torch.randn(B, N, Fin), torch.randn(B, N, H)
    eye = torch.eye(N)
    want = ref(x.reshape(B * N, Fin), h.reshape(B * N, H)).reshape(B, N, H)
    torch.testing.assert_close(cell(x, h, eye), want)
    # no edges through edge_index: gcn_norm adds the loops, Â = I again (sparse path)
    empty = torch.zeros(2, 0, dtype=torch.long)
    torch.testing.assert_close(cell(x, h, edge_index=empty), want)

    before = TGCNCell(Fin, H, bias=bias)
    before.load_state_dict(ref.state_dict())
    b_ih, b_hh = (ref.bias_ih, ref.bias_hh) if bias else (None, None)
    want_before = gru_cell(x.reshape(B * N, Fin), h.reshape(B * N, H), ref.weight_ih, ref.weight_hh,
                           b_ih, b_hh, reset_after=False, z_keeps_previous=True).reshape(B, N, H)
    torch.testing.assert_close(before(x, h, eye), want_before)
    assert not torch.allclose(before(x, h, eye), want)  # the two candidates are different functions


def test_cell_is_graph_convolution_of_the_concatenation():
    """f(Â, [X, h]) = Â [X, h] W + b written out densely on the book's path graph, both for the
    gates and the candidate (reset before); dense, sparse and edge_index inputs agree."""
    torch.manual_seed(1)
    B, N, Fin, H = 2, 10, 3, 4
    cell = TGCNCell(Fin, H)
    a = normalize_adjacency_dense(PATH10, "sym", self_loops=True)
    x, h = torch.randn(B, N, Fin), torch.randn(B, N, H)
    w = torch.cat([cell.weight_ih, cell.weight_hh], dim=1)  # (3H, F + H): W of [X, h]
    b = cell.bias_ih + cell.bias_hh
    w_r, w_u, w_c = w.chunk(3)
    b_r, b_u, b_c = b.chunk(3)
    xh = torch.cat([x, h], -1)
    r = torch.sigmoid(a @ xh @ w_r.t() + b_r)
    u = torch.sigmoid(a @ xh @ w_u.t() + b_u)
    c = torch.tanh(a @ torch.cat([x, r * h], -1) @ w_c.t() + b_c)
    want = u * h + (1 - u) * c
    torch.testing.assert_close(cell(x, h, a), want)
    ei, _ = dense_to_edge_index(PATH10)
    torch.testing.assert_close(cell(x, h, edge_index=ei), want)
    torch.testing.assert_close(cell(x, h, gcn_propagation_matrix(ei, N)), want)
    torch.testing.assert_close(cell(x, h, gcn_propagation_matrix(ei, N, layout="coo")), want)


@pytest.mark.parametrize("horizon,out_channels", [(1, None), (3, 2)])
def test_shapes_batch_time_nodes(horizon, out_channels):
    torch.manual_seed(0)
    model = create_model("tgcn", in_channels=3, hidden=8, horizon=horizon, out_channels=out_channels)
    assert model.prism_spec["name"] == "tgcn"
    B, T, N = 4, 7, 10
    x = torch.randn(B, T, N, 3)
    ei, _ = dense_to_edge_index(PATH10)
    y = model(x, edge_index=ei)
    assert y.shape == (B, horizon, N, out_channels or 3)
    assert model.encode(x, edge_index=ei).shape == (B, N, 8)
    # the batch is independent: sample 2 alone gives its row of the batched output
    torch.testing.assert_close(model(x[2:3], edge_index=ei), y[2:3])
    y.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_bad_inputs_raise_clear_errors():
    model = TGCN(TGCNConfig(in_channels=3, hidden=4))
    a = torch.eye(10)
    with pytest.raises(ShapeError, match=r"\(B, T, N, F=3\)"):
        model(torch.randn(10, 3), a)  # one static snapshot, as the book's listing
    with pytest.raises(ShapeError, match="F=3"):
        model(torch.randn(2, 5, 10, 4), a)
    with pytest.raises(ShapeError, match="8 nodes but x has N=10"):
        model(torch.randn(2, 5, 10, 3), torch.eye(8))
    with pytest.raises(ShapeError, match="square"):
        model(torch.randn(2, 5, 10, 3), torch.ones(10, 3))
    with pytest.raises(ShapeError, match="num_nodes"):
        model(torch.randn(2, 5, 10, 3), edge_index=torch.tensor([[0, 12], [12, 0]]))
    with pytest.raises(ConfigError, match="exactly one"):
        model(torch.randn(2, 5, 10, 3))
    with pytest.raises(ConfigError, match="exactly one"):
        model(torch.randn(2, 5, 10, 3), a, edge_index=torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ShapeError, match="hidden state"):
        model.cell(torch.randn(2, 10, 3), torch.randn(2, 9, 4), a)
    with pytest.raises(ConfigError):
        TGCN(TGCNConfig(horizon=0))


@pytest.mark.parametrize("reset_after", [False, True])
def test_node_permutation_equivariance(reset_after):
    """f(P x, P Â Pᵀ) = P f(x, Â) for any relabelling P of the nodes."""
    torch.manual_seed(2)
    N = 9
    adj = (torch.rand(N, N) < 0.35).float()
    adj = ((adj + adj.t()) > 0).float().fill_diagonal_(0)
    a = normalize_adjacency_dense(adj, "sym", self_loops=True)
    model = create_model("tgcn", in_channels=2, hidden=5, horizon=2, reset_after=reset_after)
    x = torch.randn(3, 6, N, 2)
    perm = torch.randperm(N)
    y = model(x, a)
    y_perm = model(x[:, :, perm], a[perm][:, perm])
    torch.testing.assert_close(y_perm, y[:, :, perm])
    ei, _ = dense_to_edge_index(adj[perm][:, perm])
    torch.testing.assert_close(model(x[:, :, perm], edge_index=ei), y[:, :, perm])


def test_erratum_e9_forecast_uses_the_past_n_snapshots():
    """E9 (book 19394 vs 19400-19440): X̂_t = f(X_{t-1}, ..., X_{t-n}, A) needs the n past
    snapshots; the book's TrafficGCN (3 -> 4 -> 3 on one snapshot) cannot see any but the last.
    The T-GCN's forecast moves when the *earliest* snapshot moves, and the change spreads along
    the road one hop per step (reset-after: exactly T hops after T steps)."""
    torch.manual_seed(3)
    T, N = 3, 10
    a = normalize_adjacency_dense(PATH10, "sym", self_loops=True)
    x = torch.randn(1, T, N, 3)
    x2 = x.clone()
    x2[0, 0, 0] += 1.0  # the oldest snapshot X_{t-n}, at node 0 only

    book = nn.ModuleList([GCNConv(3, 4), GCNConv(4, 3)])  # listing L21
    ei, _ = dense_to_edge_index(PATH10)
    static = book[1](F.relu(book[0](x[0, -1], ei)), ei)  # the book: only the last snapshot
    static2 = book[1](F.relu(book[0](x2[0, -1], ei)), ei)
    torch.testing.assert_close(static, static2)  # blind to X_{t-n}

    for reset_after, reach in ((True, T), (False, 2 * T - 1)):
        model = create_model("tgcn", in_channels=3, hidden=8, out_channels=3, reset_after=reset_after)
        changed = (model(x, a) - model(x2, a)).abs()[0, 0].amax(-1)  # (N,)
        assert (changed[: T + 1] > 1e-6).all()  # reaches at least T hops (1 per step)
        assert (changed[reach + 1:] == 0).all()  # and no farther than the receptive field
    with pytest.raises(ShapeError):
        model(x[0, -1], a)  # a single snapshot is rejected with a hint


def test_synthetic_traffic_and_windows():
    g = torch.Generator().manual_seed(0)
    series, ei = synthetic_traffic(num_nodes=6, num_steps=100, period=24, generator=g)
    assert series.shape == (100, 6, 1) and ei.shape == (2, 12)
    assert torch.isfinite(series).all()
    X, Y = sliding_windows(series, 5, 2)
    assert X.shape == (94, 5, 6, 1) and Y.shape == (94, 2, 6, 1)
    torch.testing.assert_close(X[10], series[10:15])
    torch.testing.assert_close(Y[10], series[15:17])
    with pytest.raises(ConfigError):
        sliding_windows(series, 99, 2)
    with pytest.raises(ConfigError):
        synthetic_traffic(diffusion=0.9, advection=0.3)


def _fit(series, a_hat, seed, n_past=8, hidden=16, epochs=60, n_train=380):
    X, Y = sliding_windows(series, n_past, 1)
    torch.manual_seed(seed)
    model = create_model("tgcn", hidden=hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for b in torch.randperm(n_train, generator=g).split(64):
            opt.zero_grad()
            F.mse_loss(model(X[b], a_hat), Y[b]).backward()
            opt.step()
    with torch.no_grad():
        return F.mse_loss(model(X[n_train:], a_hat), Y[n_train:]).item()


def test_tgcn_beats_per_node_gru_on_synthetic_diffusion_traffic():
    """Synthetic ring-road traffic (daily profile + anomaly that diffuses and advects, innovation
    variance 1): the next value of a node depends on its neighbours' fresh innovations, which only
    the graph carries. The same model with Â = I is a per-node GRU of identical size."""
    torch.set_num_threads(1)
    series, ei = synthetic_traffic(num_nodes=12, num_steps=500, generator=torch.Generator().manual_seed(0))
    n = series.size(1)
    mse_graph = _fit(series, gcn_propagation_matrix(ei, n, layout="dense"), seed=0)
    mse_nodes = _fit(series, torch.eye(n), seed=0)
    assert mse_graph < 1.25  # near the noise floor of 1.0
    assert mse_graph < 0.85 * mse_nodes, (mse_graph, mse_nodes)
